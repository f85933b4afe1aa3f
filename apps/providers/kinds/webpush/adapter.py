"""Standard Web Push to browser push subscriptions: RFC 8030 (the push protocol), RFC 8291
(payload encryption, `Content-Encoding: aes128gcm`) and RFC 8292 (VAPID).

A message's `token` is the subscription's endpoint URL and `subscription_keys` its browser
keys (`p256dh`, `auth`, base64url). Each message is one `POST {endpoint}`; a batch's
requests go out together over the shared pool.

Credentials: `vapid_private_key` (base64url 32-byte key or PEM; see vapid.py). Settings:
`subject` (a mailto: or https: URL, required), `timeout_s`. Base URL: empty for real
deployments; set it (the sandbox: http://127.0.0.1:<port>/p/<label>) to allow endpoints on
that origin too.

Only endpoints on a known push service are posted to, since the URL comes from device data
(SSRF): https on fcm.googleapis.com, updates.push.services.mozilla.com,
*.push.services.mozilla.com, *.notify.windows.com, web.push.apple.com, *.push.apple.com —
or the origin of the provider's base URL. Any other endpoint is PERMANENT, sent nowhere.

Headers: `TTL` (options "ttl", else "expires_at" minus now, else 4 weeks), `Urgency`
(options "delivery_priority": normal | high; very-low and low pass through), `Topic`
(options "collapse_id" when it is ≤ 32 base64url characters, else `topic_for()`: the first
32 characters of its SHA-256 in base64url), `Content-Encoding: aes128gcm`, `Content-Type:
application/octet-stream`, `Authorization: vapid t=<ES256 JWT>, k=<public key>` (aud = the
endpoint's origin, exp = 12 hours ahead, sub = the subject).

The payload is UTF-8 JSON that the site's service worker reads in its `push` event and
passes to `showNotification(title, options)`:

    {
      "title": str,                          # always present
      "body": str,                           # always present
      "icon": url,                           # options "icon"          (only when set)
      "image": url,                          # options "image"         (only when set)
      "tag": str,                            # options "collapse_id"   (only when set)
      "actions": [                           # options "buttons", the first two
        {"action": id, "title": label, "url": link}   # "url" only when the button has one
      ],                                     # (only when there are buttons)
      "data": {...message.data, "url": link} # always; "url" = options "link" when set
    }

A service worker shows it with `showNotification(p.title, {body, icon, image, tag, actions,
data: p})` and on `notificationclick` opens `p.actions[i].url` for `event.action`, else
`p.data.url`. The numeric `badge` option has no place on the web (a Notification's `badge`
is an image URL), so it is left out. Encrypted in one 4096-byte record, the payload may be
at most 3993 bytes (4096 minus the 86-byte aes128gcm header, the 16-byte tag and the
delimiter): a bigger one is PERMANENT before anything is sent.

Answer → SendResult:
- 201 Created (200, 202) → ACCEPTED, provider_message_id = the `Location` header.
- 404 / 410 → PERMANENT, unregistered (the subscription expired or was revoked).
- 400, 413 and other 4xx → PERMANENT with the service's own words.
- 401 / 403 (VAPID refused: the key or subject is wrong, not the subscription) → RETRYABLE,
  like APNs 403, so another provider or a fixed key can still deliver it.
- 429, 5xx, timeout, connection error → RETRYABLE.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from apps.providers.adapters.base import (
    Adapter,
    ProviderRequest,
    PushMessage,
    SendResult,
    SendStatus,
    post_each_or_retryable,
)
from apps.providers.kinds.webpush.vapid import VapidError, VapidSigner, b64url, b64url_decode

DEFAULT_TTL_S = 4 * 7 * 24 * 3600
MAX_ENCRYPTED_BYTES = 4096  # RFC 8291 §4: one record of at most 4096 octets
RECORD_OVERHEAD = 16 + 4 + 1 + 65 + 16 + 1  # salt, rs, idlen, keyid, tag, delimiter
MAX_PAYLOAD_BYTES = MAX_ENCRYPTED_BYTES - RECORD_OVERHEAD  # 3993
MAX_ACTIONS = 2
URGENCIES = {"very-low", "low", "normal", "high"}
TOPIC_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
PUSH_SERVICE_HOSTS = {
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
}
PUSH_SERVICE_SUFFIXES = (".push.services.mozilla.com", ".notify.windows.com", ".push.apple.com")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL (the default port left out), or "" when it has no
    host, carries a login, or has characters URL parsers read differently (whitespace,
    control characters, backslashes)."""
    if any(char.isspace() or ord(char) < 32 or char == "\\" for char in url):
        return ""
    parts = urlsplit(url)
    if not parts.hostname or "@" in parts.netloc or parts.scheme not in ("http", "https"):
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        return ""
    if port is None or port == {"http": 80, "https": 443}[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def is_push_service(origin: str, *, base_url: str = "") -> bool:
    """Whether Herald may post to `origin`: a well-known browser push service over https
    on its default port, or the origin of the provider's base URL."""
    if not origin:
        return False
    if base_url and origin == origin_of(base_url):
        return True
    if not origin.startswith("https://"):
        return False
    host = origin.removeprefix("https://")
    return host in PUSH_SERVICE_HOSTS or host.endswith(PUSH_SERVICE_SUFFIXES)


def topic_for(collapse_id: str) -> str:
    """The `Topic` header for a collapse id: itself when it fits (≤ 32 characters of the
    URL-safe base64 alphabet), else a stable 32-character base64url hash of it."""
    if TOPIC_RE.fullmatch(collapse_id):
        return collapse_id
    return b64url(hashlib.sha256(collapse_id.encode()).digest())[:32]


def payload_for(message: PushMessage) -> dict[str, Any]:
    """The JSON the service worker reads (the shape in this module's docstring)."""
    options = message.options
    payload: dict[str, Any] = {"title": message.title, "body": message.body}
    for option in ("icon", "image"):
        if options.get(option):
            payload[option] = str(options[option])
    if options.get("collapse_id"):
        payload["tag"] = str(options["collapse_id"])
    actions = []
    for button in (options.get("buttons") or [])[:MAX_ACTIONS]:
        action = {"action": str(button.get("id") or ""), "title": str(button.get("label") or "")}
        if button.get("link"):
            action["url"] = str(button["link"])
        actions.append(action)
    if actions:
        payload["actions"] = actions
    data: dict[str, Any] = dict(message.data)
    if options.get("link"):
        data["url"] = str(options["link"])
    payload["data"] = data
    return payload


def ttl_for(options: dict[str, Any], *, now: float | None = None) -> int:
    if options.get("ttl") is not None:
        return max(int(options["ttl"]), 0)
    if options.get("expires_at") is not None:
        now = now if now is not None else time.time()
        return max(int(options["expires_at"]) - int(now), 0)
    return DEFAULT_TTL_S


def encrypt(plaintext: bytes, keys: dict[str, str]) -> bytes:
    """RFC 8291 aes128gcm for the subscription's keys, in one record, with a fresh
    ephemeral key and salt per message; raises ValueError for unusable keys."""
    try:
        receiver = b64url_decode(str(keys["p256dh"]))
        auth = b64url_decode(str(keys["auth"]))
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), receiver)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(
            "the subscription's keys are missing or invalid (p256dh must be a base64url "
            "P-256 point, auth a base64url secret)"
        ) from exc
    if len(auth) != 16:
        raise ValueError("the subscription's auth secret must be 16 bytes")
    return http_ece.encrypt(
        plaintext,
        salt=os.urandom(16),
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=receiver,
        auth_secret=auth,
        rs=MAX_ENCRYPTED_BYTES,
        version="aes128gcm",
    )


class WebPushAdapter(Adapter):
    kind = "webpush"
    channel = "push"

    def send(self, messages: list[PushMessage]) -> list[SendResult]:
        if not messages:
            return []
        try:
            signer = VapidSigner.from_config(self.config.credentials, self.config.settings)
        except VapidError as exc:
            return [SendResult(m.token, SendStatus.RETRYABLE, error=str(exc)) for m in messages]
        prepared = [self.request_for(message, signer) for message in messages]
        requests = [item for item in prepared if isinstance(item, ProviderRequest)]
        answers = iter(
            post_each_or_retryable(requests, settings=self.config.settings) if requests else []
        )
        results = []
        for message, item in zip(messages, prepared, strict=True):
            answer = item if isinstance(item, SendResult) else next(answers)
            if not isinstance(answer, SendResult):
                answer = self._result(message, answer)
                if answer.http_status in (401, 403):
                    signer.forget(origin_of(message.token))
            results.append(answer)
        return results

    def request_for(
        self, message: PushMessage, signer: VapidSigner
    ) -> ProviderRequest | SendResult:
        """The encrypted POST for one message, or the PERMANENT result that stops it."""
        endpoint = message.token
        origin = origin_of(endpoint)
        if not is_push_service(origin, base_url=self.config.base_url):
            return _permanent(endpoint, f"endpoint {endpoint!r} is not a known push service")
        plaintext = json.dumps(
            payload_for(message), ensure_ascii=False, separators=(",", ":")
        ).encode()
        if len(plaintext) > MAX_PAYLOAD_BYTES:
            return _permanent(
                endpoint,
                f"the payload is {len(plaintext) + RECORD_OVERHEAD} bytes encrypted; Web Push "
                f"takes at most {MAX_ENCRYPTED_BYTES} (RFC 8291): shorten the title, body, "
                "links or custom data",
            )
        try:
            ttl = ttl_for(message.options)
        except (TypeError, ValueError):
            return _permanent(endpoint, "the ttl or expires_at option is not a number")
        try:
            body = encrypt(plaintext, message.subscription_keys)
            authorization = signer.authorization(origin)
        except ValueError as exc:
            return _permanent(endpoint, str(exc))
        except VapidError as exc:
            return SendResult(endpoint, SendStatus.RETRYABLE, error=str(exc))
        headers = {
            "TTL": str(ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": authorization,
        }
        urgency = str(message.options.get("delivery_priority") or "")
        if urgency in URGENCIES:
            headers["Urgency"] = urgency
        if message.options.get("collapse_id"):
            headers["Topic"] = topic_for(str(message.options["collapse_id"]))
        return ProviderRequest(endpoint, endpoint, {"content": body, "headers": headers})

    def _result(self, message: PushMessage, response: httpx.Response) -> SendResult:
        status = response.status_code
        if status in (200, 201, 202):
            return SendResult(
                message.token,
                SendStatus.ACCEPTED,
                provider_message_id=response.headers.get("location") or str(uuid.uuid4()),
                http_status=status,
            )
        error = _error_text(response)
        if status in (404, 410):
            return SendResult(
                message.token,
                SendStatus.PERMANENT,
                error=error,
                http_status=status,
                unregistered=True,
            )
        retryable = status in (401, 403, 429) or status >= 500 or status < 400
        return SendResult(
            message.token,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=error,
            http_status=status,
        )


def _permanent(endpoint: str, error: str) -> SendResult:
    return SendResult(endpoint, SendStatus.PERMANENT, error=error)


def _error_text(response: httpx.Response) -> str:
    """The service's own words: the `message` (else `error`) of a JSON error (Mozilla's
    autopush answers {"code", "errno", "error", "message"}), else the body text, else the
    reason phrase."""
    text = response.text.strip()
    try:
        answer = json.loads(text) if text.startswith("{") else None
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("message") or answer.get("error"), str):
        text = answer.get("message") or answer["error"]
    return " ".join(text.split())[:300] or response.reason_phrase
