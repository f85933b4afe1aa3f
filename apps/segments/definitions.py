"""Segment definition format v1: validation, normalisation and human-readable summaries.

The format is the contract between the compiler, the builder pages, the API translation and the
bench (see the segments-format brief). `definition_validate` is the only door in: everything
downstream (compiler, estimates, cache keys) works on its normalised output, so two spellings
of the same audience compile to the same SQL and share one cached estimate.

Normalised shape: "version" and "kind" are always present; every other section is present only
when it constrains something (so `{}` and `{"profile": []}` normalise to the same thing). Inside
sections every key is present (`period` is None for "ever", a property condition without a value
has "value": None).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from typing import Any

OPERATORS = (
    "equals",
    "not_equals",
    "greater_than",
    "greater_than_equals",
    "less_than",
    "less_than_equals",
    "contains",
    "does_not_contain",
    "exists",
    "does_not_exist",
    "between",
)
NO_VALUE_OPERATORS = frozenset({"exists", "does_not_exist"})
ORDER_OPERATORS = frozenset(
    {"greater_than", "greater_than_equals", "less_than", "less_than_equals"}
)
TEXT_OPERATORS = frozenset({"contains", "does_not_contain"})
# Operators satisfied by a missing property (CleverTap: "not equals X" includes people without it).
NEGATIVE_OPERATORS = frozenset({"not_equals", "does_not_contain", "does_not_exist"})

OPERATOR_LABELS = {
    "equals": "=",
    "not_equals": "≠",
    "greater_than": ">",
    "greater_than_equals": "≥",
    "less_than": "<",
    "less_than_equals": "≤",
    "contains": "contains",
    "does_not_contain": "does not contain",
    "exists": "exists",
    "does_not_exist": "does not exist",
    "between": "between",
}

# Built-in Profile columns addressable by name in "profile" (matched case-insensitively).
PROFILE_COLUMNS = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "identity": "identity",
    "gender": "gender",
    "date of birth": "date_of_birth",
    "country": "country",
    "region": "region",
    "city": "city",
    "timezone": "timezone",
    "language": "language",
    "first seen": "first_seen",
    "last seen": "last_seen",
}
APP_FIELDS = ("app_version", "make", "model", "os_version", "sdk_version")
APP_FIELD_LABELS = {
    "app_version": "App version",
    "make": "Device make",
    "model": "Device model",
    "os_version": "OS version",
    "sdk_version": "SDK version",
}
GENDERS = {"m": "M", "male": "M", "f": "F", "female": "F", "o": "O", "other": "O"}
GENDER_LABELS = {"M": "Male", "F": "Female", "O": "Other"}
REACHABILITY_KEYS = (
    "has_email",
    "has_phone",
    "email_unsubscribed",
    "sms_unsubscribed",
    "push_reachable",
)
LIVE_TYPES = ("action", "inaction", "date_property")
OFFSET_UNITS = ("minutes", "hours", "days")
OFFSET_DIRECTIONS = ("before", "after", "on")

MAX_CONDITIONS = 50
MAX_RADIUS_KM = 20000
# Inaction windows longer than 30 days are not "within time" any more.
MAX_WITHIN_MINUTES = 60 * 24 * 30

MAX_TEXT = 1000
MAX_COUNT = 100_000
MAX_AGE = 150
# Day arithmetic in the account timezone stays far from datetime's year 1 and 9999 limits.
MIN_DATE = "1800-01-01"
MAX_DATE = "2999-12-31"
ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class DefinitionError(ValueError):
    """A definition that cannot be compiled; `.errors` maps field paths to messages, e.g.
    {"behaviour.conditions[0].properties[1].value": "between needs exactly two values."}."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in self.errors.items()))


# --------------------------------------------------------------------------- value typing


def value_kind(value: Any) -> str:
    """The comparison type of a definition value: number, bool, date or string.
    A string that is a valid ISO date (YYYY-MM-DD) is a date."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and ISO_DATE_RE.match(value):
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return "string"
        return "date"
    return "string"


class _Collector:
    """Collects errors by path while normalising, so one pass reports every problem."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def unknown_keys(self, obj: dict, allowed: set[str] | tuple, path: str) -> None:
        for key in obj:
            if key not in allowed:
                self.add(_join(path, str(key)), "Unknown field.")

    def merge(self, errors: dict[str, str]) -> None:
        for path, message in errors.items():
            self.add(path, message)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(
    value: Any,
    errs: _Collector,
    path: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    """An integer (numeric strings from forms accepted), or None with an error recorded."""
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        errs.add(path, "Enter a whole number.")
        return None
    if minimum is not None and value < minimum:
        errs.add(path, f"Must be at least {minimum}.")
        return None
    if maximum is not None and value > maximum:
        errs.add(path, f"Must be at most {maximum}.")
        return None
    return value


def _float(value: Any, errs: _Collector, path: str) -> float | None:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    if not _is_number(value):
        errs.add(path, "Enter a number.")
        return None
    return float(value)


def _text(value: Any, errs: _Collector, path: str, *, label: str = "a name") -> str | None:
    if not isinstance(value, str) or not value.strip():
        errs.add(path, f"Enter {label}.")
        return None
    if len(value) > MAX_TEXT or "\x00" in value:
        errs.add(path, f"Enter {label} of at most {MAX_TEXT} characters, without NUL.")
        return None
    return value.strip()


def _scalar(value: Any, errs: _Collector, path: str) -> Any:
    if value is None or (isinstance(value, str) and value == ""):
        errs.add(path, "This operator needs a value.")
        return None
    if isinstance(value, str):
        if len(value) > MAX_TEXT or "\x00" in value:
            errs.add(path, f"Enter at most {MAX_TEXT} characters, without NUL.")
            return None
        if value_kind(value) == "date" and not MIN_DATE <= value <= MAX_DATE:
            errs.add(path, f"Enter a date between {MIN_DATE} and {MAX_DATE}.")
            return None
        return value
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    errs.add(path, "Enter a number, text, true/false or a date (YYYY-MM-DD).")
    return None


def _property_condition(raw: Any, errs: _Collector, path: str, *, names=None) -> dict | None:
    if not isinstance(raw, dict):
        errs.add(path, "Expected an object with name, operator and value.")
        return None
    errs.unknown_keys(raw, {"name", "operator", "value"}, path)
    name = _text(raw.get("name"), errs, _join(path, "name"), label="a property name")
    if name is not None and names is not None and name not in names:
        errs.add(_join(path, "name"), f"Choose one of: {', '.join(names)}.")
    operator = raw.get("operator")
    if operator not in OPERATORS:
        errs.add(_join(path, "operator"), f"Unknown operator {operator!r}.")
        return None
    vpath = _join(path, "value")
    raw_value = raw.get("value")
    value: Any = None
    if operator in NO_VALUE_OPERATORS:
        value = None
    elif operator == "between":
        if not isinstance(raw_value, list | tuple) or len(raw_value) != 2:
            errs.add(vpath, "between needs exactly two values [low, high].")
            return None
        low = _scalar(raw_value[0], errs, vpath)
        high = _scalar(raw_value[1], errs, vpath)
        if low is None or high is None:
            return None
        kinds = {value_kind(low), value_kind(high)}
        if len(kinds) != 1 or "bool" in kinds:
            errs.add(vpath, "between needs two numbers, two dates or two texts.")
            return None
        if low > high:
            errs.add(vpath, "The low value must not be greater than the high value.")
            return None
        value = [low, high]
    elif operator in ("equals", "not_equals") and isinstance(raw_value, list | tuple):
        if not raw_value:
            errs.add(vpath, "This operator needs a value.")
            return None
        value = [_scalar(v, errs, vpath) for v in raw_value]
        if any(v is None for v in value):
            return None
    else:
        value = _scalar(raw_value, errs, vpath)
        if value is None:
            return None
        if operator in ORDER_OPERATORS and isinstance(value, bool):
            errs.add(vpath, f"{operator} needs a number, a date or text, not true/false.")
            return None
        if operator in TEXT_OPERATORS:
            if isinstance(value, bool):
                errs.add(vpath, f"{operator} needs text.")
                return None
            value = str(value)
    if name is None:
        return None
    return {"name": name, "operator": operator, "value": value}


def property_condition_validate(
    raw: Any, *, path: str = "", names: tuple[str, ...] | None = None
) -> dict:
    """Validate and normalise one property condition ({"name", "operator", "value"}) the way
    a definition's profile, event and app-field conditions are; raise DefinitionError with
    every problem keyed by `path` ("goal-filter-0" -> "goal-filter-0.value"). `names`, when
    given, is the closed list of property names allowed. For other apps that store
    segments-format conditions of their own (a campaign's conversion-goal filters)."""
    errs = _Collector()
    condition = _property_condition(raw, errs, path, names=names)
    if errs.errors or condition is None:
        raise DefinitionError(errs.errors)
    return condition


def _property_list(raw: Any, errs: _Collector, path: str, *, names=None) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errs.add(path, "Expected a list of property conditions.")
        return []
    if len(raw) > MAX_CONDITIONS:
        errs.add(path, f"At most {MAX_CONDITIONS} conditions.")
        return []
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(property_condition_validate(item, path=f"{path}[{i}]", names=names))
        except DefinitionError as invalid:
            errs.merge(invalid.errors)
    return out


def _date(value: Any, errs: _Collector, path: str) -> str | None:
    if isinstance(value, str) and ISO_DATE_RE.match(value):
        try:
            day = dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        else:
            if MIN_DATE <= day <= MAX_DATE:
                return day
            errs.add(path, f"Enter a date between {MIN_DATE} and {MAX_DATE}.")
            return None
    errs.add(path, "Enter a date as YYYY-MM-DD.")
    return None


def _period(raw: Any, errs: _Collector, path: str) -> dict | None:
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
        days = _int(raw.get("days"), errs, _join(path, "days"), minimum=1)
        if days is not None and days > 3650:
            errs.add(_join(path, "days"), "At most 3650 days.")
            return None
        return None if days is None else {"type": "last_days", "days": days}
    if kind == "between":
        errs.unknown_keys(raw, {"type", "from", "to"}, path)
        start = _date(raw.get("from"), errs, _join(path, "from"))
        end = _date(raw.get("to"), errs, _join(path, "to"))
        if start and end and end < start:
            errs.add(_join(path, "to"), "The end date is before the start date.")
            return None
        if start and end:
            return {"type": "between", "from": start, "to": end}
        return None
    errs.add(_join(path, "type"), "Choose last_days, between or ever.")
    return None


def _count(raw: Any, errs: _Collector, path: str) -> dict:
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
        else _int(low, errs, _join(path, "min"), minimum=0, maximum=MAX_COUNT)
    )
    high = (
        None
        if high in (None, "")
        else _int(high, errs, _join(path, "max"), minimum=0, maximum=MAX_COUNT)
    )
    if low is None:
        return default
    if high is not None and low > high:
        errs.add(_join(path, "max"), "At most must not be lower than at least.")
        return default
    return {"min": low, "max": high}


def _event_condition(raw: Any, errs: _Collector, path: str) -> dict | None:
    errs.unknown_keys(
        raw, {"type", "did", "event", "period", "count", "properties", "not_followed_by"}, path
    )
    did = raw.get("did", True)
    if not isinstance(did, bool):
        errs.add(_join(path, "did"), "Expected true (did) or false (did not).")
        did = True
    event = _text(raw.get("event"), errs, _join(path, "event"), label="an event name")
    period = _period(raw.get("period"), errs, _join(path, "period"))
    count = _count(raw.get("count"), errs, _join(path, "count"))
    if not did:
        # "Did not" means zero matching occurrences; a count would contradict it.
        count = {"min": 1, "max": None}
    elif count["max"] == 0:
        errs.add(_join(path, "count.max"), "Use 'did not' for zero occurrences.")
    properties = _property_list(raw.get("properties"), errs, _join(path, "properties"))
    not_followed_by = _not_followed_by(
        raw.get("not_followed_by"), errs, _join(path, "not_followed_by"), did=did
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


def _not_followed_by(raw: Any, errs: _Collector, path: str, *, did: bool) -> dict | None:
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
    event = _text(raw.get("event"), errs, _join(path, "event"), label="an event name")
    within = _int(
        raw.get("within_minutes"),
        errs,
        _join(path, "within_minutes"),
        minimum=1,
        maximum=MAX_WITHIN_MINUTES,
    )
    properties = _property_list(raw.get("properties"), errs, _join(path, "properties"))
    if event is None or within is None:
        return None
    return {"event": event, "within_minutes": within, "properties": properties}


def _match(raw: Any, errs: _Collector, path: str) -> str:
    match = raw if raw is not None else "all"
    if match not in ("all", "any"):
        errs.add(path, "Choose all or any.")
        return "all"
    return match


def _behaviour(raw: Any, errs: _Collector) -> dict | None:
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
                errs.add(_join(path, "conditions"), "Expected a list of conditions.")
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
            group_match = _match(item.get("match"), errs, _join(path, "match"))
            cond = {"type": "group", "match": group_match, "conditions": inner} if inner else None
        else:
            errs.add(_join(path, "type"), "Choose event or group.")
            continue
        if cond is not None:
            conditions.append(cond)
    if not conditions:
        return None
    return {"match": match, "conditions": conditions}


def _demographics(raw: Any, errs: _Collector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add("demographics", "Expected an object with age and gender.")
        return None
    errs.unknown_keys(raw, {"age", "gender"}, "demographics")
    out: dict[str, Any] = {}
    age = raw.get("age")
    if isinstance(age, dict):
        errs.unknown_keys(age, {"min", "max"}, "demographics.age")
        low, high = age.get("min"), age.get("max")
        low = (
            None
            if low in (None, "")
            else _int(low, errs, "demographics.age.min", minimum=0, maximum=MAX_AGE)
        )
        high = (
            None
            if high in (None, "")
            else _int(high, errs, "demographics.age.max", minimum=0, maximum=MAX_AGE)
        )
        if low is not None and high is not None and low > high:
            errs.add("demographics.age.max", "The maximum age is below the minimum.")
        elif low is not None or high is not None:
            out["age"] = {"min": low, "max": high}
    elif age is not None:
        errs.add("demographics.age", "Expected {min, max}.")
    gender = raw.get("gender")
    if isinstance(gender, str):
        gender = [gender]
    if gender:
        if not isinstance(gender, list):
            errs.add("demographics.gender", "Expected a list of M, F, O.")
        else:
            codes = []
            for g in gender:
                code = GENDERS.get(str(g).strip().lower())
                if code is None:
                    errs.add("demographics.gender", f"Unknown gender {g!r}: use M, F or O.")
                elif code not in codes:
                    codes.append(code)
            if codes:
                out["gender"] = sorted(codes)
    return out or None


def _geography(raw: Any, errs: _Collector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add("geography", "Expected an object with countries, regions and cities.")
        return None
    errs.unknown_keys(raw, {"countries", "regions", "cities"}, "geography")
    out = {}
    for key in ("countries", "regions", "cities"):
        values = raw.get(key)
        if values in (None, ""):
            continue
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errs.add(f"geography.{key}", "Expected a list of names.")
            continue
        cleaned = [v.strip() for v in values if v.strip()]
        if cleaned:
            out[key] = cleaned
    return out or None


def _radius(raw: Any, errs: _Collector) -> list[dict]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errs.add("radius", "Expected a list of centres.")
        return []
    out = []
    for i, item in enumerate(raw):
        path = f"radius[{i}]"
        if not isinstance(item, dict):
            errs.add(path, "Expected a centre with latitude, longitude and radius_km.")
            continue
        errs.unknown_keys(item, {"label", "latitude", "longitude", "radius_km"}, path)
        lat = item.get("latitude")
        lon = item.get("longitude")
        if lat in (None, "") or lon in (None, ""):
            errs.add(
                f"{path}.latitude" if lat in (None, "") else f"{path}.longitude",
                "A radius needs a centre: latitude and longitude.",
            )
            continue
        lat = _float(lat, errs, f"{path}.latitude")
        lon = _float(lon, errs, f"{path}.longitude")
        km = _float(item.get("radius_km"), errs, f"{path}.radius_km")
        if lat is not None and not -90 <= lat <= 90:
            errs.add(f"{path}.latitude", "Latitude must be between -90 and 90.")
            lat = None
        if lon is not None and not -180 <= lon <= 180:
            errs.add(f"{path}.longitude", "Longitude must be between -180 and 180.")
            lon = None
        if km is not None and not 0 < km <= MAX_RADIUS_KM:
            errs.add(
                f"{path}.radius_km", f"The radius must be above 0 and at most {MAX_RADIUS_KM} km."
            )
            km = None
        label = item.get("label") or ""
        if not isinstance(label, str):
            errs.add(f"{path}.label", "Expected text.")
            label = ""
        if None not in (lat, lon, km):
            out.append({"label": label.strip(), "latitude": lat, "longitude": lon, "radius_km": km})
    return out


def _reachability(raw: Any, errs: _Collector) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errs.add("reachability", "Expected an object of true/false flags.")
        return None
    errs.unknown_keys(raw, REACHABILITY_KEYS, "reachability")
    out = {}
    for key in REACHABILITY_KEYS:
        value = raw.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, bool):
            errs.add(f"reachability.{key}", "Expected true or false.")
            continue
        out[key] = value
    return out or None


def _live(raw: Any, errs: _Collector) -> dict | None:
    if not isinstance(raw, dict):
        errs.add("live", "A live segment needs a trigger: action, inaction or date_property.")
        return None
    kind = raw.get("type")
    if kind not in LIVE_TYPES:
        errs.add("live.type", "Choose action, inaction or date_property.")
        return None
    event = _text(raw.get("event"), errs, "live.event", label="an event name")
    if kind == "action":
        errs.unknown_keys(raw, {"type", "event", "properties"}, "live")
        props = _property_list(raw.get("properties"), errs, "live.properties")
        return None if event is None else {"type": kind, "event": event, "properties": props}
    if kind == "inaction":
        errs.unknown_keys(
            raw,
            {"type", "event", "properties", "not_event", "not_properties", "within_minutes"},
            "live",
        )
        props = _property_list(raw.get("properties"), errs, "live.properties")
        not_event = _text(raw.get("not_event"), errs, "live.not_event", label="an event name")
        not_props = _property_list(raw.get("not_properties"), errs, "live.not_properties")
        within = _int(raw.get("within_minutes"), errs, "live.within_minutes", minimum=1)
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
    prop = _text(raw.get("property"), errs, "live.property", label="a date property")
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
        else _int(offset.get("amount"), errs, "live.offset.amount", minimum=1, maximum=MAX_COUNT)
    )
    if None in (event, prop, amount):
        return None
    return {
        "type": kind,
        "event": event,
        "property": prop,
        "offset": {"direction": direction, "amount": amount, "unit": unit},
    }


TOP_LEVEL_KEYS = {
    "version",
    "kind",
    "behaviour",
    "profile",
    "demographics",
    "geography",
    "radius",
    "reachability",
    "app_fields",
    "live",
}


def definition_validate(raw: Any) -> dict:
    """Validate and normalise a definition; raise DefinitionError with every problem by path."""
    errs = _Collector()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DefinitionError({"definition": "Expected a JSON object."})
    errs.unknown_keys(raw, TOP_LEVEL_KEYS, "")
    version = raw.get("version", 1)
    if version not in (1, "1"):
        errs.add("version", "Only version 1 is supported.")
    kind = raw.get("kind", "past") or "past"
    if kind not in ("past", "live"):
        errs.add("kind", "Choose past or live.")
        kind = "past"
    out: dict[str, Any] = {"version": 1, "kind": kind}

    if kind == "live":
        if raw.get("behaviour"):
            errs.add("behaviour", "A live segment has a trigger instead of past behaviour.")
        live = _live(raw.get("live"), errs)
    else:
        if raw.get("live") is not None:
            errs.add("live", "Only live segments have a trigger.")
        live = None
        behaviour = _behaviour(raw.get("behaviour"), errs)
        if behaviour:
            out["behaviour"] = behaviour

    profile = _property_list(raw.get("profile"), errs, "profile")
    if profile:
        out["profile"] = profile
    demographics = _demographics(raw.get("demographics"), errs)
    if demographics:
        out["demographics"] = demographics
    geography = _geography(raw.get("geography"), errs)
    if geography:
        out["geography"] = geography
    radius = _radius(raw.get("radius"), errs)
    if radius:
        out["radius"] = radius
    reachability = _reachability(raw.get("reachability"), errs)
    if reachability:
        out["reachability"] = reachability
    app_fields = _property_list(raw.get("app_fields"), errs, "app_fields", names=APP_FIELDS)
    if app_fields:
        out["app_fields"] = app_fields
    if live:
        out["live"] = live

    if errs.errors:
        raise DefinitionError(errs.errors)
    return out


# --------------------------------------------------------------------------- summaries


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
