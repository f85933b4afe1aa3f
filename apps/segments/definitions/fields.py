"""One field's value: its comparison type (`value_kind`), and whole numbers, numbers, texts,
scalars and ISO dates checked and normalised, each problem recorded by path."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from typing import Any

from .errors import ErrorCollector
from .vocabulary import ISO_DATE_RE, MAX_DATE, MAX_TEXT, MIN_DATE


def value_kind(value: Any) -> str:
    """The comparison type of a definition value: number, bool, date or string.
    A string that is a valid ISO date (YYYY-MM-DD) is a date."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and ISO_DATE_RE.match(value):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return "string"
        return "date"
    return "string"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def int_value(
    value: Any,
    errs: ErrorCollector,
    path: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """An integer (numeric strings from forms accepted), or None with an error recorded."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        errs.add(path, "Enter a whole number.")
        return None
    if minimum is not None and value < minimum:
        errs.add(path, f"Must be at least {minimum}.")
        return None
    if maximum is not None and value > maximum:
        errs.add(path, f"Must be at most {maximum}.")
        return None
    return value


def float_value(value: Any, errs: ErrorCollector, path: str) -> float | None:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if not _is_number(value):
        errs.add(path, "Enter a number.")
        return None
    return float(value)


def text_value(value: Any, errs: ErrorCollector, path: str, *, label: str = "a name") -> str | None:
    if not isinstance(value, str) or not value.strip():
        errs.add(path, f"Enter {label}.")
        return None
    if len(value) > MAX_TEXT or "\x00" in value:
        errs.add(path, f"Enter {label} of at most {MAX_TEXT} characters, without NUL.")
        return None
    return value.strip()


def scalar_value(value: Any, errs: ErrorCollector, path: str) -> Any:
    if value is None or (isinstance(value, str) and value == ""):
        errs.add(path, "This operator needs a value.")
        return None
    if isinstance(value, str):
        if len(value) > MAX_TEXT or "\x00" in value:
            errs.add(path, f"Enter at most {MAX_TEXT} characters, without NUL.")
            return None
        if value_kind(value) == "date" and not MIN_DATE <= value <= MAX_DATE:
            errs.add(path, f"Enter a date between {MIN_DATE} and {MAX_DATE}.")
            return None
        return value
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    errs.add(path, "Enter a number, text, true/false or a date (YYYY-MM-DD).")
    return None


def date_value(value: Any, errs: ErrorCollector, path: str) -> str | None:
    if isinstance(value, str) and ISO_DATE_RE.match(value):
        try:
            day = dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        else:
            if MIN_DATE <= day <= MAX_DATE:
                return day
            errs.add(path, f"Enter a date between {MIN_DATE} and {MAX_DATE}.")
            return None
    errs.add(path, "Enter a date as YYYY-MM-DD.")
    return None
