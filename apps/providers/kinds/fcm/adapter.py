"""Firebase Cloud Messaging HTTP v1: `POST {base}/v1/projects/{project}/messages:send`, one
request per device token, for Android and web (and iOS tokens registered through FCM).

Credentials: a service account — either its JSON as `service_account` (string or dict) or
its fields directly: `client_email`, `private_key` (PEM), `token_uri`, `project_id`.
Settings: `project_id` (overrides the service account's), `timeout_s`.

Authorization is an OAuth2 access token from the JWT-bearer grant: an RS256 JWT signed with
the service account key is posted to `token_uri`; the token is cached per service account
until a minute before it expires, and dropped (and fetched once more) on a 401.

The request body per device platform (Android, iOS, web) and every option's place in it:
payload.py.

Answer → SendResult:
- 200 `{"name": "projects/…/messages/…"}` → ACCEPTED, provider_message_id = name.
- 404 UNREGISTERED → PERMANENT with unregistered=True (the app instance is gone: the engine
  deactivates the device). Nothing else is "unregistered".
- 400 INVALID_ARGUMENT (a bad token — an APNs device token or a Web Push endpoint sent to
  FCM too — or payload), 403 SENDER_ID_MISMATCH / PERMISSION_DENIED for the token →
  PERMANENT with FCM's message and errorCode.
- 429 QUOTA_EXCEEDED, 500 INTERNAL, 503 UNAVAILABLE, other 5xx, timeout, connection error
  → RETRYABLE.
- 401 UNAUTHENTICATED after a fresh token, or a token endpoint that refuses the service
  account → RETRYABLE: the credentials are wrong, not the device token, so another
  provider may deliver it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from apps.providers.adapters.base import (
    Adapter,
    ProviderRequest,
    PushMessage,
    SendResult,
    SendStatus,
    post_each_or_retryable,
    request_timeout,
)
from apps.providers.http import http_client
from apps.providers.kinds.fcm.payload import fcm_message

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
PERMANENT_CODES = {"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH", "PERMISSION_DENIED"}

# (client_email, token_uri) → (access token, monotonic expiry); shared by every adapter
# instance in the process, since adapters are built per batch.
_token_cache: dict[tuple[str, str], tuple[str, float]] = {}
_token_lock = threading.Lock()


class TokenError(Exception):
    pass


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _service_account(credentials: dict[str, Any]) -> dict[str, Any]:
    account = credentials.get("service_account")
    if isinstance(account, str) and account.strip():
        account = json.loads(account)
    merged = dict(account or {})
    for key in ("client_email", "private_key", "token_uri", "project_id"):
        if credentials.get(key):
            merged[key] = credentials[key]
    return merged


def signed_assertion(account: dict[str, Any], *, now: float | None = None) -> str:
    """The RS256 JWT Google's token endpoint exchanges for an access token."""
    now = int(now if now is not None else time.time())
    token_uri = account.get("token_uri") or GOOGLE_TOKEN_URI
    header = {"alg": "RS256", "typ": "JWT"}
    if account.get("private_key_id"):
        header["kid"] = account["private_key_id"]
    claims = {
        "iss": account["client_email"],
        "scope": FCM_SCOPE,
        "aud": token_uri,
        "iat": now,
        "exp": now + 3600,
    }
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    key = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


class FcmAdapter(Adapter):
    kind = "fcm"
    channel = "push"

    def send(self, messages: list[PushMessage]) -> list[SendResult]:
        """FCM v1 takes one message per request: a batch's requests go out together over the
        shared pool (post_each_or_retryable), one access token for all; requests refused with
        401 (a token revoked mid-batch) are sent once more with a fresh token."""
        if not messages:
            return []
        try:
            token = self.access_token()
        except TokenError as exc:
            return [SendResult(m.token, SendStatus.RETRYABLE, error=str(exc)) for m in messages]
        bodies = [self._body(message) for message in messages]
        answers: list = list(bodies)
        self._post_all(messages, bodies, answers, range(len(messages)), token)
        unauthorised = [
            i
            for i, answer in enumerate(answers)
            if not isinstance(answer, SendResult) and answer.status_code == 401
        ]
        if unauthorised:
            self.forget_token()
            try:
                token = self.access_token()
            except TokenError:
                pass  # keep the 401 answers: retryable below
            else:
                self._post_all(messages, bodies, answers, unauthorised, token)
        return [
            answer if isinstance(answer, SendResult) else self._result(message, answer)
            for message, answer in zip(messages, answers, strict=True)
        ]

    def _body(self, message: PushMessage) -> dict | SendResult:
        try:
            return self.payload(message)
        except (TypeError, ValueError) as exc:  # e.g. a badge or ttl that is not a number
            return SendResult(
                message.token, SendStatus.PERMANENT, error=f"cannot build the push: {exc}"
            )

    def _post_all(self, messages, bodies, answers, indices, token: str) -> None:
        """Send the built bodies at `indices`; each answer replaces its place in `answers`."""
        indices = [i for i in indices if not isinstance(bodies[i], SendResult)]
        url = f"{self.config.base_url.rstrip('/')}/v1/projects/{self._project_id()}/messages:send"
        headers = {"Authorization": f"Bearer {token}"}
        sent = post_each_or_retryable(
            [
                ProviderRequest(messages[i].token, url, {"json": bodies[i], "headers": headers})
                for i in indices
            ],
            settings=self.config.settings,
        )
        for i, answer in zip(indices, sent, strict=True):
            answers[i] = answer

    # -- auth ---------------------------------------------------------------------------
    def _timeout_kwargs(self) -> dict:
        timeout = request_timeout(self.config.settings)
        return {"timeout": timeout} if timeout else {}

    def _cache_key(self) -> tuple[str, str]:
        account = _service_account(self.config.credentials)
        return (account.get("client_email", ""), account.get("token_uri") or GOOGLE_TOKEN_URI)

    def access_token(self) -> str:
        key = self._cache_key()
        with _token_lock:
            cached = _token_cache.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        account = _service_account(self.config.credentials)
        try:
            assertion = signed_assertion(account)
        except (KeyError, ValueError, TypeError) as exc:
            raise TokenError(f"service account cannot sign a token request: {exc!r}") from exc
        try:
            response = http_client().post(
                key[1],
                data={"grant_type": JWT_BEARER, "assertion": assertion},
                **self._timeout_kwargs(),
            )
        except httpx.HTTPError as exc:
            raise TokenError(f"token endpoint unreachable: {exc!r}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not answer.get("access_token"):
            text = answer.get("error_description") or answer.get("error") or response.text[:300]
            raise TokenError(f"token endpoint refused ({response.status_code}): {text}")
        # Renew a minute early so a token never expires mid-request.
        expires_at = time.monotonic() + max(int(answer.get("expires_in", 3600)) - 60, 0)
        with _token_lock:
            _token_cache[key] = (answer["access_token"], expires_at)
        return answer["access_token"]

    def forget_token(self) -> None:
        with _token_lock:
            _token_cache.pop(self._cache_key(), None)

    # -- sending ------------------------------------------------------------------------
    def _project_id(self) -> str:
        return str(
            self.config.settings.get("project_id")
            or _service_account(self.config.credentials).get("project_id", "")
        )

    def payload(self, message: PushMessage) -> dict:
        """The messages:send body for one device (the shape per platform: payload.py)."""
        return fcm_message(message)

    def _result(self, message: PushMessage, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status == 200 and answer.get("name"):
            return SendResult(
                message.token,
                SendStatus.ACCEPTED,
                provider_message_id=answer["name"],
                http_status=status,
            )
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        codes = [
            detail.get("errorCode", "")
            for detail in error.get("details", [])
            if isinstance(detail, dict) and detail.get("errorCode")
        ]
        error_code = codes[0] if codes else str(error.get("status", ""))
        text = error.get("message") or response.text[:500] or response.reason_phrase
        if error_code:
            text = f"{error_code}: {text}"
        retryable = status in (401, 429) or status >= 500
        if not retryable and not (error_code in PERMANENT_CODES or 400 <= status < 500):
            retryable = True
        return SendResult(
            message.token,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=text,
            http_status=status,
            # Only FCM's own word that the app instance is gone. A token of another service
            # (an APNs token on an FCM route) is INVALID_ARGUMENT: a misrouted send must not
            # deactivate the device.
            unregistered=not retryable and error_code == "UNREGISTERED",
        )
