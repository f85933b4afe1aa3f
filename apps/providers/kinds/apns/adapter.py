"""Apple Push Notification service with token (.p8) auth: `POST {base}/3/device/{token}`,
one request per device token.

Credentials: `key_id`, `team_id`, `private_key` (the .p8 PEM). Settings: `topic` (the app's
bundle id), `timeout_s`. Base URL: https://api.push.apple.com (or api.sandbox.push.apple.com
for development builds) — or the local sandbox.

Authorization is `bearer <ES256 JWT>` (`kid` = key id, `iss` = team id, `iat`), cached per
key for 50 minutes (Apple refuses tokens older than an hour and throttles ones renewed more
often than every 20 minutes); an ExpiredProviderToken answer renews it once.

The payload and the apns-* headers for every option: payload.py. apns-topic is the
`topic` setting; apns-id is the message's idempotency key as a UUID.

A batch goes out concurrently. Real APNs speaks HTTP/2 only, so to an https base URL the
requests go through `http2_client()` (HTTP/2 negotiated by ALPN) from a small thread pool,
as concurrent streams of its pooled connection; to the plain-HTTP sandbox they go over the
shared aiohttp pool (`post_each_or_retryable`), all in flight together.

Answer → SendResult:
- 200 → ACCEPTED, provider_message_id = the `apns-id` header.
- 410 (Unregistered, ExpiredToken) and 400 BadDeviceToken → PERMANENT with
  unregistered=True: the engine deactivates the device.
- 400 DeviceTokenNotForTopic and any other 400 (a request APNs will never take:
  MissingTopic, BadPriority, PayloadEmpty…), 413 PayloadTooLarge → PERMANENT with the
  `reason`, the device kept.
- 403 (Missing/Invalid/ExpiredProviderToken, BadCertificate…) → RETRYABLE: the credentials
  are wrong, not the device, so another provider or a fixed key can still deliver it.
- 429 TooManyRequests, 500 InternalServerError, 503 ServiceUnavailable/Shutdown, timeout,
  connection error → RETRYABLE.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from apps.providers.adapters.base import (
    Adapter,
    ProviderRequest,
    PushMessage,
    SendResult,
    SendStatus,
    post_each_or_retryable,
    post_or_retryable,
)
from apps.providers.http import http2_client, provider_http_concurrency
from apps.providers.kinds.apns.payload import apns_headers, apns_payload

TOKEN_LIFETIME_S = 50 * 60
HERALD_NAMESPACE = uuid.UUID("6f1c2a52-7d1e-4b8e-9a55-3c1d8e0b4a11")

# (team_id, key_id) → (JWT, monotonic expiry); shared by every adapter instance.
_jwt_cache: dict[tuple[str, str], tuple[str, float]] = {}
_jwt_lock = threading.Lock()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def provider_token(*, key_id: str, team_id: str, private_key: str, now: float | None = None) -> str:
    """The ES256 JWT APNs accepts as `authorization: bearer …`."""
    header = {"alg": "ES256", "kid": key_id}
    claims = {"iss": team_id, "iat": int(now if now is not None else time.time())}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    key = serialization.load_pem_private_key(private_key.encode(), password=None)
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)  # a JWT carries r‖s, not DER
    return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def apns_id_for(idempotency_key: str) -> str:
    """The idempotency key as a UUID: itself when it is one, else a stable UUIDv5 of it."""
    try:
        return str(uuid.UUID(idempotency_key)).upper()
    except ValueError:
        return str(uuid.uuid5(HERALD_NAMESPACE, idempotency_key)).upper()


class ApnsAdapter(Adapter):
    kind = "apns"
    channel = "push"

    def send(self, messages: list[PushMessage]) -> list[SendResult]:
        """Every message of the batch in flight at once; the ones Apple refuses with
        ExpiredProviderToken go once more with a freshly signed token."""
        if not messages:
            return []
        try:
            token = self.jwt()
        except (KeyError, ValueError, TypeError) as exc:
            error = f"cannot sign a token: {exc!r}"
            return [SendResult(m.token, SendStatus.RETRYABLE, error=error) for m in messages]
        answers: list = [self._request(message) for message in messages]
        to_send = [i for i, answer in enumerate(answers) if isinstance(answer, ProviderRequest)]
        self._post_all(answers, to_send, token)
        expired = [
            i
            for i in to_send
            if not isinstance(answers[i], SendResult)
            and answers[i].status_code == 403
            and _reason(answers[i]) == "ExpiredProviderToken"
        ]
        if expired:
            self.forget_jwt()
            try:
                token = self.jwt()
            except (KeyError, ValueError, TypeError):
                pass  # keep the 403 answers: retryable below
            else:
                for i in expired:
                    answers[i] = self._request(messages[i])
                self._post_all(answers, expired, token)
        return [
            answer if isinstance(answer, SendResult) else self._result(message, answer)
            for message, answer in zip(messages, answers, strict=True)
        ]

    def _request(self, message: PushMessage) -> ProviderRequest | SendResult:
        """The request for one device, without its authorization yet."""
        try:
            body = json.dumps(self.payload(message), ensure_ascii=False).encode()
            headers = {**self.headers(message), "content-type": "application/json"}
        except (TypeError, ValueError) as exc:  # e.g. a badge or ttl that is not a number
            return SendResult(
                message.token, SendStatus.PERMANENT, error=f"cannot build the push: {exc}"
            )
        url = f"{self.config.base_url.rstrip('/')}/3/device/{message.token}"
        return ProviderRequest(message.token, url, {"content": body, "headers": headers})

    def _post_all(self, answers: list, indices: list[int], token: str) -> None:
        """Send the requests at `indices` of `answers`, each replaced by its answer."""
        if not indices:
            return
        requests = []
        for i in indices:
            request = answers[i]
            headers = {**request.options["headers"], "authorization": f"bearer {token}"}
            requests.append(replace(request, options={**request.options, "headers": headers}))
        if not self.config.base_url.startswith("https://"):
            # The plain-HTTP sandbox: the shared aiohttp pool, all in flight together.
            sent = post_each_or_retryable(requests, settings=self.config.settings)
        elif len(requests) == 1:
            sent = [self._post_http2(requests[0])]
        else:
            # api.push.apple.com speaks HTTP/2 only: the pooled HTTP/2 client carries the
            # batch's requests as concurrent streams, sent from a few threads at once.
            workers = min(len(requests), provider_http_concurrency())
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apns") as pool:
                sent = list(pool.map(self._post_http2, requests))
        for i, answer in zip(indices, sent, strict=True):
            answers[i] = answer

    def _post_http2(self, request: ProviderRequest) -> httpx.Response | SendResult:
        return post_or_retryable(
            request.recipient,
            request.url,
            settings=self.config.settings,
            client=http2_client(),
            **request.options,
        )

    def _cache_key(self) -> tuple[str, str]:
        credentials = self.config.credentials
        return (str(credentials.get("team_id", "")), str(credentials.get("key_id", "")))

    def jwt(self) -> str:
        key = self._cache_key()
        with _jwt_lock:
            cached = _jwt_cache.get(key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        token = provider_token(
            key_id=key[1], team_id=key[0], private_key=self.config.credentials["private_key"]
        )
        with _jwt_lock:
            _jwt_cache[key] = (token, time.monotonic() + TOKEN_LIFETIME_S)
        return token

    def forget_jwt(self) -> None:
        with _jwt_lock:
            _jwt_cache.pop(self._cache_key(), None)

    def payload(self, message: PushMessage) -> dict[str, Any]:
        return apns_payload(message)

    def headers(self, message: PushMessage) -> dict[str, str]:
        headers = {
            "apns-topic": str(self.config.settings.get("topic", "")),
            **apns_headers(message),
        }
        if message.idempotency_key:
            headers["apns-id"] = apns_id_for(message.idempotency_key)
        return headers

    def _result(self, message: PushMessage, response: httpx.Response) -> SendResult:
        status = response.status_code
        if status == 200:
            return SendResult(
                message.token,
                SendStatus.ACCEPTED,
                provider_message_id=response.headers.get("apns-id", ""),
                http_status=status,
            )
        reason = _reason(response)
        retryable = status in (403, 429) or status >= 500 or status < 400
        return SendResult(
            message.token,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=reason or response.text[:300] or response.reason_phrase,
            http_status=status,
            # 410: the token is no longer active for the topic; BadDeviceToken: it never
            # was a token of this app and environment. DeviceTokenNotForTopic is a wrong
            # topic setting, not a dead device.
            unregistered=status == 410 or (status == 400 and reason == "BadDeviceToken"),
        )


def _reason(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    if isinstance(answer, dict):
        return str(answer.get("reason") or answer.get("error") or "")
    return ""
