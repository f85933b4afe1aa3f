"""Provider credentials at rest: a Fernet token in a text column, never the plain JSON.

Keys come from settings.HERALD_ENCRYPTION_KEYS (newest first). MultiFernet encrypts with the
first key and decrypts with any, so a key is rotated by putting the new one in front and
keeping the old one until every row has been re-encrypted. With no key configured (the
embedded `make run` default) a key is derived from SECRET_KEY, which is better than plain
text but ties the credentials to the SECRET_KEY: set HERALD_ENCRYPTION_KEYS in production."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored token was written with a key that is no longer configured (or is corrupt)."""


def _derived_key(secret: str) -> bytes:
    digest = hashlib.sha256(("herald-provider-credentials:" + secret).encode()).digest()
    return base64.urlsafe_b64encode(digest)


def _fernet() -> MultiFernet:
    keys = [k for k in settings.HERALD_ENCRYPTION_KEYS if k]
    if not keys:
        keys = [_derived_key(settings.SECRET_KEY)]
    return MultiFernet([Fernet(k) for k in keys])


def credentials_encrypt(credentials: dict[str, Any]) -> str:
    plain = json.dumps(credentials, sort_keys=True, separators=(",", ":")).encode()
    return _fernet().encrypt(plain).decode()


def credentials_decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        plain = _fernet().decrypt(token.encode())
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "The stored provider credentials cannot be decrypted with the configured "
            "HERALD_ENCRYPTION_KEYS (was a key removed or changed?). Restore the old key, or "
            "enter the credentials again."
        ) from exc
    return json.loads(plain)


def credentials_reencrypt(token: str) -> str:
    """Rotate a token onto the newest key (old keys still decrypt)."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "A provider's credentials cannot be decrypted with any configured "
            "HERALD_ENCRYPTION_KEYS key; keep the old key in the list while rotating."
        ) from exc
