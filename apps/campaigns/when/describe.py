"""The overview's sentences for the when and delivery documents."""

from __future__ import annotations

from .parsing import DASH, WEEKDAY_LABELS, WEEKDAYS, human_day, human_wall, parse_date, parse_wall

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
        expires = parse_wall(delivery.get("push_expires_at"))
        if expires is not None:
            rows.append(("Expires", f"{human_wall(expires)} (account time)"))
        else:
            rows.append(("Time to live", _plural(ttl, "hour") if ttl else "The provider's default"))
    return rows
