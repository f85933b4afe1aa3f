"""The segment builder's form: indexed field names <-> definition format v1.

The builder is a plain server-rendered form whose inputs have indexed names
(`cond-0-event`, `cond-0-prop-1-operator`, `cond-1-sub-0-event`, `profile-2-value`,
`radius-0-latitude`, `live-prop-0-name`, …). Three steps, each a pure function:

- `rows_from_querydict(querydict)` reads the posted fields into *rows*: plain dicts of the
  raw strings the marketer typed, one per condition / property / centre, in page order.
- `definition_from_rows(rows)` turns rows into a raw definition (for
  `definition_validate`) and parse errors for what cannot even be read (a latitude that is
  not a number). Rows left completely blank are skipped, so an added-but-unfilled row does
  not turn the live estimate into an error. Each row remembers the definition path it
  became, so validation errors can be shown beside the right input (`attach_errors`).
- `builder_rows(definition)` renders a stored definition back into rows.

Add/remove buttons post `action=add-cond`, `action=remove-cond-2-prop-1`, … and
`apply_action` edits the rows before they are rendered again, so the page works with or
without JavaScript. Rows, not a definition, are what is re-rendered: what the marketer
typed survives a round trip even when it is not valid yet.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

from apps.audience.cities import CITIES
from apps.segments.definitions import MAX_WITHIN_MINUTES

OPERATORS = [
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("greater_than", ">"),
    ("greater_than_equals", "≥"),
    ("less_than", "<"),
    ("less_than_equals", "≤"),
    ("contains", "contains"),
    ("does_not_contain", "does not contain"),
    ("exists", "exists"),
    ("does_not_exist", "does not exist"),
    ("between", "between"),
]
NO_VALUE_OPERATORS = {"exists", "does_not_exist"}
LIST_OPERATORS = {"equals", "not_equals"}  # "a, b" means any of / none of
COUNT_OPS = [
    ("at_least", "at least"),
    ("at_most", "at most"),
    ("exactly", "exactly"),
    ("between", "between"),
]
PERIODS = [("ever", "ever"), ("last_days", "in the last N days"), ("between", "between dates")]
APP_FIELDS = [
    ("app_version", "App version"),
    ("make", "Device make"),
    ("model", "Device model"),
    ("os_version", "OS version"),
    ("sdk_version", "SDK version"),
]
GENDERS = [("M", "Male"), ("F", "Female"), ("O", "Other")]
REACHABILITY = [
    ("has_email", "Has email address"),
    ("has_phone", "Has phone number"),
    ("email_unsubscribed", "Unsubscribed email"),
    ("sms_unsubscribed", "Unsubscribed SMS"),
    ("push_reachable", "Reachable by push"),
]
LIVE_TYPES = [
    ("action", "Single action"),
    ("inaction", "Inaction within time"),
    ("date_property", "On a date/time"),
]
OFFSET_DIRECTIONS = [("before", "before"), ("on", "on"), ("after", "after")]
OFFSET_UNITS = [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
# "not followed by … within N <unit>" is stored in minutes; the units it is typed in.
UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 24 * 60}

# "Paris, France" -> the demo city's centre, for the radius datalist.
DEMO_CITY_CENTRES: dict[str, tuple[float, float]] = {
    f"{c.city}, {c.country}": (c.latitude, c.longitude) for c in CITIES
}

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


# --- Values: what a value box holds <-> JSON values ------------------------------------------


def _scalar_from_text(text: str) -> Any:
    """`100` is a number, `true`/`false` booleans, `"100"` (quoted) the text 100; anything
    else, ISO dates included, is text (the compiler recognises dates in text)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return json.loads(text)
        except ValueError:
            return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _split_commas(text: str) -> list[str]:
    """Splits on commas outside double quotes: `"a, b", c` -> ['"a, b"', 'c']."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def value_from_text(text: str, *, operator: str) -> Any:
    if operator in LIST_OPERATORS and "," in text:
        parts = [p for p in _split_commas(text) if p]
        if len(parts) > 1:
            return [_scalar_from_text(p) for p in parts]
    return _scalar_from_text(text)


def _scalar_to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if value is None:
        return ""
    text = str(value)
    # Quote text that would read back as something else (a number, a boolean, a list).
    if _scalar_from_text(text) != text or "," in text or text != text.strip() or not text:
        return json.dumps(text, ensure_ascii=False)
    return text


def value_to_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_scalar_to_text(v) for v in value)
    return _scalar_to_text(value)


def _names_from_text(text: str) -> list[str]:
    """Geography lists: comma-separated names, each kept as text."""
    names = []
    for part in _split_commas(text):
        if len(part) >= 2 and part[0] == part[-1] == '"':
            part = part[1:-1]
        if part:
            names.append(part)
    return names


def _names_to_text(names: list) -> str:
    return ", ".join(f'"{n}"' if "," in str(n) else str(n) for n in names)


def _number(text: str, path: str, errors: dict, *, integer: bool = False) -> Any:
    """A number typed in a box, or None when empty; an error names the field otherwise."""
    text = text.strip()
    if not text:
        return None
    if _INT.fullmatch(text):
        return int(text)
    if not integer and _FLOAT.fullmatch(text):
        return float(text)
    errors[path] = "Enter a whole number." if integer else "Enter a number."
    return None


# --- Rows ------------------------------------------------------------------------------------


def empty_prop_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "name": "",
        "operator": "equals",
        "value": "",
        "value2": "",
        "errors": {},
    }


def empty_event_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "type": "event",
        "did": "did",
        "event": "",
        "period": "ever",
        "days": "",
        "from": "",
        "to": "",
        "count_op": "at_least",
        "count_n": "1",
        "count_n2": "",
        "props": [],
        # "…and not followed by [nf_event] within [nf_n] [nf_unit]" (optional, did only)
        "nf_event": "",
        "nf_n": "",
        "nf_unit": "days",
        "nf_props": [],
        "errors": {},
    }


def empty_group_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "type": "group",
        "match": "any",
        "conditions": [empty_event_row(f"{prefix}-sub-0")],
        "errors": {},
    }


def empty_radius_row(prefix: str) -> dict:
    return {
        "prefix": prefix,
        "label": "",
        "latitude": "",
        "longitude": "",
        "km": "25",
        "errors": {},
    }


def empty_live() -> dict:
    return {
        "type": "action",
        "event": "",
        "props": [],
        "not_event": "",
        "not_props": [],
        "within_minutes": "",
        "property": "",
        "direction": "before",
        "amount": "",
        "unit": "minutes",
        "errors": {},
    }


def empty_rows() -> dict:
    return {
        "kind": "past",
        "match": "all",
        "conditions": [],
        "profile": [],
        "age_min": "",
        "age_max": "",
        "gender": [],
        "countries": "",
        "regions": "",
        "cities": "",
        "radius": [],
        "reach": {key: "" for key, _ in REACHABILITY},
        "app_fields": [],
        "live": empty_live(),
        "errors": {},
        "other_errors": [],
    }


def _indices(querydict: Mapping, pattern: str) -> list[int]:
    """Row indices present in the post, in numeric order: `cond-(\\d+)-type` -> [0, 2, 5]."""
    regex = re.compile(pattern)
    found = {int(m.group(1)) for key in querydict if (m := regex.fullmatch(key))}
    return sorted(found)


def _get(querydict: Mapping, key: str, default: str = "") -> str:
    value = querydict.get(key, default)
    return value if isinstance(value, str) else default


def _prop_rows_from(querydict: Mapping, prefix: str) -> list[dict]:
    rows = []
    for i in _indices(querydict, re.escape(prefix) + r"-(\d+)-name"):
        p = f"{prefix}-{i}"
        row = empty_prop_row(p)
        row.update(
            name=_get(querydict, f"{p}-name"),
            operator=_get(querydict, f"{p}-operator", "equals"),
            value=_get(querydict, f"{p}-value"),
            value2=_get(querydict, f"{p}-value2"),
        )
        rows.append(row)
    return rows


def _event_row_from(querydict: Mapping, p: str) -> dict:
    row = empty_event_row(p)
    for key in (
        "did",
        "event",
        "period",
        "days",
        "from",
        "to",
        "count_op",
        "count_n",
        "count_n2",
        "nf_event",
        "nf_n",
        "nf_unit",
    ):
        row[key] = _get(querydict, f"{p}-{key}", row[key])
    if row["nf_unit"] not in UNIT_MINUTES:
        row["nf_unit"] = "days"  # a hand-made post: read and re-shown as the default
    row["props"] = _prop_rows_from(querydict, f"{p}-prop")
    row["nf_props"] = _prop_rows_from(querydict, f"{p}-nfprop")
    return row


def rows_from_querydict(querydict: Mapping) -> dict:
    rows = empty_rows()
    rows["kind"] = "live" if _get(querydict, "kind") == "live" else "past"
    rows["match"] = "any" if _get(querydict, "match") == "any" else "all"
    for i in _indices(querydict, r"cond-(\d+)-type"):
        p = f"cond-{i}"
        if _get(querydict, f"{p}-type") == "group":
            group = empty_group_row(p)
            group["match"] = "all" if _get(querydict, f"{p}-match") == "all" else "any"
            group["conditions"] = [
                _event_row_from(querydict, f"{p}-sub-{j}")
                for j in _indices(querydict, re.escape(p) + r"-sub-(\d+)-did")
            ]
            rows["conditions"].append(group)
        else:
            rows["conditions"].append(_event_row_from(querydict, p))
    rows["profile"] = _prop_rows_from(querydict, "profile")
    rows["app_fields"] = _prop_rows_from(querydict, "app")
    for key in ("age_min", "age_max", "countries", "regions", "cities"):
        rows[key] = _get(querydict, key)
    getlist = getattr(querydict, "getlist", None)
    genders = getlist("gender") if getlist else querydict.get("gender", [])
    rows["gender"] = [g for g in genders if g in dict(GENDERS)]
    for i in _indices(querydict, r"radius-(\d+)-label"):
        p = f"radius-{i}"
        row = empty_radius_row(p)
        for key in ("label", "latitude", "longitude", "km"):
            row[key] = _get(querydict, f"{p}-{key}")
        rows["radius"].append(row)
    for key, _ in REACHABILITY:
        value = _get(querydict, f"reach-{key}")
        rows["reach"][key] = value if value in ("yes", "no") else ""
    live = rows["live"]
    for key in (
        "type",
        "event",
        "not_event",
        "within_minutes",
        "property",
        "direction",
        "amount",
        "unit",
    ):
        live[key] = _get(querydict, f"live-{key}", live[key])
    live["props"] = _prop_rows_from(querydict, "live-prop")
    live["not_props"] = _prop_rows_from(querydict, "live-notprop")
    return rows


# --- Rows -> definition ----------------------------------------------------------------------


def _prop_is_blank(row: dict) -> bool:
    return not (row["name"].strip() or row["value"].strip() or row["value2"].strip())


def _properties(rows: list[dict], path: str) -> list[dict]:
    properties = []
    for row in rows:
        if _prop_is_blank(row):
            row["path"] = None
            continue
        row["path"] = f"{path}[{len(properties)}]"
        operator = row["operator"].strip()
        condition: dict[str, Any] = {"name": row["name"].strip(), "operator": operator}
        if operator == "between":
            condition["value"] = [_scalar_from_text(row["value"]), _scalar_from_text(row["value2"])]
        elif operator not in NO_VALUE_OPERATORS:
            condition["value"] = value_from_text(row["value"], operator=operator)
        properties.append(condition)
    return properties


def _not_followed_is_blank(row: dict) -> bool:
    return (
        not row["nf_event"].strip()
        and not row["nf_n"].strip()
        and all(_prop_is_blank(p) for p in row["nf_props"])
    )


def _event_is_blank(row: dict) -> bool:
    return (
        not row["event"].strip()
        and all(_prop_is_blank(p) for p in row["props"])
        and _not_followed_is_blank(row)
    )


def _not_followed_by(row: dict, path: str, errors: dict) -> dict:
    """The optional "…and not followed by B within N <unit>" of a did row, in minutes."""
    path = f"{path}.not_followed_by"
    n = _number(row["nf_n"], f"{path}.within_minutes", errors, integer=True)
    unit = row["nf_unit"] if row["nf_unit"] in UNIT_MINUTES else "days"  # rows built in code
    within = None if n is None else n * UNIT_MINUTES[unit]
    if within is not None and within > MAX_WITHIN_MINUTES:
        # Validation would say "at most 43200" - minutes the marketer did not type.
        errors[f"{path}.within_minutes"] = "At most 30 days."
    follow: dict[str, Any] = {"event": row["nf_event"].strip(), "within_minutes": within}
    properties = _properties(row["nf_props"], f"{path}.properties")
    if properties:
        follow["properties"] = properties
    return follow


def _event_condition(row: dict, path: str, errors: dict) -> dict:
    row["path"] = path
    condition: dict[str, Any] = {
        "type": "event",
        "did": row["did"] != "did_not",
        "event": row["event"].strip(),
    }
    if row["period"] == "last_days":
        condition["period"] = {
            "type": "last_days",
            "days": _number(row["days"], f"{path}.period.days", errors, integer=True),
        }
    elif row["period"] == "between":
        condition["period"] = {
            "type": "between",
            "from": row["from"].strip(),
            "to": row["to"].strip(),
        }
    if condition["did"]:
        n = _number(row["count_n"], f"{path}.count.min", errors, integer=True)
        op = row["count_op"]
        if op == "exactly":
            count = {"min": n, "max": n}
        elif op == "at_most":
            # "At most N times" among people who did it: one to N (0 is "did not").
            count = {"min": 1, "max": n}
        elif op == "between":
            n2 = _number(row["count_n2"], f"{path}.count.max", errors, integer=True)
            count = {"min": n, "max": n2}
        else:
            count = {"min": 1 if n is None else n, "max": None}
        if count != {"min": 1, "max": None}:
            condition["count"] = count
    properties = _properties(row["props"], f"{path}.properties")
    if properties:
        condition["properties"] = properties
    # Hidden (and ignored, like the count) on a "did not" row: there is no occurrence to follow.
    if condition["did"] and not _not_followed_is_blank(row):
        condition["not_followed_by"] = _not_followed_by(row, path, errors)
    else:
        for prop in row["nf_props"]:
            prop["path"] = None
    return condition


def definition_from_rows(rows: dict) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    definition: dict[str, Any] = {"version": 1, "kind": rows["kind"]}

    if rows["kind"] == "past":
        conditions = []
        for row in rows["conditions"]:
            path = f"behaviour.conditions[{len(conditions)}]"
            if row["type"] == "group":
                members = [r for r in row["conditions"] if not _event_is_blank(r)]
                for r in row["conditions"]:
                    r["path"] = None
                if not members:
                    row["path"] = None
                    continue
                row["path"] = path
                conditions.append(
                    {
                        "type": "group",
                        "match": row["match"],
                        "conditions": [
                            _event_condition(r, f"{path}.conditions[{j}]", errors)
                            for j, r in enumerate(members)
                        ],
                    }
                )
            elif _event_is_blank(row):
                row["path"] = None
            else:
                conditions.append(_event_condition(row, path, errors))
        if conditions:
            definition["behaviour"] = {"match": rows["match"], "conditions": conditions}

    profile = _properties(rows["profile"], "profile")
    if profile:
        definition["profile"] = profile

    demographics: dict[str, Any] = {}
    age_min = _number(rows["age_min"], "demographics.age.min", errors, integer=True)
    age_max = _number(rows["age_max"], "demographics.age.max", errors, integer=True)
    if age_min is not None or age_max is not None:
        demographics["age"] = {"min": age_min, "max": age_max}
    if rows["gender"]:
        demographics["gender"] = list(rows["gender"])
    if demographics:
        definition["demographics"] = demographics

    geography = {
        key: names
        for key in ("countries", "regions", "cities")
        if (names := _names_from_text(rows[key]))
    }
    if geography:
        definition["geography"] = geography

    centres = []
    for row in rows["radius"]:
        if not any(row[k].strip() for k in ("label", "latitude", "longitude")):
            row["path"] = None
            continue
        path = row["path"] = f"radius[{len(centres)}]"
        label = row["label"].strip()
        latitude = _number(row["latitude"], f"{path}.latitude", errors)
        longitude = _number(row["longitude"], f"{path}.longitude", errors)
        if latitude is None and longitude is None and label in DEMO_CITY_CENTRES:
            # Picked a city from the list and typed no coordinates: use the city's centre.
            latitude, longitude = DEMO_CITY_CENTRES[label]
            row["latitude"], row["longitude"] = str(latitude), str(longitude)
        centre: dict[str, Any] = {
            "latitude": latitude,
            "longitude": longitude,
            "radius_km": _number(row["km"], f"{path}.radius_km", errors),
        }
        if label:
            centre = {"label": label, **centre}
        centres.append(centre)
    if centres:
        definition["radius"] = centres

    reachability = {key: value == "yes" for key, value in rows["reach"].items() if value}
    if reachability:
        definition["reachability"] = reachability

    app_fields = _properties(rows["app_fields"], "app_fields")
    if app_fields:
        definition["app_fields"] = app_fields

    if rows["kind"] == "live":
        definition["live"] = _live(rows["live"], errors)
    return definition, errors


def _live(live: dict, errors: dict) -> dict:
    kind = live["type"]
    trigger: dict[str, Any] = {"type": kind, "event": live["event"].strip()}
    if kind == "date_property":
        trigger["property"] = live["property"].strip()
        trigger["offset"] = {
            "direction": live["direction"],
            "amount": _number(live["amount"], "live.offset.amount", errors, integer=True),
            "unit": live["unit"],
        }
        if live["direction"] == "on":
            trigger["offset"]["amount"] = trigger["offset"]["amount"] or 0
        return trigger
    properties = _properties(live["props"], "live.properties")
    if properties:
        trigger["properties"] = properties
    if kind == "inaction":
        trigger["not_event"] = live["not_event"].strip()
        not_properties = _properties(live["not_props"], "live.not_properties")
        if not_properties:
            trigger["not_properties"] = not_properties
        trigger["within_minutes"] = _number(
            live["within_minutes"], "live.within_minutes", errors, integer=True
        )
    return trigger


def definition_from_builder(querydict: Mapping) -> tuple[dict, dict[str, str]]:
    """The builder's post -> (raw definition for definition_validate, parse errors by path)."""
    return definition_from_rows(rows_from_querydict(querydict))


# --- Definition -> rows ----------------------------------------------------------------------


def _prop_rows(properties: list, prefix: str) -> list[dict]:
    rows = []
    for i, prop in enumerate(properties or []):
        row = empty_prop_row(f"{prefix}-{i}")
        row["name"] = str(prop.get("name", ""))
        row["operator"] = str(prop.get("operator", "equals"))
        value = prop.get("value")
        if row["operator"] == "between" and isinstance(value, list) and len(value) == 2:
            row["value"], row["value2"] = _scalar_to_text(value[0]), _scalar_to_text(value[1])
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
        rows[key] = _names_to_text(geography.get(key) or [])
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


# --- Add / remove rows -----------------------------------------------------------------------

# Which section of the page an action re-renders (the htmx target).
_ACTION = re.compile(r"(add|remove)-(.+)")


def action_section(action: str) -> str:
    target = _ACTION.fullmatch(action).group(2) if _ACTION.fullmatch(action) else ""
    if target.startswith("cond") or target == "group":
        return "behaviour"
    if target.startswith("profile"):
        return "profile"
    if target.startswith("radius"):
        return "radius"
    if target.startswith("app"):
        return "app_fields"
    if target.startswith("live"):
        return "live"
    return ""


def _renumber(rows: dict) -> None:
    """Gives every row the prefix of its position, after an add or a remove."""

    def props(items: list[dict], prefix: str) -> None:
        for i, row in enumerate(items):
            row["prefix"] = f"{prefix}-{i}"

    def event(row: dict, prefix: str) -> None:
        row["prefix"] = prefix
        props(row["props"], f"{prefix}-prop")
        props(row["nf_props"], f"{prefix}-nfprop")

    for i, row in enumerate(rows["conditions"]):
        prefix = f"cond-{i}"
        if row["type"] == "group":
            row["prefix"] = prefix
            for j, member in enumerate(row["conditions"]):
                event(member, f"{prefix}-sub-{j}")
        else:
            event(row, prefix)
    props(rows["profile"], "profile")
    props(rows["app_fields"], "app")
    for i, row in enumerate(rows["radius"]):
        row["prefix"] = f"radius-{i}"
    props(rows["live"]["props"], "live-prop")
    props(rows["live"]["not_props"], "live-notprop")


def _find(rows: dict, prefix: str) -> tuple[list, int] | None:
    """The list holding the row whose field prefix is `prefix`, and its index there."""

    def search(items: list[dict]) -> tuple[list, int] | None:
        for i, row in enumerate(items):
            if row.get("prefix") == prefix:
                return items, i
            for key in ("props", "nf_props", "conditions"):
                if key in row and (found := search(row[key])):
                    return found
        return None

    live = rows["live"]
    for items in (
        rows["conditions"],
        rows["profile"],
        rows["app_fields"],
        rows["radius"],
        live["props"],
        live["not_props"],
    ):
        if found := search(items):
            return found
    return None


def apply_action(rows: dict, action: str) -> bool:
    """Adds or removes the row an `action` button names; False if it names nothing."""
    match = _ACTION.fullmatch(action or "")
    if not match:
        return False
    verb, target = match.groups()
    if verb == "remove":
        found = _find(rows, target)
        if not found:
            return False
        items, index = found
        del items[index]
    elif target == "cond":
        rows["conditions"].append(empty_event_row(""))
    elif target == "group":
        rows["conditions"].append(empty_group_row(""))
        rows["conditions"][-1]["conditions"][0]["prefix"] = ""
    elif target in ("profile", "app", "radius", "live-prop", "live-notprop"):
        new = empty_radius_row("") if target == "radius" else empty_prop_row("")
        if target == "app":
            new["name"] = "app_version"  # a select: an empty name would not round-trip
        holder = {
            "live-prop": rows["live"]["props"],
            "live-notprop": rows["live"]["not_props"],
            "profile": rows["profile"],
            "app": rows["app_fields"],
            "radius": rows["radius"],
        }
        holder[target].append(new)
    elif target.endswith(("-prop", "-nfprop", "-sub")):
        owner_prefix, _, kind = target.rpartition("-")
        found = _find(rows, owner_prefix)
        if not found:
            return False
        items, index = found
        owner = items[index]
        if kind == "prop" and "props" in owner:
            owner["props"].append(empty_prop_row(""))
        elif kind == "nfprop" and "nf_props" in owner:
            owner["nf_props"].append(empty_prop_row(""))
        elif kind == "sub" and owner.get("type") == "group":
            owner["conditions"].append(empty_event_row(""))
        else:
            return False
    else:
        return False
    _renumber(rows)
    return True


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
