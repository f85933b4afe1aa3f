"""The delivery document: its default, clean_delivery, and the times it decides for one
recipient (user_send_at, dnd_release_at)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .parsing import (
    MAX_THROTTLE_PER_MINUTE,
    MAX_TTL_HOURS,
    WALL_FORMAT,
    WEEKDAYS,
    Errors,
    _aware_utc,
    _bool,
    _bounded_int,
    _is_blank,
    parse_time,
    parse_wall,
    to_utc,
)

# --- The delivery document -----------------------------------------------------------------------


def default_delivery() -> dict:
    return {
        "respect_frequency_caps": True,
        "respect_throttle": True,
        "throttle_per_minute": None,
        "dnd": {"enabled": False, "timezone": "user", "action": "discard", "windows": {}},
        "push_ttl_hours": None,
        "push_expires_at": None,  # a wall time in the account's zone (WALL_FORMAT)
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
    doc["push_expires_at"] = None
    if channel == "push" and not _is_blank(raw.get("push_expires_at")):
        expires = parse_wall(raw.get("push_expires_at"))
        if expires is None:
            errors["push_expires_at"] = (
                "Enter the expiry as a date and time, like 2026-12-24 18:00."
            )
        else:
            doc["push_expires_at"] = expires.strftime(WALL_FORMAT)
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
    if doc["push_ttl_hours"] and doc["push_expires_at"]:
        errors["push_expires_at"] = (
            "Give a time to live or an expiry time, not both: the provider takes one."
        )
    return doc, errors


def push_expiry(delivery: dict, tz: ZoneInfo) -> datetime | None:
    """The absolute expiry of a push campaign's messages (aware UTC), or None."""
    wall = parse_wall((delivery or {}).get("push_expires_at"))
    return to_utc(wall, tz) if wall is not None else None


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
