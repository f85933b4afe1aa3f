"""The "live" section: the trigger of a live segment (an action, an inaction within time, or
a moment before / on / after a date property)."""

from __future__ import annotations

from typing import Any

from .errors import ErrorCollector
from .fields import int_value, text_value
from .properties import property_list_normalise
from .vocabulary import LIVE_TYPES, MAX_COUNT, MAX_WITHIN_MINUTES, OFFSET_DIRECTIONS, OFFSET_UNITS


def live_normalise(raw: Any, errs: ErrorCollector) -> dict | None:
    if not isinstance(raw, dict):
        errs.add("live", "A live segment needs a trigger: action, inaction or date_property.")
        return None
    kind = raw.get("type")
    if kind not in LIVE_TYPES:
        errs.add("live.type", "Choose action, inaction or date_property.")
        return None
    event = text_value(raw.get("event"), errs, "live.event", label="an event name")
    if kind == "action":
        errs.unknown_keys(raw, {"type", "event", "properties"}, "live")
        props = property_list_normalise(raw.get("properties"), errs, "live.properties")
        return None if event is None else {"type": kind, "event": event, "properties": props}
    if kind == "inaction":
        errs.unknown_keys(
            raw,
            {"type", "event", "properties", "not_event", "not_properties", "within_minutes"},
            "live",
        )
        props = property_list_normalise(raw.get("properties"), errs, "live.properties")
        not_event = text_value(raw.get("not_event"), errs, "live.not_event", label="an event name")
        not_props = property_list_normalise(raw.get("not_properties"), errs, "live.not_properties")
        within = int_value(raw.get("within_minutes"), errs, "live.within_minutes", minimum=1)
        if within is not None and within > MAX_WITHIN_MINUTES:
            errs.add("live.within_minutes", f"At most {MAX_WITHIN_MINUTES} minutes (30 days).")
            within = None
        if None in (event, not_event, within):
            return None
        return {
            "type": kind,
            "event": event,
            "properties": props,
            "not_event": not_event,
            "not_properties": not_props,
            "within_minutes": within,
        }
    errs.unknown_keys(raw, {"type", "event", "property", "offset"}, "live")
    prop = text_value(raw.get("property"), errs, "live.property", label="a date property")
    offset = raw.get("offset")
    if not isinstance(offset, dict):
        errs.add("live.offset", "Expected {direction, amount, unit}.")
        return None
    errs.unknown_keys(offset, {"direction", "amount", "unit"}, "live.offset")
    direction = offset.get("direction")
    if direction not in OFFSET_DIRECTIONS:
        errs.add("live.offset.direction", "Choose before, after or on.")
        return None
    unit = offset.get("unit", "days")
    if unit not in OFFSET_UNITS:
        errs.add("live.offset.unit", "Choose minutes, hours or days.")
        return None
    amount = (
        0
        if direction == "on"
        else int_value(
            offset.get("amount"), errs, "live.offset.amount", minimum=1, maximum=MAX_COUNT
        )
    )
    if None in (event, prop, amount):
        return None
    return {
        "type": kind,
        "event": event,
        "property": prop,
        "offset": {"direction": direction, "amount": amount, "unit": unit},
    }
