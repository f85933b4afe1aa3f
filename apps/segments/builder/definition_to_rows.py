"""A stored (normalised or raw) definition -> the rows the builder renders."""

from typing import Any

from .choices import UNIT_MINUTES
from .rows import empty_event_row, empty_group_row, empty_prop_row, empty_radius_row, empty_rows
from .values import names_to_text, scalar_to_text, value_to_text


def _prop_rows(properties: list, prefix: str) -> list[dict]:
    rows = []
    for i, prop in enumerate(properties or []):
        row = empty_prop_row(f"{prefix}-{i}")
        row["name"] = str(prop.get("name", ""))
        row["operator"] = str(prop.get("operator", "equals"))
        value = prop.get("value")
        if row["operator"] == "between" and isinstance(value, list) and len(value) == 2:
            row["value"], row["value2"] = scalar_to_text(value[0]), scalar_to_text(value[1])
        elif "value" in prop:
            row["value"] = value_to_text(value)
        rows.append(row)
    return rows


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def within_in_largest_unit(minutes: Any) -> tuple[str, str]:
    """1440 -> ("1", "days"), 90 -> ("90", "minutes"): the largest unit that divides the
    window exactly, so what is shown posts back as the same number of minutes."""
    if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
        for unit in ("days", "hours"):
            if minutes % UNIT_MINUTES[unit] == 0:
                return str(minutes // UNIT_MINUTES[unit]), unit
        return str(minutes), "minutes"
    return _text(minutes), "minutes"


def _event_rows(condition: dict, prefix: str) -> dict:
    row = empty_event_row(prefix)
    row["did"] = "did" if condition.get("did", True) else "did_not"
    row["event"] = _text(condition.get("event"))
    period = condition.get("period") or {}
    if period.get("type") == "last_days":
        row["period"], row["days"] = "last_days", _text(period.get("days"))
    elif period.get("type") == "between":
        row["period"] = "between"
        row["from"], row["to"] = _text(period.get("from")), _text(period.get("to"))
    count = condition.get("count") or {}
    low, high = count.get("min", 1), count.get("max")
    if high is None:
        row["count_op"], row["count_n"] = "at_least", _text(1 if low is None else low)
    elif low == high:
        row["count_op"], row["count_n"] = "exactly", _text(low)
    elif low == 1:
        row["count_op"], row["count_n"] = "at_most", _text(high)
    else:
        row["count_op"], row["count_n"], row["count_n2"] = "between", _text(low), _text(high)
    row["props"] = _prop_rows(condition.get("properties"), f"{prefix}-prop")
    follow = condition.get("not_followed_by") or {}
    if follow:
        row["nf_event"] = _text(follow.get("event"))
        row["nf_n"], row["nf_unit"] = within_in_largest_unit(follow.get("within_minutes"))
        row["nf_props"] = _prop_rows(follow.get("properties"), f"{prefix}-nfprop")
    return row


def builder_rows(definition: dict | None) -> dict:
    """A (normalised or raw) definition -> the rows the builder renders."""
    definition = definition or {}
    rows = empty_rows()
    rows["kind"] = "live" if definition.get("kind") == "live" else "past"
    behaviour = definition.get("behaviour") or {}
    rows["match"] = "any" if behaviour.get("match") == "any" else "all"
    for i, condition in enumerate(behaviour.get("conditions") or []):
        prefix = f"cond-{i}"
        if condition.get("type") == "group":
            group = empty_group_row(prefix)
            group["match"] = "all" if condition.get("match") == "all" else "any"
            group["conditions"] = [
                _event_rows(member, f"{prefix}-sub-{j}")
                for j, member in enumerate(condition.get("conditions") or [])
            ]
            rows["conditions"].append(group)
        else:
            rows["conditions"].append(_event_rows(condition, prefix))
    rows["profile"] = _prop_rows(definition.get("profile"), "profile")
    rows["app_fields"] = _prop_rows(definition.get("app_fields"), "app")
    demographics = definition.get("demographics") or {}
    age = demographics.get("age") or {}
    rows["age_min"], rows["age_max"] = _text(age.get("min")), _text(age.get("max"))
    rows["gender"] = list(demographics.get("gender") or [])
    geography = definition.get("geography") or {}
    for key in ("countries", "regions", "cities"):
        rows[key] = names_to_text(geography.get(key) or [])
    for i, centre in enumerate(definition.get("radius") or []):
        row = empty_radius_row(f"radius-{i}")
        row["label"] = _text(centre.get("label"))
        row["latitude"] = _text(centre.get("latitude"))
        row["longitude"] = _text(centre.get("longitude"))
        row["km"] = _text(centre.get("radius_km"))
        rows["radius"].append(row)
    for key, value in (definition.get("reachability") or {}).items():
        if key in rows["reach"] and value is not None:
            rows["reach"][key] = "yes" if value else "no"
    trigger = definition.get("live") or {}
    if trigger:
        live = rows["live"]
        live["type"] = _text(trigger.get("type")) or "action"
        live["event"] = _text(trigger.get("event"))
        live["props"] = _prop_rows(trigger.get("properties"), "live-prop")
        live["not_event"] = _text(trigger.get("not_event"))
        live["not_props"] = _prop_rows(trigger.get("not_properties"), "live-notprop")
        live["within_minutes"] = _text(trigger.get("within_minutes"))
        live["property"] = _text(trigger.get("property"))
        offset = trigger.get("offset") or {}
        live["direction"] = _text(offset.get("direction")) or "before"
        live["amount"] = _text(offset.get("amount"))
        live["unit"] = _text(offset.get("unit")) or "minutes"
    return rows
