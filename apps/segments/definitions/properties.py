"""Property conditions ({"name", "operator", "value"}) as profile, event, live and
app-field sections use them, and as other apps store them (`property_condition_validate`)."""

from __future__ import annotations

from typing import Any

from .errors import DefinitionError, ErrorCollector, join_path
from .fields import scalar_value, text_value, value_kind
from .vocabulary import (
    MAX_CONDITIONS,
    NO_VALUE_OPERATORS,
    OPERATORS,
    ORDER_OPERATORS,
    TEXT_OPERATORS,
)


def _property_condition(raw: Any, errs: ErrorCollector, path: str, *, names=None) -> dict | None:
    if not isinstance(raw, dict):
        errs.add(path, "Expected an object with name, operator and value.")
        return None
    errs.unknown_keys(raw, {"name", "operator", "value"}, path)
    name = text_value(raw.get("name"), errs, join_path(path, "name"), label="a property name")
    if name is not None and names is not None and name not in names:
        errs.add(join_path(path, "name"), f"Choose one of: {', '.join(names)}.")
    operator = raw.get("operator")
    if operator not in OPERATORS:
        errs.add(join_path(path, "operator"), f"Unknown operator {operator!r}.")
        return None
    vpath = join_path(path, "value")
    raw_value = raw.get("value")
    value: Any = None
    if operator in NO_VALUE_OPERATORS:
        value = None
    elif operator == "between":
        if not isinstance(raw_value, list | tuple) or len(raw_value) != 2:
            errs.add(vpath, "between needs exactly two values [low, high].")
            return None
        low = scalar_value(raw_value[0], errs, vpath)
        high = scalar_value(raw_value[1], errs, vpath)
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
        value = [scalar_value(v, errs, vpath) for v in raw_value]
        if any(v is None for v in value):
            return None
    else:
        value = scalar_value(raw_value, errs, vpath)
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
    errs = ErrorCollector()
    condition = _property_condition(raw, errs, path, names=names)
    if errs.errors or condition is None:
        raise DefinitionError(errs.errors)
    return condition


def property_list_normalise(raw: Any, errs: ErrorCollector, path: str, *, names=None) -> list[dict]:
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
