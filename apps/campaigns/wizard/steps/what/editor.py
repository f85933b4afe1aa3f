"""View-models for the editor: each variant's fields with their values and errors, the goal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apps.message_templates.models import MessageTemplate
from apps.providers.models import Channel
from apps.segments import definitions as segment_definitions
from apps.segments import selectors as segment_selectors

from .... import content
from ....models import Campaign
from .actions import _variant_limit
from .fields import _WINDOW, FLAG_KEYS, GOAL_UNITS, ROW_KEYS, ROW_LIMITS, SPARE_ROWS, TEXT_KEYS

# --- view-models ---------------------------------------------------------------------------


@dataclass
class FieldView:
    name: str
    value: Any
    error: str = ""


@dataclass
class VariantView:
    index: int
    key: str
    name: FieldView
    match: FieldView
    f: dict[str, FieldView]
    rows: dict[str, list[dict[str, FieldView]]] = field(default_factory=dict)
    list_errors: list[str] = field(default_factory=list)
    advanced_open: bool = False  # push: an error hides in "Advanced options" otherwise
    sms: dict[str, Any] | None = None  # SMS: the counter under the body


class _ErrorTaker:
    """Hands out errors by field name and remembers which were shown, so the rest can go on
    top of the form instead of being lost."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        self.taken: set[str] = set()

    def field(self, name: str, value: Any) -> FieldView:
        self.taken.add(name)
        return FieldView(name=name, value=value, error=self.errors.get(name, ""))

    def take(self, name: str) -> str:
        self.taken.add(name)
        return self.errors.get(name, "")

    def rest(self) -> list[str]:
        return [message for key, message in self.errors.items() if key not in self.taken]


def _display(value: Any) -> Any:
    if value is None:
        return ""
    return value


def _kv_text(pairs: Any) -> str:
    if isinstance(pairs, str):
        return pairs
    if isinstance(pairs, Mapping):
        return "\n".join(f"{key}={value}" for key, value in pairs.items())
    return ""


def _variant_view(channel: str, index: int, variant: Mapping, errors: _ErrorTaker) -> VariantView:
    prefix = f"variant-{index}-"
    message = variant.get("message") if isinstance(variant.get("message"), Mapping) else {}
    key = content.VARIANT_KEYS[index]
    fields = {
        name: errors.field(prefix + name, _display(message.get(name)))
        for name in TEXT_KEYS[channel]
    }
    view = VariantView(
        index=index,
        key=key,
        name=errors.field(prefix + "name", variant.get("name") or f"Variant {key}"),
        match=errors.field(prefix + "match", variant.get("match") or ""),
        f=fields,
    )
    if channel == Channel.PUSH:
        for name in FLAG_KEYS:
            fields[name] = errors.field(prefix + name, bool(message.get(name)))
        custom = message.get("custom_kv") if isinstance(message.get("custom_kv"), Mapping) else {}
        for platform in content.PUSH_PLATFORMS:
            fields[f"custom_kv_{platform}"] = errors.field(
                f"{prefix}custom_kv-{platform}", _kv_text(custom.get(platform))
            )
    list_keys = {
        Channel.PUSH: ("carousel", "buttons"),
        Channel.SMS: ("template_variables", "key_values"),
    }.get(channel, ())
    for list_key in list_keys:
        filled = [row for row in message.get(list_key) or [] if isinstance(row, Mapping)]
        count = min(len(filled) + SPARE_ROWS[list_key], ROW_LIMITS[list_key])
        view.rows[list_key] = [
            {
                name: errors.field(
                    f"{prefix}{list_key}-{row_index}-{name}",
                    _display(filled[row_index].get(name)) if row_index < len(filled) else "",
                )
                for name in ROW_KEYS[list_key]
            }
            for row_index in range(count)
        ]
        if message_error := errors.take(prefix + list_key):
            view.list_errors.append(message_error)
    if custom_error := errors.take(prefix + "custom_kv"):
        view.list_errors.append(custom_error)
    basic = {"name", "match", "title", "subtitle", "body", "image_url", "deep_link"}
    view.advanced_open = any(
        key.startswith(prefix) and key[len(prefix) :].split("-")[0] not in basic
        for key in errors.errors
    )
    return view


def _goal_view(goal: Mapping, errors: _ErrorTaker) -> dict[str, Any]:
    window = goal.get("window") or ""
    found = _WINDOW.match(window) if isinstance(window, str) else None
    number, unit = (found[1], found[2]) if found else (window, "D")
    filters = [row for row in goal.get("filters") or [] if isinstance(row, Mapping)]
    rows = []
    for index in range(min(len(filters) + 1, content.GOAL_FILTERS_MAX)):
        row = filters[index] if index < len(filters) else {}
        value = row.get("value")
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        prefix = f"goal-filter-{index}-"
        rows.append(
            {
                "name": errors.field(prefix + "name", row.get("name") or ""),
                "operator": errors.field(prefix + "operator", row.get("operator") or "equals"),
                "value": errors.field(prefix + "value", _display(value)),
            }
        )
    window_error = errors.take("goal-window")
    return {
        "event": errors.field("goal-event", goal.get("event") or ""),
        "window_number": FieldView("goal-window_number", number, window_error),
        "window_unit": unit,
        "filters": rows,
        "filters_error": errors.take("goal-filters"),
    }


def _offer_generic_keys(draft: dict, keys: list[str]) -> None:
    """Put a row for each key the generic provider's request uses, so the marketer sees which
    values it needs (the spec's predefined key-value pairs)."""
    for variant in draft.get("variants") or []:
        message = variant.get("message") if isinstance(variant, Mapping) else None
        if not isinstance(message, dict):
            continue
        rows = message.get("key_values")
        rows = rows if isinstance(rows, list) else []
        present = {row.get("key") for row in rows if isinstance(row, Mapping)}
        missing = [{"key": key, "value": ""} for key in keys if key not in present]
        message["key_values"] = (rows + missing)[: content.PAIRS_MAX]


def editor_context(
    campaign: Campaign, draft: dict, goal: Mapping, errors: Mapping[str, str], note: str = ""
) -> dict[str, Any]:
    generic_keys = content.generic_sms_keys(campaign)
    if generic_keys:
        _offer_generic_keys(draft, generic_keys)
    taker = _ErrorTaker(errors)
    mode = draft.get("mode") if draft.get("mode") in content.MODES else "single"
    variants = [
        _variant_view(campaign.channel, index, variant, taker)
        for index, variant in enumerate(draft.get("variants") or [])
        if isinstance(variant, Mapping) and index < content.MULTI_MAX_VARIANTS
    ]
    ab = draft.get("ab") if isinstance(draft.get("ab"), Mapping) else content.AB_DEFAULTS
    multi = draft.get("multi") if isinstance(draft.get("multi"), Mapping) else {}
    context = {
        "channel": campaign.channel,
        "mode": mode,
        "mode_error": taker.take("mode"),
        "modes": list(content.MODE_LABELS.items()),
        "variants": variants,
        "variants_error": taker.take("variants"),
        "can_add": len(variants) < _variant_limit(mode),
        "can_remove": len(variants) > (content.AB_MIN_VARIANTS if mode == "ab" else 1),
        "ab": {
            "size_kind": taker.field("ab-size_kind", ab.get("size_kind") or "percent"),
            "size": taker.field("ab-size", _display(ab.get("size"))),
            "metric": taker.field("ab-metric", ab.get("metric") or "clicks"),
            "window_hours": taker.field("ab-window_hours", _display(ab.get("window_hours"))),
        },
        "ab_metrics": content.ab_metrics(campaign.channel),
        "multi": {
            "property": taker.field("multi-property", multi.get("property") or ""),
            "fallback": taker.field("multi-fallback", multi.get("fallback") or "A"),
        },
        "template_id": draft.get("template_id") or "",
        "goal": _goal_view(goal, taker),
        "goal_operators": list(segment_definitions.OPERATOR_LABELS.items()),
        "event_names": segment_selectors.event_names(),
        "goal_units": GOAL_UNITS,
        "note": note,
        "is_live": campaign.is_live,
        "generic_sms": content.uses_generic_sms(campaign),
        "generic_keys": generic_keys,
        "priorities": content.ANDROID_PRIORITIES,
        "delivery_priorities": content.DELIVERY_PRIORITIES,
        "badge_icons": content.BADGE_ICONS,
        "platforms": content.PUSH_PLATFORMS,
        "saved_templates": list(
            MessageTemplate.objects.filter(channel=campaign.channel)
            .order_by("name")
            .values_list("pk", "name")[:200]
        ),
        "limits": content.LIMITS,
    }
    context["other_errors"] = taker.rest()
    return context
