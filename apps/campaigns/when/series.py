"""The days and instants of a recurring series (every N days or weeks on chosen weekdays, at a
wall time in the account's zone), shared by clean_when (does the series ever send?) and the
occurrences."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from .parsing import LAST_YEAR, WEEKDAYS, _aware_utc, parse_date, parse_time, to_utc


def series(recurring: dict, *, tz: ZoneInfo, not_before: datetime | None) -> Iterator[datetime]:
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
    for day in series_days(recurring, start, every):
        if day > last_day or (limit is not None and sent >= limit):
            return
        moment = to_utc(datetime.combine(day, at), tz)
        if floor is not None and moment < floor:
            continue
        sent += 1
        yield moment


def series_days(recurring: dict, start: date, every: int) -> Iterator[date]:
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
