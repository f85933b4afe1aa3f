"""The conversion goal: an event, property filters and a window."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apps.segments import definitions as segment_definitions

from .fields import _Errors, _text
from .shape import _GOAL_WINDOW, GOAL_FILTERS_MAX, GOAL_WINDOW_MAX, PROPERTY_MAX, ContentInvalid


def _template_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _typed_value(text: str) -> Any:
    """A filter value as typed: numbers become numbers, everything else stays text."""
    text = text.strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d{1,15}\.\d{1,15}", text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def goal_filter_value(operator: str, value: Any) -> Any:
    """The segments-format value for a value typed in one text box ("10, 20" for between)."""
    if not isinstance(value, str):
        return value
    if operator in segment_definitions.NO_VALUE_OPERATORS:
        return None
    if operator == "between":
        parts = [part for part in value.split(",")]
        return [_typed_value(part) for part in parts] if len(parts) == 2 else value
    if operator in segment_definitions.TEXT_OPERATORS:
        return value.strip()
    return _typed_value(value) if value.strip() else ""


def goal_clean(raw: Any) -> dict[str, Any] | None:
    """{"event", "filters", "window"} or None when no event is chosen. Raises ContentInvalid
    keyed "goal-event", "goal-window", "goal-filter-0-value"."""
    if raw in (None, "") or (isinstance(raw, Mapping) and not raw):
        return None
    if not isinstance(raw, Mapping):
        raise ContentInvalid({"goal-event": "The conversion goal must be an object."})
    errors = _Errors()
    event = _text(raw.get("event"), "goal-event", errors, limit=PROPERTY_MAX).strip()
    if not event and "goal-event" not in errors:
        return None
    window = raw.get("window") or ""
    match = _GOAL_WINDOW.match(window) if isinstance(window, str) else None
    if match is None:
        errors.add("goal-window", "Give the window as a number of days or hours, e.g. 3D or 12H.")
    elif int(match[1]) > GOAL_WINDOW_MAX[match[2]]:
        unit = "days" if match[2] == "D" else "hours"
        errors.add("goal-window", f"At most {GOAL_WINDOW_MAX[match[2]]} {unit}.")
    filters_raw = raw.get("filters") or []
    filters: list[dict] = []
    if not isinstance(filters_raw, list):
        errors.add("goal-filters", "Filters must be a list of property conditions.")
    elif len(filters_raw) > GOAL_FILTERS_MAX:
        errors.add("goal-filters", f"At most {GOAL_FILTERS_MAX} filters.")
    else:
        for index, condition in enumerate(filters_raw):
            try:  # the segments format's own checks, so the winner's SQL can trust the filters
                filters.append(
                    segment_definitions.property_condition_validate(
                        condition, path=f"goal-filter-{index}"
                    )
                )
            except segment_definitions.DefinitionError as invalid:
                for path, message in invalid.errors.items():
                    # "goal-filter-0.value" -> "goal-filter-0-value", the form's field name.
                    errors.add(path.replace(".", "-"), message)
    if errors:
        raise ContentInvalid(errors)
    return {"event": event, "filters": filters, "window": window}
