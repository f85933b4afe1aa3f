"""When a campaign sends, and how: pure functions over the `when` and `delivery` documents
(the shapes the wizard's steps and the delivery engine agreed on), used by the When step,
the Schedule step and the delivery engine: clean_when / clean_delivery (errors by field
path), occurrences, first_occurrence, when_problems, user_send_at, dnd_release_at, and the
overview's sentences.

Wall times are stored as strings ("2026-12-01T10:00") in the ACCOUNT's time zone, so a
campaign set for 10:00 stays at 10:00 across a DST change; aware datetimes are computed here
with zoneinfo. A wall time that does not exist (the spring-forward gap, 02:30 in New York on
the second Sunday of March) resolves with fold=0 to the same instant one hour later (03:30):
never earlier than asked, never skipped. An ambiguous one (the fall-back hour) is its first
instance, so it fires once.

Decisions where the product documents are silent:
- at most MAX_DATES dates for "multiple dates"; duplicates are merged rather than refused;
- a recurring series is the chosen days from `start` at `time`; occurrences before the
  campaign was created are never sent and do not count towards "after N" (the spec: "ignore
  the creation date ... to avoid sending a campaign unintentionally on a prior date");
  a start in the past is a field error when saved, but at scheduling time only a send that
  fell due while the campaign was a draft is a problem (a weekly Friday series that started
  on Monday loses nothing if scheduled on Wednesday);
- weeks are counted from the Monday of the start's week ("every 2 weeks on Mon, Thu");
- deliver-in-the-user's-time-zone follows the API's wrap-around rule: the run starts at the
  account's wall time, users whose local wall time has already passed get it the next day
  ("wrap") or not at all ("drop"), so first_occurrence is the account-time instant;
- "now" and live campaigns have no cut-off (live ones have an end date instead) and no
  user-time-zone delivery (there is no wall time to keep);
- push time to live is capped at 672 hours, the 28 days FCM accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from apps.accounts.selectors import account_timezone

from .models import LIVE_TYPES, Campaign, CampaignType

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
    first = next(_series(doc, tz=tz, not_before=now), None)
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


# --- Occurrences ---------------------------------------------------------------------------------


def _series(recurring: dict, *, tz: ZoneInfo, not_before: datetime | None) -> Iterator[datetime]:
    """Every send of a recurring series as aware UTC, in order. Days before `not_before`
    are skipped and not counted towards "after N"."""
    every = recurring["every"]
    at = parse_time(recurring["time"])
    start = parse_date(recurring["start"])
    end = recurring.get("end") or {}
    end_on = parse_date(end.get("on")) if end.get("kind") == "on" else None
    limit = end.get("after") if end.get("kind") == "after" else None
    last_day = min(end_on or date(LAST_YEAR, 12, 31), date(LAST_YEAR, 12, 31))
    floor = _aware_utc(not_before) if not_before is not None else None
    sent = 0
    for day in _series_days(recurring, start, every):
        if day > last_day or (limit is not None and sent >= limit):
            return
        moment = to_utc(datetime.combine(day, at), tz)
        if floor is not None and moment < floor:
            continue
        sent += 1
        yield moment


def _series_days(recurring: dict, start: date, every: int) -> Iterator[date]:
    if recurring["unit"] == "days":
        for index in count():
            yield start + timedelta(days=index * every)
    offsets = sorted(WEEKDAYS.index(day) for day in recurring["weekdays"])
    monday = start - timedelta(days=start.weekday())
    for week in count(step=every):
        for offset in offsets:
            day = monday + timedelta(days=week * 7 + offset)
            if day >= start:
                yield day


def occurrences(
    source: Campaign | dict,
    *,
    start: datetime,
    end: datetime | None = None,
    tz: ZoneInfo | None = None,
    not_before: datetime | None = None,
) -> Iterator[datetime]:
    """The sends of a campaign (or a when document) in [start, end) as aware UTC datetimes,
    in order: the date, the dates, or the recurring series (stopped by its end and by the
    cut-off). For a campaign, `tz` defaults to the account's zone and `not_before` to the
    campaign's creation. "now" yields the moment it was scheduled, if known; live campaigns
    run per trigger, so they yield nothing. Endless for a recurring series without an end
    when `end` is None: take what you need."""
    if isinstance(source, Campaign):
        when = source.when or {}
        if not_before is None:
            not_before = source.created_at
        scheduled_at = source.scheduled_at
    else:
        when, scheduled_at = source or {}, None
    tz = tz or account_timezone()
    start = _aware_utc(start)
    end = _aware_utc(end) if end is not None else None
    cutoff_wall = parse_wall(when.get("cutoff"))
    cutoff = to_utc(cutoff_wall, tz) if cutoff_wall else None

    kind = when.get("type")
    moments: Iterator[datetime]
    if kind == "now":
        moments = iter([_aware_utc(scheduled_at)] if scheduled_at else [])
    elif kind == "at":
        wall = parse_wall(when.get("at"))
        moments = iter([to_utc(wall, tz)] if wall else [])
    elif kind == "dates":
        walls = sorted({w for w in map(parse_wall, when.get("dates") or []) if w})
        moments = iter([to_utc(wall, tz) for wall in walls])
    elif kind == "recurring" and _series_is_complete(when.get("recurring")):
        moments = _series(when["recurring"], tz=tz, not_before=not_before)
    else:
        return
    for moment in moments:
        if (end is not None and moment >= end) or (cutoff is not None and moment > cutoff):
            return
        if moment >= start:
            yield moment


def _series_is_complete(recurring: Any) -> bool:
    if not isinstance(recurring, dict):
        return False
    every = recurring.get("every")
    return (
        isinstance(every, int)
        and not isinstance(every, bool)
        and every >= 1
        and recurring.get("unit") in ("days", "weeks")
        and (recurring.get("unit") == "days" or bool(recurring.get("weekdays")))
        and all(day in WEEKDAYS for day in recurring.get("weekdays") or [])
        and parse_time(recurring.get("time")) is not None
        and parse_date(recurring.get("start")) is not None
    )


def first_occurrence(campaign: Campaign, *, now: datetime) -> datetime | None:
    """The first send at or after `now`, as aware UTC: "now" -> now; live -> its start or now
    (None once its end has passed); otherwise the first date left. None if none is left."""
    now = _aware_utc(now)
    when = campaign.when or {}
    kind = when.get("type")
    tz = account_timezone()
    if kind == "now":
        cutoff = parse_wall(when.get("cutoff"))
        return None if cutoff and to_utc(cutoff, tz) <= now else now
    if kind == "live":
        live = when.get("live") or {}
        start, end = parse_wall(live.get("start")), parse_wall(live.get("end"))
        if end is not None and to_utc(end, tz) <= now:
            return None
        return max(to_utc(start, tz), now) if start else now
    return next(occurrences(campaign, start=now, tz=tz), None)


def when_problems(campaign: Campaign, *, now: datetime) -> list[str]:
    """Why the campaign's when cannot be scheduled at `now` (a draft left for days has its
    dates go by): sentences a marketer can act on, empty when it can."""
    when = campaign.when or {}
    if not when:
        return ["Choose when to send (When step)."]
    if when.get("type") not in when_types(campaign.campaign_type):
        return [
            f"The When was set for another campaign type: choose it again for this "
            f"{campaign.get_campaign_type_display().lower()} campaign."
        ]
    tz = account_timezone()
    now = _aware_utc(now)
    # A series whose start went by is fine as long as no send was due since the campaign was
    # created: the engine starts from now, and "after N" still means N sends.
    _, errors = clean_when(
        when, campaign_type=campaign.campaign_type, now=now, tz=tz, allow_past_start=True
    )
    found = list(dict.fromkeys(errors.values()))
    if not found and when.get("type") == "recurring" and campaign.created_at:
        missed = next(occurrences(campaign, start=campaign.created_at, end=now, tz=tz), None)
        if missed is not None:
            local = missed.astimezone(tz)
            found.append(
                f"The series should already have sent on {human_day(local.date())} at "
                f"{local:%H:%M}: move its start to today or later (When)."
            )
    if not found and first_occurrence(campaign, now=now) is None:
        found.append("No send is left in the schedule: every date has gone by or is cut off.")
    return found


# --- The delivery document -----------------------------------------------------------------------


def default_delivery() -> dict:
    return {
        "respect_frequency_caps": True,
        "respect_throttle": True,
        "throttle_per_minute": None,
        "dnd": {"enabled": False, "timezone": "user", "action": "discard", "windows": {}},
        "push_ttl_hours": None,
    }


def clean_delivery(raw: Any, *, channel: str) -> tuple[dict, Errors]:
    """Validate a delivery document; errors by path ("throttle_per_minute",
    "dnd.windows", "dnd.windows.mon.start", "push_ttl_hours")."""
    errors: Errors = {}
    raw = raw if isinstance(raw, dict) else {}
    doc: dict[str, Any] = {
        "respect_frequency_caps": _bool(raw.get("respect_frequency_caps"), True),
        "respect_throttle": _bool(raw.get("respect_throttle"), True),
        "throttle_per_minute": _bounded_int(
            raw.get("throttle_per_minute"),
            "throttle_per_minute",
            errors,
            low=1,
            high=MAX_THROTTLE_PER_MINUTE,
            what="the messages per minute",
            required=False,
        ),
    }
    dnd_raw = raw.get("dnd") if isinstance(raw.get("dnd"), dict) else {}
    dnd: dict[str, Any] = {
        "enabled": _bool(dnd_raw.get("enabled"), False),
        "timezone": dnd_raw.get("timezone")
        if dnd_raw.get("timezone") in ("user", "account")
        else "user",
        "action": dnd_raw.get("action")
        if dnd_raw.get("action") in ("discard", "delay")
        else "discard",  # the API's default when no message state is given
        "windows": {},
    }
    if dnd["enabled"]:
        windows = dnd_raw.get("windows") if isinstance(dnd_raw.get("windows"), dict) else {}
        for day in WEEKDAYS:
            window = windows.get(day)
            if not isinstance(window, dict):
                continue
            start, end = parse_time(window.get("start")), parse_time(window.get("end"))
            if start is None:
                errors[f"dnd.windows.{day}.start"] = "Enter the time DND starts, like 21:00."
            if end is None:
                errors[f"dnd.windows.{day}.end"] = "Enter the time DND ends, like 09:00."
            elif start is not None and start == end:
                errors[f"dnd.windows.{day}.end"] = "DND must end at another time than it starts."
            if start is not None and end is not None and start != end:
                dnd["windows"][day] = {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
        if not windows or not any(isinstance(windows.get(day), dict) for day in WEEKDAYS):
            errors["dnd.windows"] = "Choose at least one day for Do Not Disturb."
    doc["dnd"] = dnd
    doc["push_ttl_hours"] = None
    if channel == "push":
        doc["push_ttl_hours"] = _bounded_int(
            raw.get("push_ttl_hours"),
            "push_ttl_hours",
            errors,
            low=1,
            high=MAX_TTL_HOURS,
            what="the time to live in hours",
            required=False,
        )
    return doc, errors


def user_send_at(
    when: dict, run_at: datetime, *, account_tz: ZoneInfo, user_tz: ZoneInfo
) -> datetime | None:
    """With delivery in the user's time zone, when a run that starts at `run_at` (one of the
    occurrences, at the account's wall time) reaches a user in `user_tz`: at the same wall
    time in their zone; if that moment was already past when the run started, the next day
    ("wrap") or never ("drop"). Without user-time-zone delivery: `run_at` itself."""
    run_at = _aware_utc(run_at)
    user_tz_doc = when.get("user_timezone") if isinstance(when, dict) else None
    if not isinstance(user_tz_doc, dict) or not user_tz_doc.get("enabled"):
        return run_at
    wall = run_at.astimezone(account_tz).replace(tzinfo=None)
    target = to_utc(wall, user_tz)
    if target >= run_at:
        return target
    if user_tz_doc.get("late") == "drop":
        return None
    return to_utc(wall + timedelta(days=1), user_tz)


def dnd_release_at(delivery: dict, moment: datetime, tz: ZoneInfo) -> datetime | None:
    """When a message due at `moment` may leave under the campaign's Do-Not-Disturb hours:
    None when `moment` is outside every window (or DND is off), else the aware UTC end of the
    window it falls in. `tz` is the zone the windows are read in: the user's or the account's,
    as `delivery["dnd"]["timezone"]` says (the caller knows the user). A window belongs to the
    weekday it starts on; one ending earlier than it starts runs overnight into the next day.
    Back-to-back windows are followed to the end of the last one. Whether the message then
    waits or is dropped is `delivery["dnd"]["action"]`."""
    dnd = delivery.get("dnd") if isinstance(delivery, dict) else None
    if not isinstance(dnd, dict) or not dnd.get("enabled"):
        return None
    windows = dnd.get("windows") if isinstance(dnd.get("windows"), dict) else {}
    current, release = _aware_utc(moment), None
    for _ in range(len(WEEKDAYS) + 1):  # a chain of windows can at most span the week
        end = _dnd_window_end(windows, current, tz)
        if end is None:
            break
        current = release = end
    return release


def _dnd_window_end(windows: dict, moment: datetime, tz: ZoneInfo) -> datetime | None:
    today = moment.astimezone(tz).date()
    # The window that started yesterday evening may still be running this morning.
    for day in (today - timedelta(days=1), today):
        window = windows.get(WEEKDAYS[day.weekday()])
        if not isinstance(window, dict):
            continue
        start, end = parse_time(window.get("start")), parse_time(window.get("end"))
        if start is None or end is None or start == end:
            continue
        opens = to_utc(datetime.combine(day, start), tz)
        end_day = day if end > start else day + timedelta(days=1)
        closes = to_utc(datetime.combine(end_day, end), tz)
        if opens <= moment < closes:
            return closes
    return None


# --- Sentences for the overview ------------------------------------------------------------------


def _plural(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def _day_ranges(days: list[str]) -> str:
    """["mon", "tue", "wed", "fri"] -> "Mon-Wed, Fri" with an en dash (runs of three or more
    days are joined)."""
    indexes = sorted(WEEKDAYS.index(day) for day in days)
    runs: list[list[int]] = []
    for index in indexes:
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    parts = []
    for run in runs:
        labels = [WEEKDAY_LABELS[WEEKDAYS[i]] for i in run]
        parts.append(f"{labels[0]}{DASH}{labels[-1]}" if len(run) >= 3 else ", ".join(labels))
    return ", ".join(parts)


def describe_recurring(recurring: dict) -> str:
    every, unit = recurring.get("every") or 1, recurring.get("unit") or "days"
    if every == 1:
        head = "Every day" if unit == "days" else "Every week"
    else:
        head = f"Every {every} {unit}"
    if unit == "weeks" and recurring.get("weekdays"):
        head += " on " + ", ".join(WEEKDAY_LABELS[day] for day in recurring["weekdays"])
    text = f"{head} at {recurring.get('time')}"
    start = parse_date(recurring.get("start"))
    if start:
        text += f" from {human_day(start)}"
    end = recurring.get("end") or {}
    if end.get("kind") == "on" and parse_date(end.get("on")):
        text += f" until {human_day(parse_date(end['on']))}"
    elif end.get("kind") == "after" and end.get("after"):
        text += f", {_plural(end['after'], 'time')}"
    return text


def describe_when(when: dict, *, tz_name: str) -> list[tuple[str, str]]:
    kind = when.get("type")
    rows: list[tuple[str, str]] = []
    if kind == "now":
        rows.append(("When", "Now, as soon as it is scheduled"))
    elif kind == "at":
        wall = parse_wall(when.get("at"))
        rows.append(("When", f"Once, on {human_day(wall)} at {wall:%H:%M}" if wall else "—"))
    elif kind == "dates":
        walls = [w for w in map(parse_wall, when.get("dates") or []) if w]
        listed = "; ".join(f"{human_day(w)} {w:%H:%M}" for w in walls)
        rows.append(("When", f"On {_plural(len(walls), 'date')}: {listed}"))
    elif kind == "recurring":
        rows.append(("When", describe_recurring(when.get("recurring") or {})))
    elif kind == "live":
        rows.extend(_describe_live(when.get("live") or {}))
    else:
        return [("When", "Not chosen yet")]
    user_tz = when.get("user_timezone") or {}
    if user_tz.get("enabled"):
        late = "late ones the next day" if user_tz.get("late") == "wrap" else "late ones dropped"
        rows.append(("Time zone", f"Each user's own ({late})"))
    else:
        rows.append(("Time zone", f"The account's ({tz_name})"))
    cutoff = parse_wall(when.get("cutoff"))
    if cutoff:
        rows.append(("Cut-off", f"Nothing is sent after {human_day(cutoff)} {cutoff:%H:%M}"))
    return rows


def _describe_live(live: dict) -> list[tuple[str, str]]:
    start, end = parse_wall(live.get("start")), parse_wall(live.get("end"))
    span = f"From {human_day(start)} {start:%H:%M}" if start else "From when it is scheduled"
    span += f" until {human_day(end)} {end:%H:%M}" if end else ", no end date"
    rows = [("When", span)]
    delay = live.get("delay_minutes") or 0
    rows.append(
        ("Delay", f"{_plural(delay, 'minute')} after the trigger" if delay else "Right away")
    )
    if live.get("inaction_minutes"):
        rows.append(("Inaction window", _plural(live["inaction_minutes"], "minute")))
    offset = live.get("date_offset")
    if offset:
        if offset.get("direction") == "on":
            rows.append(("Date", "On the date in the event"))
        else:
            amount = _plural(offset.get("amount") or 0, (offset.get("unit") or "days")[:-1])
            rows.append(("Date", f"{amount} {offset.get('direction')} the date in the event"))
    per_user = live.get("per_user")
    if per_user:
        per = "in the whole campaign" if per_user["per"] == "campaign" else f"a {per_user['per']}"
        rows.append(("Per user", f"At most {_plural(per_user['limit'], 'message')} {per}"))
    return rows


def describe_dnd(dnd: dict) -> str:
    if not dnd.get("enabled") or not dnd.get("windows"):
        return "Off"
    by_window: dict[tuple[str, str], list[str]] = {}
    for day in WEEKDAYS:
        window = dnd["windows"].get(day)
        if window:
            by_window.setdefault((window["start"], window["end"]), []).append(day)
    parts = [f"{start}{DASH}{end} {_day_ranges(days)}" for (start, end), days in by_window.items()]
    zone = "user's timezone" if dnd.get("timezone") == "user" else "account's timezone"
    action = "delayed" if dnd.get("action") == "delay" else "discarded"
    return f"DND {'; '.join(parts)}, {zone}, {action}"


def describe_delivery(delivery: dict, *, channel: str) -> list[tuple[str, str]]:
    if not delivery:
        return []
    caps = "Respected" if delivery.get("respect_frequency_caps", True) else "Overridden"
    throttle = "Respected" if delivery.get("respect_throttle", True) else "Not applied"
    if delivery.get("throttle_per_minute"):
        throttle += f", at most {delivery['throttle_per_minute']:,} a minute"
    rows = [
        ("Frequency caps", caps),
        ("Throttle", throttle),
        ("Do not disturb", describe_dnd(delivery.get("dnd") or {})),
    ]
    if channel == "push":
        ttl = delivery.get("push_ttl_hours")
        rows.append(("Time to live", _plural(ttl, "hour") if ttl else "The provider's default"))
    return rows
