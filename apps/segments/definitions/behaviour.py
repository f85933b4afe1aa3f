"""The "behaviour" section: event conditions (did / did not, period, count, properties, not
followed by) and one level of groups, matched all or any."""

from __future__ import annotations

from typing import Any

from .errors import ErrorCollector, join_path
from .fields import date_value, int_value, text_value
from .properties import property_list_normalise
from .vocabulary import MAX_CONDITIONS, MAX_COUNT, MAX_WITHIN_MINUTES


def _period(raw: Any, errs: ErrorCollector, path: str) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add(path, "Expected a period object.")
        return None
    kind = raw.get("type")
    if kind in (None, "ever") and not (set(raw) - {"type"}):
        return None
    if kind == "last_days":
        errs.unknown_keys(raw, {"type", "days"}, path)
        days = int_value(raw.get("days"), errs, join_path(path, "days"), minimum=1)
        if days is not None and days > 3650:
            errs.add(join_path(path, "days"), "At most 3650 days.")
            return None
        return None if days is None else {"type": "last_days", "days": days}
    if kind == "between":
        errs.unknown_keys(raw, {"type", "from", "to"}, path)
        start = date_value(raw.get("from"), errs, join_path(path, "from"))
        end = date_value(raw.get("to"), errs, join_path(path, "to"))
        if start and end and end < start:
            errs.add(join_path(path, "to"), "The end date is before the start date.")
            return None
        if start and end:
            return {"type": "between", "from": start, "to": end}
        return None
    errs.add(join_path(path, "type"), "Choose last_days, between or ever.")
    return None


def _count(raw: Any, errs: ErrorCollector, path: str) -> dict:
    default = {"min": 1, "max": None}
    if raw is None:
        return default
    if not isinstance(raw, dict):
        errs.add(path, "Expected {min, max}.")
        return default
    errs.unknown_keys(raw, {"min", "max"}, path)
    low = raw.get("min")
    high = raw.get("max")
    low = (
        1
        if low in (None, "")
        else int_value(low, errs, join_path(path, "min"), minimum=0, maximum=MAX_COUNT)
    )
    high = (
        None
        if high in (None, "")
        else int_value(high, errs, join_path(path, "max"), minimum=0, maximum=MAX_COUNT)
    )
    if low is None:
        return default
    if high is not None and low > high:
        errs.add(join_path(path, "max"), "At most must not be lower than at least.")
        return default
    return {"min": low, "max": high}


def _event_condition(raw: Any, errs: ErrorCollector, path: str) -> dict | None:
    errs.unknown_keys(
        raw, {"type", "did", "event", "period", "count", "properties", "not_followed_by"}, path
    )
    did = raw.get("did", True)
    if not isinstance(did, bool):
        errs.add(join_path(path, "did"), "Expected true (did) or false (did not).")
        did = True
    event = text_value(raw.get("event"), errs, join_path(path, "event"), label="an event name")
    period = _period(raw.get("period"), errs, join_path(path, "period"))
    count = _count(raw.get("count"), errs, join_path(path, "count"))
    if not did:
        # "Did not" means zero matching occurrences; a count would contradict it.
        count = {"min": 1, "max": None}
    elif count["max"] == 0:
        errs.add(join_path(path, "count.max"), "Use 'did not' for zero occurrences.")
    properties = property_list_normalise(raw.get("properties"), errs, join_path(path, "properties"))
    not_followed_by = _not_followed_by(
        raw.get("not_followed_by"), errs, join_path(path, "not_followed_by"), did=did
    )
    if event is None:
        return None
    cond = {
        "type": "event",
        "did": did,
        "event": event,
        "period": period,
        "count": count,
        "properties": properties,
    }
    if not_followed_by:
        cond["not_followed_by"] = not_followed_by
    return cond


def _not_followed_by(raw: Any, errs: ErrorCollector, path: str, *, did: bool) -> dict | None:
    """Extension to format v1 (optional, absent unless used): an occurrence counts only if no
    matching `event` happened in the `within_minutes` after it - past-behaviour "did A and not
    B within T" (abandoned cart). Only an occurrence whose window has fully elapsed counts
    (its time <= now - T): a cart added five minutes ago with a one-day window is not (yet)
    abandoned."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add(path, "Expected {event, within_minutes, properties}.")
        return None
    if not did:
        errs.add(path, "Only an event that was done can be 'not followed by' another.")
        return None
    errs.unknown_keys(raw, {"event", "within_minutes", "properties"}, path)
    event = text_value(raw.get("event"), errs, join_path(path, "event"), label="an event name")
    within = int_value(
        raw.get("within_minutes"),
        errs,
        join_path(path, "within_minutes"),
        minimum=1,
        maximum=MAX_WITHIN_MINUTES,
    )
    properties = property_list_normalise(raw.get("properties"), errs, join_path(path, "properties"))
    if event is None or within is None:
        return None
    return {"event": event, "within_minutes": within, "properties": properties}


def _match(raw: Any, errs: ErrorCollector, path: str) -> str:
    match = raw if raw is not None else "all"
    if match not in ("all", "any"):
        errs.add(path, "Choose all or any.")
        return "all"
    return match


def behaviour_normalise(raw: Any, errs: ErrorCollector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add("behaviour", "Expected an object with match and conditions.")
        return None
    errs.unknown_keys(raw, {"match", "conditions"}, "behaviour")
    match = _match(raw.get("match"), errs, "behaviour.match")
    conditions_raw = raw.get("conditions") or []
    if not isinstance(conditions_raw, list):
        errs.add("behaviour.conditions", "Expected a list of conditions.")
        return None
    if len(conditions_raw) > MAX_CONDITIONS:
        errs.add("behaviour.conditions", f"At most {MAX_CONDITIONS} conditions.")
        return None
    conditions = []
    for i, item in enumerate(conditions_raw):
        path = f"behaviour.conditions[{i}]"
        if not isinstance(item, dict):
            errs.add(path, "Expected a condition object.")
            continue
        kind = item.get("type", "event")
        if kind == "event":
            cond = _event_condition(item, errs, path)
        elif kind == "group":
            errs.unknown_keys(item, {"type", "match", "conditions"}, path)
            inner_raw = item.get("conditions") or []
            if not isinstance(inner_raw, list):
                errs.add(join_path(path, "conditions"), "Expected a list of conditions.")
                continue
            inner = []
            for j, sub in enumerate(inner_raw):
                sub_path = f"{path}.conditions[{j}]"
                if not isinstance(sub, dict) or sub.get("type", "event") != "event":
                    # One level of nesting only: a group holds event conditions.
                    errs.add(sub_path, "A group holds event conditions only.")
                    continue
                sub_cond = _event_condition(sub, errs, sub_path)
                if sub_cond is not None:
                    inner.append(sub_cond)
            group_match = _match(item.get("match"), errs, join_path(path, "match"))
            cond = {"type": "group", "match": group_match, "conditions": inner} if inner else None
        else:
            errs.add(join_path(path, "type"), "Choose event or group.")
            continue
        if cond is not None:
            conditions.append(cond)
    if not conditions:
        return None
    return {"match": match, "conditions": conditions}
