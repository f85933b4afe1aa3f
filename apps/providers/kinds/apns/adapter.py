"""Apple Push Notification service with token (.p8) auth: `POST {base}/3/device/{token}`,
one request per device token.

Credentials: `key_id`, `team_id`, `private_key` (the .p8 PEM). Settings: `topic` (the app's
bundle id), `timeout_s`. Base URL: https://api.push.apple.com (or api.sandbox.push.apple.com
for development builds) — or the local sandbox.

Authorization is `bearer <ES256 JWT>` (`kid` = key id, `iss` = team id, `iat`), cached per
key for 50 minutes (Apple refuses tokens older than an hour and throttles ones renewed more
often than every 20 minutes); an ExpiredProviderToken answer renews it once.

Real APNs speaks HTTP/2 only, so requests go through `http2_client()`: HTTP/2 negotiated by
ALPN over TLS (api.push.apple.com), HTTP/1.1 to the plain-HTTP sandbox.

Answer → SendResult:
- 200 → ACCEPTED, provider_message_id = the `apns-id` header.
- 410 Unregistered / ExpiredToken, 400 BadDeviceToken / DeviceTokenNotForTopic and any other
  400 (a request APNs will never take: MissingTopic, BadPriority, PayloadEmpty…), 413
  PayloadTooLarge → PERMANENT with the `reason`.
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
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from apps.providers.adapters.base import (
    Adapter,
    PushMessage,
    SendResult,
    SendStatus,
    post_or_retryable,
)
from apps.providers.http import http2_client

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
        return [self._send_one(message) for message in messages]

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
        options = message.options
        aps: dict[str, Any] = {}
        alert = {k: v for k, v in (("title", message.title), ("body", message.body)) if v}
        if alert:
            aps["alert"] = alert
        for option, field in (
            ("badge", "badge"),
            ("sound", "sound"),
            ("thread_id", "thread-id"),
            ("category", "category"),
        ):
            if option in options:
                aps[field] = options[option]
        if options.get("mutable_content"):
            aps["mutable-content"] = 1
        if options.get("content_available"):
            aps["content-available"] = 1
        # Custom keys sit beside "aps", never inside it.
        return {**{k: v for k, v in message.data.items() if k != "aps"}, "aps": aps}

    def headers(self, message: PushMessage) -> dict[str, str]:
        options = message.options
        push_type = str(
            options.get("push_type")
            or (
                "background"
                if options.get("content_available") and not message.title and not message.body
                else "alert"
            )
        )
        headers = {
            "apns-topic": str(self.config.settings.get("topic", "")),
            "apns-push-type": push_type,
            # Background pushes must go at priority 5; alerts default to immediate delivery.
            "apns-priority": str(options.get("priority", 5 if push_type == "background" else 10)),
        }
        if "expiration" in options:
            headers["apns-expiration"] = str(int(options["expiration"]))
        elif "ttl" in options:
            headers["apns-expiration"] = str(int(time.time()) + int(options["ttl"]))
        if options.get("collapse_id"):
            headers["apns-collapse-id"] = str(options["collapse_id"])
        if message.idempotency_key:
            headers["apns-id"] = apns_id_for(message.idempotency_key)
        return headers

    def _send_one(self, message: PushMessage) -> SendResult:
        url = f"{self.config.base_url.rstrip('/')}/3/device/{message.token}"
        body = json.dumps(self.payload(message), ensure_ascii=False).encode()
        headers = {**self.headers(message), "content-type": "application/json"}
        for attempt in (1, 2):
            try:
                token = self.jwt()
            except (KeyError, ValueError, TypeError) as exc:
                return SendResult(
                    message.token, SendStatus.RETRYABLE, error=f"cannot sign a token: {exc!r}"
                )
            response = post_or_retryable(
                message.token,
                url,
                settings=self.config.settings,
                client=http2_client(),  # api.push.apple.com speaks HTTP/2 only
                content=body,
                headers={**headers, "authorization": f"bearer {token}"},
            )
            if isinstance(response, SendResult):
                return response
            if (
                attempt == 1
                and response.status_code == 403
                and _reason(response) == ("ExpiredProviderToken")
            ):
                self.forget_jwt()
                continue
            break
        return self._result(message, response)

    def _result(self, message: PushMessage, response: httpx.Response) -> SendResult:
        status = response.status_code
        if status == 200:
            return SendResult(
                message.token,
                SendStatus.ACCEPTED,
                provider_message_id=response.headers.get("apns-id", ""),
                http_status=status,
            )
        reason = _reason(response) or response.text[:300] or response.reason_phrase
        retryable = status in (403, 429) or status >= 500 or status < 400
        return SendResult(
            message.token,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=reason,
            http_status=status,
        )


def _reason(response: httpx.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    if isinstance(answer, dict):
        return str(answer.get("reason") or answer.get("error") or "")
    return ""
