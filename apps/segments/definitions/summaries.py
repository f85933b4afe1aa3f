"""Human-readable lines for a definition, for the list and detail pages and the wizard:
"Did Charged at least once in the last 30 days where Amount > 100"."""

from __future__ import annotations

from typing import Any

from .vocabulary import APP_FIELD_LABELS, GENDER_LABELS, NO_VALUE_OPERATORS, OPERATOR_LABELS


def _fmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def property_summary(cond: dict) -> str:
    op = cond["operator"]
    value = cond.get("value")
    if op in NO_VALUE_OPERATORS:
        return f"{cond['name']} {OPERATOR_LABELS[op]}"
    if op == "between":
        return f"{cond['name']} between {_fmt_value(value[0])} and {_fmt_value(value[1])}"
    if isinstance(value, list):
        shown = " or ".join(_fmt_value(v) for v in value)
        return f"{cond['name']} {'is one of' if op == 'equals' else 'is none of'} {shown}"
    return f"{cond['name']} {OPERATOR_LABELS[op]} {_fmt_value(value)}"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _count_summary(count: dict) -> str:
    low, high = count["min"], count["max"]
    if high is None:
        return f"at least {_times(low)}" if low else "any number of times"
    if low == high:
        return f"exactly {_times(low)}"
    if low <= 1:
        # min 1 is how the builder stores "at most N" (0 would be "did not"): the 1 is implied.
        return f"at most {_times(high)}"
    return f"between {low} and {high} times"


def _quantity(amount: int, unit: str) -> str:
    """`1, "days"` -> "1 day", `2, "hours"` -> "2 hours" (units are stored plural)."""
    return f"{amount} {unit[:-1] if amount == 1 and unit.endswith('s') else unit}"


def _duration(minutes: int) -> str:
    """A window in the largest unit that divides it exactly, as the builder shows it:
    1440 -> "1 day", 90 -> "90 minutes"."""
    for unit, size in (("days", 24 * 60), ("hours", 60)):
        if minutes and minutes % size == 0:
            return _quantity(minutes // size, unit)
    return _quantity(minutes, "minutes")


def _period_summary(period: dict | None) -> str:
    if period is None:
        return ""
    if period["type"] == "last_days":
        days = period["days"]
        return " in the last day" if days == 1 else f" in the last {days} days"
    return f" between {period['from']} and {period['to']}"


def _where(properties: list[dict]) -> str:
    return (" where " + " and ".join(property_summary(p) for p in properties)) if properties else ""


def event_summary(cond: dict) -> str:
    period = _period_summary(cond["period"])
    if cond["did"]:
        line = f"Did {cond['event']} {_count_summary(cond['count'])}{period}"
    elif period:
        line = f"Did not do {cond['event']}{period}"
    else:
        line = f"Never did {cond['event']}"
    line += _where(cond["properties"])
    follow = cond.get("not_followed_by")
    if follow:
        line += (
            f", not followed by {follow['event']}{_where(follow['properties'])}"
            f" within {_duration(follow['within_minutes'])}"
        )
    return line


def definition_summary(defn: dict) -> list[str]:
    """Human-readable lines for the list/detail pages, e.g.
    "Did Charged at least once in the last 30 days where Amount > 100"."""
    lines: list[str] = []
    behaviour = defn.get("behaviour")
    if behaviour:
        conds = behaviour["conditions"]
        if len(conds) > 1:
            lines.append("All of:" if behaviour["match"] == "all" else "Any of:")
        for cond in conds:
            if cond["type"] == "group":
                joiner = " or " if cond["match"] == "any" else " and "
                lines.append("(" + joiner.join(event_summary(c) for c in cond["conditions"]) + ")")
            else:
                lines.append(event_summary(cond))
    live = defn.get("live")
    if live:
        where = _where(live.get("properties") or [])
        if live["type"] == "action":
            lines.append(f"Live: does {live['event']}{where}")
        elif live["type"] == "inaction":
            not_where = _where(live.get("not_properties") or [])
            lines.append(
                f"Live: does {live['event']}{where} and not {live['not_event']}{not_where} "
                f"within {_duration(live['within_minutes'])}"
            )
        else:
            off = live["offset"]
            when = (
                f"on {live['property']}"
                if off["direction"] == "on"
                else f"{_quantity(off['amount'], off['unit'])} {off['direction']} "
                f"{live['property']}"
            )
            lines.append(f"Live: {when} of {live['event']}")
    for cond in defn.get("profile", []):
        lines.append("Profile: " + property_summary(cond))
    demo = defn.get("demographics") or {}
    age = demo.get("age")
    if age:
        if age["min"] is not None and age["max"] is not None:
            lines.append(f"Age {age['min']} to {age['max']}")
        elif age["min"] is not None:
            lines.append(f"Age {age['min']} or older")
        else:
            lines.append(f"Age {age['max']} or younger")
    if demo.get("gender"):
        lines.append("Gender: " + " or ".join(GENDER_LABELS[g] for g in demo["gender"]))
    geo = defn.get("geography") or {}
    for key, label in (("countries", "Country"), ("regions", "Region"), ("cities", "City")):
        if geo.get(key):
            lines.append(f"{label}: " + " or ".join(geo[key]))
    for centre in defn.get("radius", []):
        where = centre["label"] or f"{centre['latitude']:.4f}, {centre['longitude']:.4f}"
        lines.append(f"Within {centre['radius_km']:g} km of {where}")
    reach = defn.get("reachability") or {}
    texts = {
        "has_email": ("Has an email address", "Has no email address"),
        "has_phone": ("Has a phone number", "Has no phone number"),
        "email_unsubscribed": ("Unsubscribed from email", "Not unsubscribed from email"),
        "sms_unsubscribed": ("Unsubscribed from SMS", "Not unsubscribed from SMS"),
        "push_reachable": ("Reachable by push", "Not reachable by push"),
    }
    for key, value in reach.items():
        lines.append(texts[key][0 if value else 1])
    for cond in defn.get("app_fields", []):
        label = APP_FIELD_LABELS.get(cond["name"], cond["name"])
        lines.append("A device with " + property_summary({**cond, "name": label}))
    if not lines:
        lines.append("All users")
    return lines
