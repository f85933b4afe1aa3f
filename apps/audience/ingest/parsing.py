"""One record of the upload -> a `ParsedRecord` (no queries): its kind, whose it is, its
time, and the profile columns, properties, event or push token it carries; values PostgreSQL
cannot store are refused up front."""

import base64
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import Platform
from .field_values import (
    PROFILE_DATA_FIELDS,
    clean_email,
    clean_key,
    clean_text,
    clean_ts,
    shown,
)
from .results import RecordError, RecordRejected
from .upload_format import (
    EVENT_NAME_MAX_LENGTH,
    KEY_FIELDS,
    PROPERTY_KEY_MAX_LENGTH,
    TOKEN_FIELDS,
    TOKEN_PLATFORMS,
)

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(slots=True)
class ParsedRecord:
    """One valid record, normalised."""

    index: int
    kind: str  # "profile" | "event" | "token"
    key_kind: str  # "identity" | "object_id" | "fbid" | "email"
    key: str
    ts: datetime
    columns: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    attach_identity: str | None = None  # profileData.Identity on a record keyed otherwise
    event_name: str = ""
    event_data: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] | None = None  # token records: push_token and provided fields


def _unstorable(record: dict) -> str | None:
    """None when PostgreSQL can store every value of the record (text and jsonb refuse NUL
    and unpaired surrogates, jsonb has no NaN); otherwise where the first bad value is.
    One json.dumps in C checks the common, clean case; the walk only runs on suspicion."""
    try:
        text = json.dumps(record, ensure_ascii=False, allow_nan=False)
        text.encode()
    except (ValueError, TypeError, RecursionError):
        return _find_unstorable(record) or ""
    if "\\u0000" not in text:
        return None
    return _find_unstorable(record)  # None when it was a literal backslash-u0000 text


def _find_unstorable(value: Any, path: str = "") -> str | None:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path
        return path if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str | int) or _find_unstorable(str(key)) is not None:
                return where
            if (found := _find_unstorable(item, where)) is not None:
                return found
        return None
    return None if value is None or isinstance(value, bool | int) else path


def record_parse(index: int, record: Any, *, now: datetime) -> ParsedRecord:
    if not isinstance(record, dict):
        raise RecordRejected(
            RecordError.NOT_AN_OBJECT, f"record must be a JSON object (got {shown(record)})"
        )
    if (where := _unstorable(record)) is not None:
        raise RecordRejected(
            RecordError.INVALID_FIELD,
            f"{where or 'record'} holds a value that cannot be stored (a NUL character, an "
            "unpaired surrogate, NaN or Infinity)",
        )
    kind = record.get("type")
    if kind not in ("profile", "event", "token"):
        raise RecordRejected(
            RecordError.INVALID_TYPE,
            f'type must be "profile", "event" or "token" (got {shown(kind)})',
        )

    keys = [name for name in KEY_FIELDS if record.get(name) not in (None, "")]
    if len(keys) > 1:
        raise RecordRejected(
            RecordError.INVALID_IDENTITY,
            f"give only one of identity, objectId, FBID (got {', '.join(keys)})",
        )
    email_name = "email" if record.get("email") not in (None, "") else "Email"
    email = record.get(email_name)
    email = None if email in (None, "") else clean_email(email, name=email_name)
    if keys:
        key_kind = KEY_FIELDS[keys[0]]
        key = clean_key(record[keys[0]], name=keys[0], key_kind=key_kind)
    elif email is not None:
        key_kind, key = "email", email
    else:
        raise RecordRejected(
            RecordError.MISSING_IDENTITY,
            "record needs one of identity, objectId, FBID or email to say whose it is",
        )

    parsed = ParsedRecord(
        index=index, kind=kind, key_kind=key_kind, key=key, ts=clean_ts(record.get("ts"), now=now)
    )
    if email is not None and key_kind != "email":
        parsed.columns["email"] = email

    if kind == "profile":
        _parse_profile_data(parsed, record.get("profileData"))
    elif kind == "event":
        name = record.get("evtName")
        if not isinstance(name, str) or not name.strip():
            raise RecordRejected(
                RecordError.INVALID_EVENT_NAME,
                f"evtName must be a non-empty string (got {shown(name)})",
            )
        if len(name.strip()) > EVENT_NAME_MAX_LENGTH:
            raise RecordRejected(
                RecordError.INVALID_EVENT_NAME,
                f"evtName is longer than {EVENT_NAME_MAX_LENGTH} characters",
            )
        data = record.get("evtData")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RecordRejected(
                RecordError.INVALID_EVENT_DATA, f"evtData must be an object (got {shown(data)})"
            )
        parsed.event_name, parsed.event_data = name.strip(), data
    else:
        parsed.device = _parse_token_data(record.get("tokenData"))
    return parsed


def _parse_profile_data(parsed: ParsedRecord, profile_data: Any) -> None:
    if not isinstance(profile_data, dict):
        raise RecordRejected(
            RecordError.INVALID_PROFILE_DATA,
            f"profileData must be an object (got {shown(profile_data)})",
        )
    for key, value in profile_data.items():
        if value is None:
            continue
        name = f"profileData.{key}"
        if key == "Identity":
            identity = clean_key(value, name=name, key_kind="identity")
            if parsed.key_kind == "identity":
                if identity != parsed.key:
                    raise RecordRejected(
                        RecordError.IDENTITY_CONFLICT,
                        f"{name} {shown(identity)} differs from the record's identity "
                        f"{shown(parsed.key)}",
                    )
            else:
                parsed.attach_identity = identity
        elif key in PROFILE_DATA_FIELDS:
            column, clean = PROFILE_DATA_FIELDS[key]
            parsed.columns[column] = clean(value, name)
        elif not isinstance(key, str) or not key.strip() or len(key) > PROPERTY_KEY_MAX_LENGTH:
            raise RecordRejected(
                RecordError.INVALID_PROFILE_DATA,
                f"profileData key {shown(key)} must be 1 to {PROPERTY_KEY_MAX_LENGTH} characters",
            )
        else:
            parsed.properties[key] = value


def _parse_token_data(token_data: Any) -> dict[str, Any]:
    if not isinstance(token_data, dict):
        raise RecordRejected(
            RecordError.INVALID_TOKEN_DATA, f"tokenData must be an object (got {shown(token_data)})"
        )
    token = token_data.get("id")
    if not isinstance(token, str) or not token.strip():
        raise RecordRejected(
            RecordError.INVALID_TOKEN_DATA,
            f"tokenData.id must be the push token as a non-empty string (got {shown(token)})",
        )
    if len(token.strip()) > 512:
        raise RecordRejected(
            RecordError.INVALID_TOKEN_DATA, "tokenData.id is longer than 512 characters"
        )
    kind = token_data.get("type")
    platform = TOKEN_PLATFORMS.get(kind.lower()) if isinstance(kind, str) else None
    if platform is None:
        raise RecordRejected(
            RecordError.INVALID_TOKEN_DATA,
            f'tokenData.type must be "fcm", "apns" or "webpush" (got {shown(kind)})',
        )
    device: dict[str, Any] = {"push_token": token.strip(), "platform": platform.value}
    if platform is Platform.WEB:
        device["push_keys"] = _web_push_keys(device["push_token"], token_data.get("keys"))
    for key, (column, max_length) in TOKEN_FIELDS.items():
        if token_data.get(key) is not None:
            device[column] = clean_text(
                token_data[key],
                name=f"tokenData.{key}",
                max_length=max_length,
                code=RecordError.INVALID_TOKEN_DATA,
            )
    return device


def _web_push_keys(token: str, keys: Any) -> dict[str, str] | None:
    """A browser's Web Push subscription is its endpoint URL (tokenData.id) with its keys
    (tokenData.keys: p256dh and auth, base64url, as PushSubscription.toJSON() gives them); a
    web token that is not a URL is an FCM web registration token and has no keys."""
    is_endpoint = token.startswith(("https://", "http://"))
    if not is_endpoint:
        if keys is not None:
            raise RecordRejected(
                RecordError.INVALID_TOKEN_DATA,
                "tokenData.keys belong to a Web Push subscription: tokenData.id must then be "
                "its endpoint URL",
            )
        return None
    if not isinstance(keys, dict):
        raise RecordRejected(
            RecordError.INVALID_TOKEN_DATA,
            "tokenData.keys (p256dh and auth) are required for a Web Push subscription "
            f"endpoint (got {shown(keys)})",
        )
    cleaned = {}
    for name, size in (("p256dh", 65), ("auth", 16)):
        value = keys.get(name)
        if not isinstance(value, str) or not _BASE64URL.fullmatch(value.rstrip("=")):
            raise RecordRejected(
                RecordError.INVALID_TOKEN_DATA,
                f"tokenData.keys.{name} must be base64url text (got {shown(value)})",
            )
        value = value.rstrip("=")
        if len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) != size:
            raise RecordRejected(
                RecordError.INVALID_TOKEN_DATA,
                f"tokenData.keys.{name} must be {size} bytes once decoded",
            )
        cleaned[name] = value
    return cleaned
