"""Event property filters of a live trigger, checked in Python against one event's
properties (the segments format's operators)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from apps.segments.definitions import value_kind

from .constants import _DATE_PREFIX, _NUMERIC

# --------------------------------------------------------------------------- event properties


def _scalar_values(properties: Any, name: str) -> list[Any]:
    """Every value of a property: a list's elements; "a|b" walks nested objects (a list of
    objects on the way is unwrapped, as the SQL compiler's lax jsonpath does)."""
    current = [properties]
    for segment in name.split("|"):
        found = []
        for item in current:
            for obj in item if isinstance(item, list) else [item]:
                if isinstance(obj, dict) and segment in obj:
                    found.append(obj[segment])
        current = found
    values: list[Any] = []
    for item in current:
        values.extend(item if isinstance(item, list) else [item])
    return [v for v in values if v is not None]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    if isinstance(value, str) and _NUMERIC.match(value):
        return Decimal(value)
    return None


def _compare(left: Any, op: str, right: Any) -> bool:
    return {
        "equals": left == right,
        "greater_than": left > right,
        "greater_than_equals": left >= right,
        "less_than": left < right,
        "less_than_equals": left <= right,
    }[op]


def _value_compare(value: Any, op: str, wanted: Any) -> bool:
    """`value <op> wanted` with the compiler's typing: a number matches numbers and numeric
    strings, a date date-prefixed strings, a boolean booleans (equality only), text text
    (exact equality; code-point order for ranges)."""
    kind = value_kind(wanted)
    if kind == "number":
        number = _number(value)
        return number is not None and _compare(number, op, Decimal(str(wanted)))
    if kind == "bool":
        return op == "equals" and isinstance(value, bool) and value == wanted
    if not isinstance(value, str):
        return False
    if kind == "date":
        return bool(_DATE_PREFIX.match(value)) and _compare(value[:10], op, wanted)
    return _compare(value, op, wanted)


def _positive(values: list[Any], op: str, wanted: Any) -> bool:
    if op == "exists":
        return bool(values)
    if op == "contains":
        needle = str(wanted).lower()
        return any(isinstance(v, str) and needle in v.lower() for v in values)
    if op == "between":
        low, high = wanted
        return any(
            _value_compare(v, "greater_than_equals", low)
            and _value_compare(v, "less_than_equals", high)
            for v in values
        )
    choices = wanted if isinstance(wanted, list) else [wanted]
    return any(_value_compare(v, op, choice) for v in values for choice in choices)


_NEGATED = {"not_equals": "equals", "does_not_contain": "contains", "does_not_exist": "exists"}


def properties_match(conditions: list[dict] | tuple[dict, ...], properties: Any) -> bool:
    """Whether an event's properties satisfy every condition, with the SQL compiler's
    semantics (apps/segments/compiler.py): any value of a list property may match; negative
    operators are NOT of the positive test, so a missing property satisfies them."""
    for cond in conditions:
        op = cond["operator"]
        values = _scalar_values(properties, cond["name"])
        if op in _NEGATED:
            if _positive(values, _NEGATED[op], cond.get("value")):
                return False
        elif not _positive(values, op, cond.get("value")):
            return False
    return True
