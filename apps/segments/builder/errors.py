"""Where a validation error is shown: beside the input it belongs to (`attach_errors`,
keyed by definition path) or, for the estimate panel, in the builder's words (`error_label`)."""

import re
from collections.abc import Mapping

# --- Errors beside the inputs ----------------------------------------------------------------

_EVENT_FIELDS = {
    "event": "event",
    "did": "did",
    "period": "period",
    "count": "count",
    "properties": "event",
    "type": "event",
}
_PROP_FIELDS = {"name": "name", "operator": "operator", "value": "value"}
_RADIUS_FIELDS = {
    "latitude": "latitude",
    "longitude": "longitude",
    "radius_km": "km",
    "label": "label",
}
_TOP_FIELDS = {
    "demographics.age.min": "age_min",
    "demographics.age.max": "age_max",
    "demographics.age": "age_min",
    "demographics.gender": "gender",
    "demographics": "age_min",
    "geography.countries": "countries",
    "geography.regions": "regions",
    "geography.cities": "cities",
    "geography": "countries",
    "behaviour.match": "match",
    "behaviour": "match",
    "kind": "kind",
}


def _rest(path: str, prefix: str) -> str | None:
    """What follows `prefix` in `path` ('.value[1]' for prefix 'profile[0]'), None if the
    path is not inside it."""
    if path == prefix:
        return ""
    if path.startswith(prefix) and path[len(prefix)] in ".[":
        return path[len(prefix) :]
    return None


def _prop_field(rest: str) -> str:
    if rest.startswith(".value[1]"):
        return "value2"
    head = re.split(r"[.\[]", rest.lstrip("."), maxsplit=1)[0]
    return _PROP_FIELDS.get(head, "value")


def _event_field(rest: str, row: dict) -> str:
    if rest.startswith(".not_followed_by.within_minutes"):
        return "nf_n"
    if rest.startswith(".not_followed_by"):
        return "nf_event"
    if rest.startswith(".count.max"):
        # Only "between" shows a second box; otherwise the one count box holds the number.
        return "count_n2" if row["count_op"] == "between" else "count_n"
    if rest.startswith(".count"):
        return "count_n"
    if rest.startswith(".period.days"):
        return "days"
    if rest.startswith(".period.from"):
        return "from"
    if rest.startswith(".period.to") or rest.startswith(".period"):
        return "to" if "to" in rest else "period"
    head = re.split(r"[.\[]", rest.lstrip("."), maxsplit=1)[0]
    return _EVENT_FIELDS.get(head, "event")


def _attach_prop(rows: list[dict], path: str, message: str) -> bool:
    for row in rows:
        if row.get("path") and (rest := _rest(path, row["path"])) is not None:
            field = _prop_field(rest)
            if field == "value" and row["operator"] == "between" and not row["value2"].strip():
                field = "value2"  # "between needs two values": the empty box is the second
            row["errors"].setdefault(field, message)
            return True
    return False


def _attach_event(row: dict, path: str, message: str) -> bool:
    if not row.get("path") or (rest := _rest(path, row["path"])) is None:
        return False
    if _attach_prop(row["props"], path, message) or _attach_prop(row["nf_props"], path, message):
        return True
    row["errors"].setdefault(_event_field(rest, row), message)
    return True


def attach_errors(rows: dict, errors: Mapping[str, str]) -> None:
    """Puts each error (keyed by definition path, as DefinitionError gives them) on the row
    and input it belongs to; what fits nowhere goes to `other_errors`, path and all."""
    for path, message in errors.items():
        if _attach_one(rows, path, str(message)):
            continue
        rows["other_errors"].append(f"{path}: {message}" if path else str(message))


def _attach_one(rows: dict, path: str, message: str) -> bool:
    if path == "name":
        rows["errors"].setdefault("name", message)
        return True
    for row in rows["conditions"]:
        if row["type"] == "group":
            if any(_attach_event(member, path, message) for member in row["conditions"]):
                return True
            if row.get("path") and _rest(path, row["path"]) is not None:
                row["errors"].setdefault("match", message)
                return True
        elif _attach_event(row, path, message):
            return True
    for key in ("profile", "app_fields"):
        if _attach_prop(rows[key], path, message):
            return True
    for row in rows["radius"]:
        if row.get("path") and (rest := _rest(path, row["path"])) is not None:
            head = re.split(r"[.\[]", rest.lstrip("."), maxsplit=1)[0]
            row["errors"].setdefault(_RADIUS_FIELDS.get(head, "latitude"), message)
            return True
    if path.startswith("reachability"):
        key = path.partition(".")[2] or "_"
        rows["errors"].setdefault(f"reach_{key}", message)
        rows["errors"].setdefault("reachability", message)
        return True
    if path == "live" or path.startswith("live.") or path.startswith("live["):
        live = rows["live"]
        if _attach_prop(live["props"], path, message) or _attach_prop(
            live["not_props"], path, message
        ):
            return True
        head = re.split(r"[.\[]", path[len("live.") :], maxsplit=1)[0] if "." in path else "type"
        field = {"offset": "amount", "properties": "event", "not_properties": "not_event"}.get(
            head, head
        )
        if path.startswith("live.offset.direction"):
            field = "direction"
        elif path.startswith("live.offset.unit"):
            field = "unit"
        live["errors"].setdefault(field or "type", message)
        return True
    if path.startswith("app_fields"):
        rows["errors"].setdefault("app_fields", message)
        return True
    for prefix, field in _TOP_FIELDS.items():
        if _rest(path, prefix) is not None:
            rows["errors"].setdefault(field, message)
            return True
    return False


# --- Errors in words, for the estimate panel ---------------------------------------------------

_LABELS = {
    "behaviour": "Past behaviour",
    "conditions": "condition",
    "properties": "property filter",
    "not_properties": "filter on the event not done",
    "profile": "Profile property",
    "app_fields": "App field",
    "radius": "Radius centre",
    "live": "Live trigger",
    "demographics": "Demographics",
    "geography": "Geography",
    "reachability": "Reachability",
    "radius_km": "radius (km)",
    "within_minutes": "within (minutes)",
    "not_event": "event not done",
    "not_followed_by": "not followed by",
    "count": "how often",
    "min": "at least",
    "max": "at most",
}


def error_label(path: str) -> str:
    """'behaviour.conditions[0].properties[1].value' -> 'Past behaviour → condition 1 →
    property filter 2 → value': where the problem is, in the builder's words."""
    parts = []
    for segment in path.split("."):
        match = re.fullmatch(r"(\w+)\[(\d+)\]", segment)
        if match:
            name, index = match.groups()
            parts.append(f"{_LABELS.get(name, name.replace('_', ' '))} {int(index) + 1}")
        elif segment:
            parts.append(_LABELS.get(segment, segment.replace("_", " ")))
    return " → ".join(parts) if parts else "Definition"
