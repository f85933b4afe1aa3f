"""The pieces of the when and delivery documents: limits, wall times, dates and times, and
the small parsers every part of them uses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ..models import LIVE_TYPES, CampaignType

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_LABELS = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
WALL_FORMAT = "%Y-%m-%dT%H:%M"
DASH = "\u2013"  # an en dash, as in "21:00 to 09:00" written the typographic way

MAX_DATES = 20
MAX_EVERY = 99
MAX_AFTER = 500
MAX_MINUTES = 30 * 24 * 60  # live delays and inaction windows: up to 30 days
MAX_PER_USER = 1000
MAX_THROTTLE_PER_MINUTE = 1_000_000
MAX_TTL_HOURS = 672
# Far enough for any real schedule, near enough that a wall time converted to UTC never
# overflows datetime (year 9999 west of Greenwich would).
LAST_YEAR = 2100

WHEN_TYPES_BY_CAMPAIGN_TYPE: dict[str, tuple[str, ...]] = {
    CampaignType.ONE_TIME: ("now", "at"),
    CampaignType.MULTIPLE_DATES: ("dates",),
    CampaignType.RECURRING: ("recurring",),
    **{live: ("live",) for live in LIVE_TYPES},
}
OFFSET_UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}

Errors = dict[str, str]


# --- Parsing the pieces ------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_wall(value: Any) -> datetime | None:
    """ "2026-12-01T10:00" (a space instead of T, and seconds, are accepted) -> naive datetime
    to the minute; None for anything else, including a value carrying a UTC offset (a wall
    time is in the account's zone by definition)."""
    text = _text(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?", text):
        return None
    try:
        wall = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        return None
    if not 2000 <= wall.year <= LAST_YEAR:
        return None
    return wall.replace(second=0, microsecond=0)


def parse_date(value: Any) -> date | None:
    text = _text(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if 2000 <= day.year <= LAST_YEAR else None


def parse_time(value: Any) -> time | None:
    text = _text(value)
    if not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
        return None
    try:
        return time.fromisoformat(text.zfill(5) if len(text) == 4 else text).replace(second=0)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = _text(value)
    return int(text) if re.fullmatch(r"[+-]?\d{1,12}", text) else None


def _bool(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in ("true", "on", "1", "yes"):
        return True
    if text in ("false", "off", "0", "no"):
        return False
    return default


def _bounded_int(
    value: Any, path: str, errors: Errors, *, low: int, high: int, what: str, required: bool
) -> int | None:
    if _is_blank(value):
        if required:
            errors[path] = f"Enter {what}."
        return None
    number = _int(value)
    if number is None or not low <= number <= high:
        errors[path] = f"Enter {what}: a whole number from {low} to {high:,}."
        return None
    return number


def wall_text(wall: datetime) -> str:
    return wall.strftime(WALL_FORMAT)


def to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall time in `tz` -> aware UTC (fold=0, see the module docstring)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def human_wall(wall: datetime) -> str:
    return wall.strftime("%Y-%m-%d %H:%M")


def human_day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _aware_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
