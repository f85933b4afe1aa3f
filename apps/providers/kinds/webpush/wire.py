"""A browser push service (RFC 8030 / 8291 / 8292) as the sandbox answers it — and the
browser behind it, so the sandbox can decrypt what it accepts.

`sandbox_subscription(base_url, id)` is what a browser's `pushManager.subscribe()` would
give: endpoint `{base_url}/wp/<id>` and keys whose private half is derived from the id
(HKDF-SHA256 of a fixed sandbox seed), so the wire re-derives them to decrypt.

`POST /wp/<subscription id>` is checked like a real push service:
- `Authorization: vapid t=<JWT>, k=<public key>` (or the legacy `WebPush <JWT>` with
  `Crypto-Key: p256ecdsa=<key>`): missing → 401; an ES256 signature that does not verify
  with k, aud other than the origin the client used (`http://` + Host), exp past or more than
  24 hours ahead, or no mailto:/https: sub → 403.
- `TTL` required, a non-negative integer; `Urgency` very-low | low | normal | high; `Topic`
  at most 32 base64url characters; `Content-Encoding: aes128gcm` → else 400.
- The body: at most 4096 bytes (else 413), an aes128gcm header (16-byte salt, rs ≥ 18,
  idlen 65, keyid an uncompressed P-256 point) and one record that decrypts with the
  subscription's keys and ends with the last-record delimiter → else 400.
- A subscription id or endpoint the fault plan rejects → 410 Gone.

Errors are autopush's JSON `{"code", "errno", "error", "message"}`. Success: 201 Created,
empty body, `Location: <origin>/p/<label>/m/<id>` and `TTL`; the delivery records the
endpoint as recipient, the payload's title and body, the headers, the VAPID claims and the
decrypted payload (JSON, or text when it is not JSON)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import struct
import time
from functools import lru_cache
from http import HTTPStatus

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from apps.providers.kinds.webpush.adapter import TOPIC_RE  # the adapter and the wire read one rule
from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

SANDBOX_SEED = b"herald-sandbox-webpush-subscriptions-v1"
SUBSCRIPTION_ID_RE = re.compile(r"[A-Za-z0-9_-]+")
MAX_BODY = 4096
MAX_TOKEN_AHEAD_S = 24 * 3600
URGENCIES = ("very-low", "low", "normal", "high")
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    text = text.strip().rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _hkdf(salt: bytes | None, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


@lru_cache(maxsize=4096)
def sandbox_subscription_secrets(subscription_id: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """The browser's side of a sandbox subscription: its P-256 private key and its 16-byte
    auth secret, both derived from the id."""
    if not SUBSCRIPTION_ID_RE.fullmatch(subscription_id):
        raise ValueError(f"a sandbox subscription id is [A-Za-z0-9_-]+, not {subscription_id!r}")
    ikm = SANDBOX_SEED + b"/" + subscription_id.encode()
    scalar = int.from_bytes(_hkdf(None, ikm, b"p256dh", 48), "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1()), _hkdf(None, ikm, b"auth", 16)


def sandbox_subscription(base_url: str, subscription_id: str) -> dict:
    """A push subscription on the sandbox under `base_url` (a provider's
    `http://127.0.0.1:<port>/p/<label>`), as `PushSubscription.toJSON()` gives it."""
    private_key, auth = sandbox_subscription_secrets(subscription_id)
    return {
        "endpoint": f"{base_url.rstrip('/')}/wp/{subscription_id}",
        "keys": {"p256dh": _b64(_point(private_key.public_key())), "auth": _b64(auth)},
    }


def _error(status: int, errno: int, message: str) -> WireReply:
    return WireReply(
        status=status,
        body={
            "code": status,
            "errno": errno,
            "error": HTTPStatus(status).phrase,
            "message": message,
        },
    )


def _credentials(request: SandboxRequest) -> tuple[str, str] | None:
    """(JWT, public key) from the Authorization header, or None when there is none."""
    authorization = request.header("authorization").strip()
    scheme, _, rest = authorization.partition(" ")
    if scheme.lower() == "vapid":
        params = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part.strip())
        return params.get("t", ""), params.get("k", "")
    if scheme.lower() == "webpush":
        crypto_key = request.header("crypto-key")
        params = dict(part.strip().split("=", 1) for part in crypto_key.split(";") if "=" in part)
        return rest.strip(), params.get("p256ecdsa", "")
    return None


def vapid_problem(token: str, public_key: str, origin: str) -> tuple[str, dict]:
    """What is wrong with a VAPID token for pushes to `origin` ("" when nothing), and its
    claims."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(claims_b64))
        signature = _b64decode(signature_b64)
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64decode(public_key))
    except (ValueError, TypeError):
        return "the VAPID token or public key is malformed", {}
    if not isinstance(header, dict) or header.get("alg") != "ES256" or len(signature) != 64:
        return "the VAPID token is not an ES256 JWT", {}
    if not isinstance(claims, dict):
        return "the VAPID token's claims are not an object", {}
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        key.verify(
            encode_dss_signature(r, s),
            f"{header_b64}.{claims_b64}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        return "the VAPID signature does not verify with the k= public key", claims
    if claims.get("aud") != origin:
        return f"the VAPID aud must be {origin!r}, not {claims.get('aud')!r}", claims
    exp = claims.get("exp")
    now = time.time()
    if not isinstance(exp, int) or exp <= now:
        return "the VAPID token has expired (exp)", claims
    if exp > now + MAX_TOKEN_AHEAD_S:
        return "the VAPID token's exp is more than 24 hours ahead", claims
    if not str(claims.get("sub", "")).lower().startswith(("mailto:", "https:")):
        return "the VAPID sub must be a mailto: or https: contact URL", claims
    return "", claims


def decrypt(body: bytes, subscription_id: str) -> bytes:
    """RFC 8291 decryption by the subscription's browser; raises ValueError saying why
    a body does not decrypt."""
    if len(body) < 21:
        raise ValueError("the body is too short for an aes128gcm header")
    salt, (rs,), idlen = body[:16], struct.unpack("!L", body[16:20]), body[20]
    if rs < 18:
        raise ValueError(f"the aes128gcm record size {rs} is below 18")
    if idlen != 65:
        raise ValueError(f"the aes128gcm keyid must be a 65-byte P-256 point, not {idlen} bytes")
    keyid, record = body[21:86], body[86:]
    try:
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), keyid)
    except ValueError as exc:
        raise ValueError("the aes128gcm keyid is not a P-256 point") from exc
    if not 17 <= len(record) <= rs:
        raise ValueError("the body must be one aes128gcm record of at most rs bytes")
    private_key, auth = sandbox_subscription_secrets(subscription_id)
    receiver = _point(private_key.public_key())
    shared = private_key.exchange(ec.ECDH(), sender)
    ikm = _hkdf(auth, shared, b"WebPush: info\x00" + receiver + keyid, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    try:
        padded = AESGCM(cek).decrypt(nonce, record, None)
    except InvalidTag as exc:
        raise ValueError("the body does not decrypt with the subscription's keys") from exc
    content = padded.rstrip(b"\x00")
    if not content.endswith(b"\x02"):
        raise ValueError("the record does not end with the last-record delimiter 0x02")
    return content[:-1]


class WebPushWire(Wire):
    kind = "webpush"
    routes = [("POST", r"/wp/(?P<subscription>[A-Za-z0-9_-]+)")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        subscription = match["subscription"]
        host = request.header("host")
        origin = f"{request.header('x-forwarded-proto', 'http')}://{host}"
        endpoint = f"{origin}/p/{request.label}{request.path}"

        credentials = _credentials(request)
        if credentials is None:
            return _error(401, 109, "Missing vapid Authorization header")
        problem, claims = vapid_problem(*credentials, origin)
        if problem:
            return _error(403, 109, f"Request did not validate: {problem}")
        if faults.rejects(subscription) or faults.rejects(endpoint):
            return _error(410, 106, "Request did not validate: the subscription is gone")

        ttl = request.header("ttl")
        if not (ttl.isascii() and ttl.isdigit()):
            return _error(400, 111, "Missing or invalid TTL header: a number of seconds")
        urgency = request.header("urgency")
        if urgency and urgency not in URGENCIES:
            return _error(400, 114, f"Invalid Urgency header {urgency!r}")
        topic = request.header("topic")
        if topic and not TOPIC_RE.fullmatch(topic):
            return _error(400, 113, "Topic must be at most 32 characters of base64url")
        encoding = request.header("content-encoding")
        if encoding.lower() != "aes128gcm":
            return _error(400, 110, f"Unsupported Content-Encoding {encoding!r}: use aes128gcm")
        if len(request.body) > MAX_BODY:
            return _error(413, 104, f"Body is {len(request.body)} bytes; at most {MAX_BODY}")
        try:
            plaintext = decrypt(request.body, subscription)
        except ValueError as exc:
            return _error(400, 110, f"Invalid payload encryption: {exc}")

        try:
            payload = json.loads(plaintext.decode("utf-8"))
        except ValueError:
            payload = plaintext.decode("utf-8", errors="replace")
        location = f"{origin}/p/{request.label}/m/{secrets.token_urlsafe(16)}"
        delivery = Delivery(
            recipient=endpoint,
            subject=str(payload.get("title", "")) if isinstance(payload, dict) else "",
            body=str(payload.get("body", "")) if isinstance(payload, dict) else str(payload),
            provider_message_id=location,
            extra={
                "path": request.path,
                "subscription": subscription,
                "auth_scheme": request.header("authorization").split(" ", 1)[0],
                "headers": {
                    "ttl": ttl,
                    "urgency": urgency,
                    "topic": topic,
                    "content-encoding": encoding,
                    "content-type": request.header("content-type"),
                },
                "vapid": {**claims, "k": credentials[1]},
                "encrypted_bytes": len(request.body),
                "payload": payload,
            },
        )
        return WireReply(
            status=201,
            body=b"",
            content_type="text/plain",
            deliveries=[delivery],
            headers={"Location": location, "TTL": ttl},
        )


WIRE = WebPushWire()
