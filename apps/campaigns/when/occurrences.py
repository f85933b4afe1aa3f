"""When a campaign's when document makes it send: occurrences, first_occurrence, and
when_problems for the readiness rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apps.accounts.selectors import account_timezone

from ..models import Campaign
from .document import clean_when, when_types
from .parsing import (
    WEEKDAYS,
    _aware_utc,
    human_day,
    parse_date,
    parse_time,
    parse_wall,
    to_utc,
)
from .series import series

# --- Occurrences ---------------------------------------------------------------------------------


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
        moments = series(when["recurring"], tz=tz, not_before=not_before)
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
