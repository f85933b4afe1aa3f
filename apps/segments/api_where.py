"""Translate the Create Campaign API's `where` object into a segment definition (format v1).

    where.event_name / from / to            -> an event condition (did, between those dates)
    where.common_profile_properties
        .profile_fields [{name, operator, value}]   -> "profile"
    where.advanced_query.did_all [...]      -> event conditions at the top level (match all)
    where.advanced_query.did_any [...]      -> one nested {"type": "group", "match": "any"}
    where.advanced_query.did_not [...]      -> event conditions with did: false

Each advanced item is {event_name, from, to, operator, value, event_properties}; the occurrence
operator and value become the count bounds:

    greater_than n -> min n+1            greater_than_equals n -> min n
    less_than n    -> min 1, max n-1     less_than_equals n    -> min 1, max n
    equals n       -> min n, max n       between [a, b]        -> min a, max b

"less than" stays within "did" (at least once): people who never did the event are what
did_not is for, and a definition "did X at most 0 times" is refused the same way. Event
properties are {name, operator, value} or the conversion-goal spelling {property_name,
operator, property_value}; both are accepted.

The translation is lossless: every piece of the `where` lands in the definition, and the
definition's own validation runs on the result; errors are reported in API terms
("where.advanced_query.did_all[0].operator").
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from apps.segments.definitions import DefinitionError, definition_validate

OCCURRENCE_OPERATORS = (
    "greater_than",
    "greater_than_equals",
    "less_than",
    "less_than_equals",
    "equals",
    "between",
)
WHERE_KEYS = {"event_name", "from", "to", "common_profile_properties", "advanced_query"}
ADVANCED_KEYS = {"did_all", "did_any", "did_not"}
ITEM_KEYS = {"event_name", "from", "to", "operator", "value", "event_properties"}

# How a path inside one translated event condition reads in API terms.
_EVENT_FIELDS = {
    "event": "event_name",
    "period": "from",
    "period.from": "from",
    "period.to": "to",
    "count": "value",
    "count.min": "value",
    "count.max": "value",
}


def _api_date(value: Any, errors: dict[str, str], path: str) -> str | None:
    text = str(value).strip() if isinstance(value, int | str) and value != "" else ""
    if not isinstance(value, bool) and re.fullmatch(r"[0-9]{8}", text):
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            pass
    errors[path] = "Enter a date as YYYYMMDD, e.g. 20171001."
    return None


def _api_int(value: Any, errors: dict[str, str], path: str) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        errors[path] = "Enter a whole number of occurrences (0 or more)."
        return None
    return value


def _count(item: dict, errors: dict[str, str], path: str) -> dict | None:
    operator = item.get("operator")
    value = item.get("value")
    if operator is None and value is None:
        return None
    if operator not in OCCURRENCE_OPERATORS:
        errors[f"{path}.operator"] = "Choose one of: " + ", ".join(OCCURRENCE_OPERATORS) + "."
        return None
    vpath = f"{path}.value"
    if value is None:
        errors[vpath] = f"{operator} needs a value."
        return None
    if operator == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            errors[vpath] = "between needs exactly two values [low, high]."
            return None
        low = _api_int(value[0], errors, vpath)
        high = _api_int(value[1], errors, vpath)
        if low is None or high is None:
            return None
        if low > high:
            errors[vpath] = "The low value must not be greater than the high value."
            return None
        return {"min": low, "max": high}
    n = _api_int(value, errors, vpath)
    if n is None:
        return None
    bounds = {
        "greater_than": (n + 1, None),
        "greater_than_equals": (n, None),
        "less_than": (1, n - 1),
        "less_than_equals": (1, n),
        "equals": (n, n),
    }[operator]
    if bounds[1] is not None and bounds[1] < 1:
        errors[vpath] = "Use did_not for people who never did the event."
        return None
    return {"min": bounds[0], "max": bounds[1]}


def _period(item: dict, errors: dict[str, str], path: str) -> dict | None:
    start, end = item.get("from"), item.get("to")
    if start is None and end is None:
        return None
    if start is None or end is None:
        missing = "from" if start is None else "to"
        errors[f"{path}.{missing}" if path else missing] = "from and to go together."
        return None
    prefix = f"{path}." if path else ""
    start_iso = _api_date(start, errors, f"{prefix}from")
    end_iso = _api_date(end, errors, f"{prefix}to")
    if start_iso and end_iso:
        return {"type": "between", "from": start_iso, "to": end_iso}
    return None


def _properties(raw: Any, errors: dict[str, str], path: str) -> tuple[list[dict], list[dict]]:
    """Event properties in definition form, and per property the API key names used."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        errors[path] = "Expected a list of {name, operator, value}."
        return [], []
    out, spellings = [], []
    for i, item in enumerate(raw):
        ipath = f"{path}[{i}]"
        if not isinstance(item, dict):
            errors[ipath] = "Expected {name, operator, value}."
            continue
        name_key = "property_name" if "property_name" in item else "name"
        value_key = "property_value" if "property_value" in item else "value"
        for key in item:
            if key not in {name_key, value_key, "operator"}:
                errors[f"{ipath}.{key}"] = "Unknown field."
        cond = {"name": item.get(name_key), "operator": item.get("operator")}
        if value_key in item:
            cond["value"] = item[value_key]
        out.append(cond)
        spellings.append({"name": name_key, "operator": "operator", "value": value_key})
    return out, spellings


class _PathMap:
    """Remembers where each definition piece came from, to report errors in API terms."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[str, list[dict]]] = {}
        self.prefixes: dict[str, str] = {}

    def api_path(self, path: str) -> str:
        for prefix, (api_prefix, spellings) in sorted(
            self.events.items(), key=lambda kv: -len(kv[0])
        ):
            if path == prefix:
                return api_prefix
            if path.startswith(prefix + "."):
                rest = path[len(prefix) + 1 :]
                match = re.fullmatch(r"properties\[(\d+)\](?:\.(\w+))?", rest)
                if match:
                    i = int(match.group(1))
                    field = match.group(2)
                    if field and i < len(spellings):
                        field = spellings[i].get(field, field)
                    tail = f".{field}" if field else ""
                    return f"{api_prefix}.event_properties[{i}]{tail}".lstrip(".")
                return _join(api_prefix, _EVENT_FIELDS.get(rest, rest))
        for prefix, api_prefix in sorted(self.prefixes.items(), key=lambda kv: -len(kv[0])):
            if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
                return api_prefix + path[len(prefix) :]
        return f"where.{path}"


def _join(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if prefix else field


def _event(item: Any, errors: dict, path: str, *, did: bool, occurrences: bool) -> tuple:
    if not isinstance(item, dict):
        errors[path] = "Expected {event_name, from, to, operator, value}."
        return None, []
    allowed = ITEM_KEYS if occurrences else {"event_name", "from", "to"}
    if occurrences:
        for key in item:
            if key not in allowed:
                errors[f"{path}.{key}"] = "Unknown field."
    cond: dict[str, Any] = {"type": "event", "did": did, "event": item.get("event_name")}
    period = _period(item, errors, path)
    if period:
        cond["period"] = period
    if occurrences:
        if did:
            count = _count(item, errors, path)
            if count:
                cond["count"] = count
        elif item.get("operator") is not None or item.get("value") is not None:
            errors[f"{path}.operator"] = "did_not means zero occurrences; drop operator/value."
        props, spellings = _properties(
            item.get("event_properties"), errors, f"{path}.event_properties"
        )
        cond["properties"] = props
        return cond, spellings
    return cond, []


def definition_from_api_where(where: Any) -> dict:
    """The normalised definition for an API `where` (raises DefinitionError, API paths)."""
    if where is None or where == {}:
        return definition_validate({})
    if not isinstance(where, dict):
        raise DefinitionError({"where": "Expected an object (send {} for everyone)."})
    errors: dict[str, str] = {}
    paths = _PathMap()
    for key in where:
        if key not in WHERE_KEYS:
            errors[f"where.{key}"] = "Unknown field."
    conditions: list[dict] = []

    def add(cond, spellings, api_prefix, def_path=None):
        if cond is None:
            return
        def_path = def_path or f"behaviour.conditions[{len(conditions)}]"
        paths.events[def_path] = (api_prefix, spellings)
        conditions.append(cond)

    if any(k in where for k in ("event_name", "from", "to")):
        cond, spellings = _event(where, errors, "where", did=True, occurrences=False)
        add(cond, spellings, "where")

    advanced = where.get("advanced_query")
    if advanced is not None:
        if not isinstance(advanced, dict):
            errors["where.advanced_query"] = "Expected {did_all, did_any, did_not}."
            advanced = {}
        for key in advanced:
            if key not in ADVANCED_KEYS:
                errors[f"where.advanced_query.{key}"] = "Unknown field."
        lists = {}
        for key in ("did_all", "did_any", "did_not"):
            items = advanced.get(key) or []
            if not isinstance(items, list):
                errors[f"where.advanced_query.{key}"] = "Expected a list of event conditions."
                items = []
            lists[key] = items
        for i, item in enumerate(lists["did_all"]):
            api = f"where.advanced_query.did_all[{i}]"
            add(*_event(item, errors, api, did=True, occurrences=True), api)
        for i, item in enumerate(lists["did_not"]):
            api = f"where.advanced_query.did_not[{i}]"
            add(*_event(item, errors, api, did=False, occurrences=True), api)
        if lists["did_any"]:
            group_path = f"behaviour.conditions[{len(conditions)}]"
            inner = []
            for i, item in enumerate(lists["did_any"]):
                api = f"where.advanced_query.did_any[{i}]"
                cond, spellings = _event(item, errors, api, did=True, occurrences=True)
                if cond is not None:
                    paths.events[f"{group_path}.conditions[{len(inner)}]"] = (api, spellings)
                    inner.append(cond)
            paths.prefixes[group_path] = "where.advanced_query.did_any"
            conditions.append({"type": "group", "match": "any", "conditions": inner})

    raw: dict[str, Any] = {}
    if conditions:
        raw["behaviour"] = {"match": "all", "conditions": conditions}

    common = where.get("common_profile_properties")
    if common is not None:
        if not isinstance(common, dict):
            errors["where.common_profile_properties"] = "Expected {profile_fields: [...]}."
        else:
            for key in common:
                if key != "profile_fields":
                    errors[f"where.common_profile_properties.{key}"] = "Unknown field."
            fields = common.get("profile_fields") or []
            if not isinstance(fields, list):
                errors["where.common_profile_properties.profile_fields"] = (
                    "Expected a list of {name, operator, value}."
                )
            else:
                raw["profile"] = fields
                paths.prefixes["profile"] = "where.common_profile_properties.profile_fields"

    if errors:
        raise DefinitionError(errors)
    try:
        return definition_validate(raw)
    except DefinitionError as exc:
        translated: dict[str, str] = {}
        for path, message in exc.errors.items():
            translated.setdefault(paths.api_path(path), message)
        raise DefinitionError(translated) from None
