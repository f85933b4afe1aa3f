"""One field of a record, checked and normalised, or `RecordRejected` with a code and a
message naming the field: texts, emails, E.164 phones, genders, dates of birth, time zones,
coordinates, flags, identity keys and timestamps (`PROFILE_DATA_FIELDS` maps profileData
keys to their column and cleaner)."""

import json
import math
import zoneinfo
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from .results import RecordError, RecordRejected
from .upload_format import (
    CLEVERTAP_DATE,
    EARLIEST_TS,
    FALSE_WORDS,
    GENDERS,
    ISO_DATE,
    KEY_MAX_LENGTH,
    LATEST_TS_AHEAD,
    TRUE_WORDS,
)


def shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def clean_text(value: Any, *, name: str, max_length: int, code=RecordError.INVALID_FIELD) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordRejected(code, f"{name} must be a string (got {shown(value)})")
    text = str(value).strip()
    if len(text) > max_length:
        raise RecordRejected(code, f"{name} is longer than {max_length} characters")
    return text


def clean_email(value: Any, *, name: str) -> str:
    if not isinstance(value, str):
        raise RecordRejected(
            RecordError.INVALID_EMAIL, f"{name} must be a string (got {shown(value)})"
        )
    # Stored lower-cased so that lookups by email find the profile whatever the case.
    address = value.strip().lower()
    if len(address) > KEY_MAX_LENGTH["email"]:
        raise RecordRejected(RecordError.INVALID_EMAIL, f"{name} is longer than 254 characters")
    try:
        validate_email(address)
    except ValidationError:
        raise RecordRejected(
            RecordError.INVALID_EMAIL, f"{name} {shown(value)} is not a valid email address"
        ) from None
    return address


def _phone(value: Any, *, name: str) -> str:
    number = _e164(value.strip()) if isinstance(value, str) else None
    if number is None:
        raise RecordRejected(
            RecordError.INVALID_PHONE,
            f"{name} {shown(value)} is not a valid phone number in E.164 form (e.g. +14155550123)",
        )
    return number


@lru_cache(maxsize=8192)
def _e164(text: str) -> str | None:
    """Parsing and validating costs ~0.15 ms; profile syncs resend the same numbers."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _gender(value: Any, *, name: str) -> str:
    gender = GENDERS.get(value.strip().lower()) if isinstance(value, str) else None
    if gender is None:
        raise RecordRejected(
            RecordError.INVALID_FIELD,
            f"{name} {shown(value)} is not a gender: use M, F, O (or Male, Female, Other)",
        )
    return gender.value


def _date_of_birth(value: Any, *, name: str) -> date:
    problem = f'{name} {shown(value)} is not a date: use "$D_<epoch seconds>" or "YYYY-MM-DD"'
    if not isinstance(value, str):
        raise RecordRejected(RecordError.INVALID_FIELD, problem)
    text = value.strip()
    try:
        if match := CLEVERTAP_DATE.match(text):
            born = datetime.fromtimestamp(int(match.group(1)), tz=UTC).date()
        elif ISO_DATE.match(text):
            born = date.fromisoformat(text)
        else:
            raise RecordRejected(RecordError.INVALID_FIELD, problem)
    except (ValueError, OverflowError, OSError):
        raise RecordRejected(RecordError.INVALID_FIELD, problem) from None
    if born.year < 1900 or born > timezone.now().date():
        raise RecordRejected(
            RecordError.INVALID_FIELD, f"{name} {shown(value)} is not a plausible date"
        )
    return born


@cache
def _timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(value: Any, *, name: str) -> str:
    if not isinstance(value, str) or value.strip() not in _timezone_names():
        raise RecordRejected(
            RecordError.INVALID_FIELD,
            f"{name} {shown(value)} is not an IANA time zone name (e.g. Europe/Paris)",
        )
    return value.strip()


def _coordinate(value: Any, *, name: str, limit: float) -> float:
    number = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or abs(number) > limit:
        raise RecordRejected(
            RecordError.INVALID_FIELD,
            f"{name} {shown(value)} must be a number between -{limit:g} and {limit:g}",
        )
    return number


def _flag(value: Any, *, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise RecordRejected(RecordError.INVALID_FIELD, f"{name} {shown(value)} must be true or false")


# profileData key → (Profile column, cleaner). MSG-* say "may we message them?"; the
# columns store the opposite (unsubscribed / opted out).
PROFILE_DATA_FIELDS = {
    "Name": ("name", lambda v, n: clean_text(v, name=n, max_length=200)),
    "Email": ("email", lambda v, n: clean_email(v, name=n)),
    "Phone": ("phone", lambda v, n: _phone(v, name=n)),
    "Gender": ("gender", lambda v, n: _gender(v, name=n)),
    "DOB": ("date_of_birth", lambda v, n: _date_of_birth(v, name=n)),
    "Timezone": ("timezone", lambda v, n: _timezone(v, name=n)),
    "Language": ("language", lambda v, n: clean_text(v, name=n, max_length=16)),
    "Country": ("country", lambda v, n: clean_text(v, name=n, max_length=80)),
    "Region": ("region", lambda v, n: clean_text(v, name=n, max_length=80)),
    "City": ("city", lambda v, n: clean_text(v, name=n, max_length=80)),
    "Latitude": ("latitude", lambda v, n: _coordinate(v, name=n, limit=90)),
    "Longitude": ("longitude", lambda v, n: _coordinate(v, name=n, limit=180)),
    "MSG-email": ("email_unsubscribed", lambda v, n: not _flag(v, name=n)),
    "MSG-sms": ("sms_unsubscribed", lambda v, n: not _flag(v, name=n)),
    "MSG-push": ("push_opt_out", lambda v, n: not _flag(v, name=n)),
}


def clean_key(value: Any, *, name: str, key_kind: str) -> str:
    if key_kind == "email":
        return clean_email(value, name=name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordRejected(
            RecordError.INVALID_IDENTITY, f"{name} must be a string (got {shown(value)})"
        )
    text = str(value).strip()
    if not text:
        raise RecordRejected(RecordError.MISSING_IDENTITY, f"{name} is empty")
    if len(text) > KEY_MAX_LENGTH[key_kind]:
        raise RecordRejected(
            RecordError.INVALID_IDENTITY,
            f"{name} is longer than {KEY_MAX_LENGTH[key_kind]} characters",
        )
    return text


def clean_ts(value: Any, *, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordRejected(
            RecordError.INVALID_TS,
            f"ts must be a number of seconds since 1970 (got {shown(value)})",
        )
    if not EARLIEST_TS <= value <= (now + LATEST_TS_AHEAD).timestamp():
        raise RecordRejected(
            RecordError.INVALID_TS,
            f"ts {shown(value)} is out of range: give epoch seconds between 2000-01-01 "
            "and one day from now",
        )
    return datetime.fromtimestamp(value, tz=UTC)
