"""Checking one field of a message: Liquid text, URLs, numbers, rows of a list; each error
filed under the step form's field name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from apps.message_templates.personalization import (
    PersonalizationError,
    message_render,
)
from apps.message_templates.services import liquid_error_message

from .shape import _DEEP_LINK, _HTTP_URL, _LIQUID_MARK, _UNSAFE_SCHEMES, BADGE_MAX, LIMITS

# --- validation ----------------------------------------------------------------------------


class _Errors(dict):
    """Errors of one message or one content document, keyed by field name."""

    def add(self, key: str, message: str) -> None:
        self.setdefault(key, message)


def _text(
    value: Any,
    key: str,
    errors: _Errors,
    *,
    limit: int,
    required: bool = False,
    liquid: bool = False,
    html: bool = False,
) -> str:
    if value is None:
        value = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.add(key, "Must be text.")
        return ""
    # A browser textarea sends \r\n; SMS counts and Liquid line numbers want \n.
    value = value.replace("\r\n", "\n")
    if "\x00" in value:
        errors.add(key, "Remove the NUL character.")
        return value
    if len(value) > limit:
        errors.add(key, f"At most {limit:,} characters (this has {len(value):,}).")
        return value
    if required and not value.strip():
        errors.add(key, "This field is required.")
        return value
    if liquid and value and (message := liquid_error_message(value, html=html)):
        errors.add(key, message)
    return value


def _as_rendered_for_check(value: str) -> str | None:
    """The URL to validate: as typed, or for a Liquid URL as rendered with no values (None
    when it is all Liquid, so nothing can be checked before send time)."""
    if not _LIQUID_MARK.search(value):
        return value
    try:
        rendered = message_render(value, profile=None).strip()
    except PersonalizationError:
        return None  # the Liquid error is already reported
    return rendered or None


def _url(value: Any, key: str, errors: _Errors, *, deep_links: bool, required: bool = False) -> str:
    value = _text(value, key, errors, limit=LIMITS["url"], required=required, liquid=True).strip()
    if not value or key in errors:
        return value
    checked = _as_rendered_for_check(value)
    if checked is None:
        return value
    scheme = checked.split(":", 1)[0].lower() if ":" in checked else ""
    if scheme in ("http", "https"):
        try:
            _HTTP_URL(checked)
        except ValidationError:
            errors.add(key, "Enter a valid http(s) URL.")
        return value
    if deep_links and _DEEP_LINK.match(checked) and scheme not in _UNSAFE_SCHEMES:
        return value
    errors.add(
        key,
        "Enter an http(s) URL or an app deep link (myapp://…)."
        if deep_links
        else "Enter an http(s) URL (https://…).",
    )
    return value


def _text_field(
    source: Mapping[str, Any],
    key: str,
    errors: _Errors,
    *,
    prefix: str = "",
    limit: int | None = None,
    **checks: bool,
) -> str:
    """`source[key]` checked by `_text` against its length limit (LIMITS[key] unless given),
    any error filed under the form's field name `prefix + key`."""
    return _text(
        source.get(key),
        prefix + key,
        errors,
        limit=LIMITS[key] if limit is None else limit,
        **checks,
    )


def _url_field(
    source: Mapping[str, Any],
    key: str,
    errors: _Errors,
    *,
    prefix: str = "",
    deep_links: bool,
    required: bool = False,
) -> str:
    """`source[key]` checked by `_url`, any error filed under `prefix + key`."""
    return _url(source.get(key), prefix + key, errors, deep_links=deep_links, required=required)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("on", "true", "1", "yes")


def _whole_number(
    value: Any, key: str, errors: _Errors, *, low: int, high: int, label: str
) -> int | None:
    """`value` as a whole number from `low` to `high`, or None with "<label> must be …"
    filed under `key`. Numeric text from a form counts; true/false and 2.5 do not."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        errors.add(key, f"{label} must be a whole number.")
        return None
    if not low <= number <= high:
        errors.add(key, f"{label} must be between {low:,} and {high:,}.")
        return None
    return number


def _badge(value: Any, errors: _Errors) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # no badge: the app keeps its own count
    return _whole_number(value, "badge", errors, low=0, high=BADGE_MAX, label="Badge count")


def _rows(value: Any, key: str, errors: _Errors, *, limit: int) -> list[Mapping]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(row, Mapping) for row in value):
        errors.add(key, "Must be a list of objects.")
        return []
    if len(value) > limit:
        errors.add(key, f"At most {limit}.")
        return []
    return value


def _blank_row(row: Mapping, keys: tuple[str, ...]) -> bool:
    return all(row.get(key) in (None, "") for key in keys) or all(
        isinstance(row.get(key), str) and not row.get(key).strip() for key in keys
    )


def _filled_rows(
    raw: Mapping[str, Any], key: str, errors: _Errors, *, limit: int, fields: tuple[str, ...]
) -> Iterator[tuple[str, Mapping]]:
    """(field-name prefix, row) for each row of the list `raw[key]` with something in it. A
    blank row (the form's spare one) is skipped but keeps its index, so "carousel-2-link"
    still names the row the marketer sees."""
    for index, row in enumerate(_rows(raw.get(key), key, errors, limit=limit)):
        if not _blank_row(row, fields):
            yield f"{key}-{index}-", row
