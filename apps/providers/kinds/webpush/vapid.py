"""VAPID (RFC 8292): the application server's P-256 key, and the ES256 JWT that proves a
push came from the holder of the key the browser subscribed with (applicationServerKey).

The private key is accepted as the base64url 32-byte scalar (what `web-push
generate-vapid-keys` and `generate_vapid_key()` print) or as PEM (PKCS#8 or SEC1, even with
its line breaks lost in a one-line password field). Signing is py-vapid's; a token is
cached per (push service origin, public key, subject) until an hour before it expires."""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException

TOKEN_LIFETIME_S = 12 * 3600  # RFC 8292: exp at most 24 hours ahead
TOKEN_RENEW_BEFORE_S = 3600
SUBJECT_RE = re.compile(r"(mailto:\S+@\S+|https://\S+)", re.IGNORECASE)

# (origin, public key, subject) → (Authorization header value, monotonic renewal time);
# shared by every adapter instance in the process, since adapters are built per batch.
_token_cache: dict[tuple[str, str, str], tuple[str, float]] = {}
_token_lock = threading.Lock()


class VapidError(Exception):
    """The provider's VAPID key or subject cannot sign: a configuration error."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    text = "".join(text.split()).translate(str.maketrans("+/", "-_")).rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_b64(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The uncompressed point, base64url: a subscription's applicationServerKey and the
    `k=` of the Authorization header."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return b64url(
        public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


@lru_cache(maxsize=64)
def load_vapid_key(text: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in `text` (base64url raw scalar, base64 DER or PEM); raises
    VapidError saying what is wrong."""
    text = text.strip()
    try:
        if "-----BEGIN" in text:
            body = re.sub(r"-----(BEGIN|END)[^-]*-----", "", text)
            key = serialization.load_der_private_key(base64.b64decode("".join(body.split())), None)
        else:
            raw = b64url_decode(text)
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, None)
    except (ValueError, TypeError) as exc:
        raise VapidError(
            "the VAPID private key is neither a base64url 32-byte key nor a PEM key"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidError("the VAPID private key must be a P-256 (prime256v1) EC key")
    return key


def generate_vapid_key() -> dict[str, str]:
    """A new VAPID key pair: `private_key` for the provider's credentials, `public_key` for
    the website's `pushManager.subscribe({applicationServerKey})`."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return {"private_key": b64url(raw), "public_key": public_key_b64(key)}


@dataclass(frozen=True)
class VapidSigner:
    """Signs the Authorization header for one provider's key and subject."""

    key: ec.EllipticCurvePrivateKey
    public_key: str
    subject: str

    @classmethod
    def from_config(cls, credentials: dict, settings: dict) -> VapidSigner:
        private = str(credentials.get("vapid_private_key") or "")
        if not private.strip():
            raise VapidError("the VAPID private key is not set")
        subject = str(settings.get("subject") or "").strip()
        if not SUBJECT_RE.fullmatch(subject):
            raise VapidError(f"the VAPID subject must be a mailto: or https: URL (got {subject!r})")
        key = load_vapid_key(private)
        return cls(key=key, public_key=public_key_b64(key), subject=subject)

    def token(self, audience: str, *, now: float | None = None) -> str:
        """The signed JWT for pushes to the service at origin `audience`."""
        claims = {
            "aud": audience,
            "exp": int(now if now is not None else time.time()) + TOKEN_LIFETIME_S,
            "sub": self.subject,
        }
        try:
            header = Vapid02(self.key, conf={"no-strict": True}).sign(claims)["Authorization"]
        except VapidException as exc:
            raise VapidError(f"cannot sign a VAPID token: {exc}") from exc
        return header.split("t=", 1)[1].split(",", 1)[0]

    def authorization(self, audience: str) -> str:
        """`vapid t=<JWT>, k=<public key>`, from the cache while the token is fresh."""
        cache_key = (audience, self.public_key, self.subject)
        with _token_lock:
            cached = _token_cache.get(cache_key)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        value = f"vapid t={self.token(audience)}, k={self.public_key}"
        with _token_lock:
            _token_cache[cache_key] = (
                value,
                time.monotonic() + TOKEN_LIFETIME_S - TOKEN_RENEW_BEFORE_S,
            )
        return value

    def forget(self, audience: str) -> None:
        """Drop the cached token for a service that refused it (401/403)."""
        with _token_lock:
            _token_cache.pop((audience, self.public_key, self.subject), None)
