"""The posted What form as a content draft, and a stored campaign as one."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict

from apps.providers.models import Channel

from .... import content
from ....models import Campaign
from .fields import _VARIANT_INDEX, FLAG_KEYS, ROW_KEYS, ROW_LIMITS, TEXT_KEYS

# --- the posted form as a content draft -----------------------------------------------------


def _kv_lines(text: str) -> dict[str, str] | str:
    """key=value lines as a dict, or the text itself when a line does not parse (content.py
    then refuses it and the page shows the text back as typed)."""
    pairs: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            return text
        pairs[key.strip()] = value.strip()
    return pairs


def _rows_posted(data: QueryDict, prefix: str, list_key: str) -> list[dict[str, str]]:
    rows = []
    for index in range(ROW_LIMITS[list_key]):
        row = {key: data.get(f"{prefix}{list_key}-{index}-{key}", "") for key in ROW_KEYS[list_key]}
        if any(value.strip() for value in row.values()):
            rows.append(row)
    return rows


def _message_posted(data: QueryDict, channel: str, prefix: str) -> dict[str, Any]:
    message: dict[str, Any] = {key: data.get(prefix + key, "") for key in TEXT_KEYS[channel]}
    if channel == Channel.PUSH:
        for key in FLAG_KEYS:
            message[key] = data.get(prefix + key) == "on"
        message["carousel"] = _rows_posted(data, prefix, "carousel")
        message["buttons"] = _rows_posted(data, prefix, "buttons")
        message["custom_kv"] = {
            platform: _kv_lines(data.get(f"{prefix}custom_kv-{platform}", ""))
            for platform in content.PUSH_PLATFORMS
        }
    elif channel == Channel.SMS:
        message["template_variables"] = _rows_posted(data, prefix, "template_variables")
        message["key_values"] = _rows_posted(data, prefix, "key_values")
    return message


def _posted_variant_count(data: QueryDict) -> int:
    indexes = {int(found[1]) for key in data if (found := _VARIANT_INDEX.match(key))}
    return min(max(indexes, default=0) + 1, content.MULTI_MAX_VARIANTS)


def draft_from_post(campaign: Campaign, data: QueryDict) -> tuple[dict, dict]:
    """(content draft, goal draft) from the posted form, shaped like what is stored but not
    validated: content.py does that."""
    channel = campaign.channel
    variants = []
    for index in range(_posted_variant_count(data)):
        prefix = f"variant-{index}-"
        variants.append(
            {
                "name": data.get(prefix + "name", ""),
                "match": data.get(prefix + "match", ""),
                "message": _message_posted(data, channel, prefix),
            }
        )
    draft = {
        "mode": data.get("mode", "single"),
        "variants": variants,
        "ab": {
            "size_kind": "count" if campaign.is_live else data.get("ab-size_kind", "percent"),
            # Absent (the A/B fields were not on the page yet): the defaults; cleared: "".
            "size": data.get("ab-size", content.AB_DEFAULTS["size"]),
            "metric": data.get("ab-metric", content.AB_DEFAULTS["metric"]),
            "window_hours": data.get("ab-window_hours", content.AB_DEFAULTS["window_hours"]),
        },
        "multi": {
            "property": data.get("multi-property", ""),
            "fallback": data.get("multi-fallback", ""),
        },
        "template_id": data.get("template_id") or None,
    }
    filters = []
    for index in range(content.GOAL_FILTERS_MAX):
        name = data.get(f"goal-filter-{index}-name", "")
        operator = data.get(f"goal-filter-{index}-operator", "equals")
        value = data.get(f"goal-filter-{index}-value", "")
        if name.strip() or value.strip():
            filters.append(
                {
                    "name": name,
                    "operator": operator,
                    "value": content.goal_filter_value(operator, value),
                }
            )
    window_number = data.get("goal-window_number", "").strip()
    goal = {
        "event": data.get("goal-event", ""),
        "window": f"{window_number}{data.get('goal-window_unit', 'D')}" if window_number else "",
        "filters": filters,
    }
    return draft, goal


def draft_from_campaign(campaign: Campaign) -> tuple[dict, dict]:
    stored = campaign.content if isinstance(campaign.content, Mapping) else {}
    draft = content.blank_content(campaign.channel)
    if content.campaign_variants(campaign):
        draft.update(copy.deepcopy(dict(stored)))
        draft["ab"] = {**content.AB_DEFAULTS, **(stored.get("ab") or {})}
        draft["multi"] = {"property": "", "fallback": "A", **(stored.get("multi") or {})}
    if campaign.is_live:
        draft["ab"]["size_kind"] = "count"
    goal = campaign.conversion_goal if isinstance(campaign.conversion_goal, Mapping) else {}
    return draft, {"event": "", "window": "3D", "filters": [], **goal}
