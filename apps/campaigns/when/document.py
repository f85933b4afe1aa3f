"""The when document: its types per campaign type, its default, and clean_when (errors by
field path)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..models import CampaignType
from .parsing import (
    MAX_AFTER,
    MAX_DATES,
    MAX_EVERY,
    MAX_MINUTES,
    MAX_PER_USER,
    OFFSET_UNITS,
    WEEKDAYS,
    WHEN_TYPES_BY_CAMPAIGN_TYPE,
    Errors,
    _aware_utc,
    _bool,
    _bounded_int,
    _is_blank,
    _text,
    human_wall,
    parse_date,
    parse_time,
    parse_wall,
    to_utc,
    wall_text,
)
from .series import series

# --- The when document ---------------------------------------------------------------------------


def when_types(campaign_type: str) -> tuple[str, ...]:
    return WHEN_TYPES_BY_CAMPAIGN_TYPE.get(campaign_type, ("now", "at"))


def default_when(campaign_type: str, *, now: datetime, tz: ZoneInfo) -> dict:
    """What the When step shows before anything was saved: tomorrow 10:00 in the account's
    zone for a date, a weekly Monday series from tomorrow, a live window from now."""
    local_now = _aware_utc(now).astimezone(tz)
    tomorrow = local_now.date() + timedelta(days=1)
    at = wall_text(datetime.combine(tomorrow, time(10, 0)))
    doc: dict[str, Any] = {
        "type": when_types(campaign_type)[0],
        "user_timezone": {"enabled": False, "late": "wrap"},
        "cutoff": None,
    }
    if campaign_type == CampaignType.ONE_TIME:
        doc["type"], doc["at"] = "at", at  # "a specific date and time" is what one-time means
    elif campaign_type == CampaignType.MULTIPLE_DATES:
        doc["dates"] = [at]
    elif campaign_type == CampaignType.RECURRING:
        doc["recurring"] = {
            "every": 1,
            "unit": "weeks",
            "weekdays": [WEEKDAYS[tomorrow.weekday()]],
            "time": "10:00",
            "start": tomorrow.isoformat(),
            "end": {"kind": "never", "on": None, "after": None},
        }
    else:
        doc["live"] = {
            "start": wall_text(local_now.replace(tzinfo=None, second=0, microsecond=0)),
            "end": None,
            "delay_minutes": 0,
            "per_user": None,
        }
        if campaign_type == CampaignType.LIVE_INACTION:
            doc["live"]["inaction_minutes"] = 60
        if campaign_type == CampaignType.LIVE_DATE:
            doc["live"]["date_offset"] = {"direction": "before", "amount": 1, "unit": "days"}
    return doc


def clean_when(
    raw: Any,
    *,
    campaign_type: str,
    now: datetime,
    tz: ZoneInfo,
    allow_past_start: bool = False,
) -> tuple[dict, Errors]:
    """Validate a when document (from the form or stored) for a campaign type. Returns the
    document in the contract's shape and errors by field path ("at", "dates.2",
    "recurring.every", "live.end", "cutoff"); each error is a sentence that also reads as a
    scheduling problem. Dates in the past are errors, `now` being the moment of the check;
    `allow_past_start` lets a series that already started through (when_problems checks for
    missed sends instead)."""
    errors: Errors = {}
    raw = raw if isinstance(raw, dict) else {}
    now = _aware_utc(now)
    allowed = when_types(campaign_type)
    kind = raw.get("type")
    if kind not in allowed:
        if len(allowed) == 1:
            kind = allowed[0]
        else:
            errors["type"] = "Choose to send now or at a date and time."
            kind = allowed[0]
    doc: dict[str, Any] = {"type": kind}
    first_send: datetime | None = None  # local wall time of the first send, for the cut-off

    if kind == "at":
        doc["at"], first_send = _clean_at(raw.get("at"), "at", errors, now=now, tz=tz)
    elif kind == "dates":
        doc["dates"], first_send = _clean_dates(raw.get("dates"), errors, now=now, tz=tz)
    elif kind == "recurring":
        doc["recurring"], first_send = _clean_recurring(
            raw.get("recurring"), errors, now=now, tz=tz, allow_past_start=allow_past_start
        )
    elif kind == "live":
        doc["live"] = _clean_live(raw.get("live"), errors, campaign_type=campaign_type, tz=tz)

    user_tz = raw.get("user_timezone") if isinstance(raw.get("user_timezone"), dict) else {}
    late = user_tz.get("late") if user_tz.get("late") in ("wrap", "drop") else "wrap"
    has_wall_time = kind in ("at", "dates", "recurring")
    doc["user_timezone"] = {
        "enabled": has_wall_time and _bool(user_tz.get("enabled"), False),
        "late": late,
    }
    doc["cutoff"] = None
    if kind != "live" and _text(raw.get("cutoff")):
        cutoff = parse_wall(raw.get("cutoff"))
        if cutoff is None:
            errors["cutoff"] = "Enter the cut-off as a date and time like 2026-12-01 22:00."
        elif to_utc(cutoff, tz) <= now:
            errors["cutoff"] = f"The cut-off {human_wall(cutoff)} is in the past."
        elif first_send is not None and cutoff <= first_send:
            errors["cutoff"] = (
                f"The cut-off {human_wall(cutoff)} is not after the first send "
                f"({human_wall(first_send)}): nothing would be sent."
            )
        else:
            doc["cutoff"] = wall_text(cutoff)
    return doc, errors


def _clean_at(
    value: Any, path: str, errors: Errors, *, now: datetime, tz: ZoneInfo
) -> tuple[str | None, datetime | None]:
    if _is_blank(value):
        errors[path] = "Enter the date and time to send."
        return None, None
    wall = parse_wall(value)
    if wall is None:
        errors[path] = "Enter a date and time like 2026-12-01 10:00."
        return None, None
    if to_utc(wall, tz) < now:
        errors[path] = f"The date {human_wall(wall)} is in the past."
    return wall_text(wall), wall


def _clean_dates(
    value: Any, errors: Errors, *, now: datetime, tz: ZoneInfo
) -> tuple[list[str], datetime | None]:
    entries = value if isinstance(value, list) else []
    walls: set[datetime] = set()
    for index, entry in enumerate(entries):
        if _is_blank(entry):
            continue  # an empty row of the form
        _, wall = _clean_at(entry, f"dates.{index}", errors, now=now, tz=tz)
        if wall is not None:
            walls.add(wall)
    if not walls and not any(key.startswith("dates.") for key in errors):
        errors["dates"] = "Add at least one date and time."
    if len(walls) > MAX_DATES:
        errors["dates"] = f"At most {MAX_DATES} dates: remove {len(walls) - MAX_DATES}."
    ordered = sorted(walls)
    return [wall_text(wall) for wall in ordered], (ordered[0] if ordered else None)


def _clean_recurring(
    value: Any, errors: Errors, *, now: datetime, tz: ZoneInfo, allow_past_start: bool
) -> tuple[dict, datetime | None]:
    raw = value if isinstance(value, dict) else {}
    every = _bounded_int(
        raw.get("every"),
        "recurring.every",
        errors,
        low=1,
        high=MAX_EVERY,
        what="how often it repeats",
        required=True,
    )
    unit = raw.get("unit") if raw.get("unit") in ("days", "weeks") else None
    if unit is None:
        errors["recurring.unit"] = "Choose days or weeks."
    picked = raw.get("weekdays") if isinstance(raw.get("weekdays"), list) else []
    weekdays = [day for day in WEEKDAYS if day in picked]
    if unit == "weeks" and not weekdays:
        errors["recurring.weekdays"] = "Choose at least one weekday."
    if unit != "weeks":
        weekdays = []
    at = parse_time(raw.get("time"))
    if at is None:
        errors["recurring.time"] = (
            "Enter the time to send, like 10:00."
            if _text(raw.get("time"))
            else "Enter the time to send."
        )
    start = parse_date(raw.get("start"))
    today = now.astimezone(tz).date()
    if start is None:
        errors["recurring.start"] = (
            "Enter the start date like 2026-12-01."
            if _text(raw.get("start"))
            else "Enter the start date."
        )
    elif start < today and not allow_past_start:
        errors["recurring.start"] = f"The start date {start.isoformat()} is in the past."

    raw_end = raw.get("end") if isinstance(raw.get("end"), dict) else {}
    end_kind = raw_end.get("kind") if raw_end.get("kind") in ("never", "on", "after") else None
    end: dict[str, Any] = {"kind": end_kind or "never", "on": None, "after": None}
    if end_kind is None:
        errors["recurring.end.kind"] = "Choose when the series ends."
    elif end_kind == "on":
        end_on = parse_date(raw_end.get("on"))
        if end_on is None:
            errors["recurring.end.on"] = "Enter the end date like 2027-01-31."
        elif start is not None and end_on < start:
            errors["recurring.end.on"] = "The end date is before the start date."
        else:
            end["on"] = end_on.isoformat()
    elif end_kind == "after":
        end["after"] = _bounded_int(
            raw_end.get("after"),
            "recurring.end.after",
            errors,
            low=1,
            high=MAX_AFTER,
            what="the number of sends",
            required=True,
        )
    doc = {
        "every": every,
        "unit": unit or "days",
        "weekdays": weekdays,
        "time": at.strftime("%H:%M") if at else None,
        "start": start.isoformat() if start else None,
        "end": end,
    }
    if any(key.startswith("recurring.") for key in errors):
        return doc, None
    first = next(series(doc, tz=tz, not_before=now), None)
    if first is None:
        errors["recurring.end.on"] = (
            "This series never sends: no chosen day falls between the start and the end."
        )
        return doc, None
    return doc, first.astimezone(tz).replace(tzinfo=None)


def _clean_live(value: Any, errors: Errors, *, campaign_type: str, tz: ZoneInfo) -> dict:
    raw = value if isinstance(value, dict) else {}
    start = parse_wall(raw.get("start"))
    if start is None:
        errors["live.start"] = (
            "Enter the start as a date and time like 2026-12-01 00:00."
            if _text(raw.get("start"))
            else "Enter when the campaign starts."
        )
    end = None
    if _text(raw.get("end")):
        end = parse_wall(raw.get("end"))
        if end is None:
            errors["live.end"] = "Enter the end as a date and time like 2027-01-01 00:00."
        elif start is not None and end <= start:
            errors["live.end"] = "The end must be after the start."
    doc: dict[str, Any] = {
        "start": wall_text(start) if start else None,
        "end": wall_text(end) if end else None,
        "delay_minutes": _bounded_int(
            raw.get("delay_minutes"),
            "live.delay_minutes",
            errors,
            low=0,
            high=MAX_MINUTES,
            what="the delay in minutes",
            required=False,
        )
        or 0,
    }
    if campaign_type == CampaignType.LIVE_INACTION:
        doc["inaction_minutes"] = _bounded_int(
            raw.get("inaction_minutes"),
            "live.inaction_minutes",
            errors,
            low=1,
            high=MAX_MINUTES,
            what="the inaction window in minutes",
            required=True,
        )
    if campaign_type == CampaignType.LIVE_DATE:
        offset = raw.get("date_offset") if isinstance(raw.get("date_offset"), dict) else {}
        direction = offset.get("direction")
        if direction not in ("before", "after", "on"):
            errors["live.date_offset.direction"] = "Choose before, after or on the date."
            direction = "before"
        unit = offset.get("unit") if offset.get("unit") in OFFSET_UNITS else None
        if unit is None:
            errors["live.date_offset.unit"] = "Choose minutes, hours or days."
        amount = 0
        if direction != "on":
            amount = _bounded_int(
                offset.get("amount"),
                "live.date_offset.amount",
                errors,
                low=1,
                high=MAX_MINUTES // OFFSET_UNITS.get(unit or "minutes", 1),
                what="how long before or after the date",
                required=True,
            )
        doc["date_offset"] = {"direction": direction, "amount": amount, "unit": unit or "days"}
    per_user = raw.get("per_user") if isinstance(raw.get("per_user"), dict) else {}
    doc["per_user"] = None
    if _text(per_user.get("limit")) or isinstance(per_user.get("limit"), int):
        limit = _bounded_int(
            per_user.get("limit"),
            "live.per_user.limit",
            errors,
            low=1,
            high=MAX_PER_USER,
            what="how many messages one user may get",
            required=True,
        )
        per = per_user.get("per")
        if per not in ("day", "week", "campaign"):
            errors["live.per_user.per"] = "Choose per day, per week or for the whole campaign."
        elif limit is not None:
            doc["per_user"] = {"limit": limit, "per": per}
    return doc
