"""Content problems for the readiness rules and the overview's summary rows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apps.providers.models import Channel
from apps.segments import definitions as segment_definitions

from .routes import campaign_content_clean
from .shape import (
    _GOAL_WINDOW,
    FIELD_LABELS,
    MODE_LABELS,
    VARIANT_KEYS,
    ContentInvalid,
    campaign_variants,
)

# --- overview ------------------------------------------------------------------------------


def _problem_sentence(key: str, message: str, variants: list[Mapping]) -> str:
    found = re.match(r"^variant-(\d+)-(.+)$", key)
    if found:
        index, field = int(found[1]), found[2]
        base = field.split("-", 1)[0]
        label = FIELD_LABELS.get(base, base.replace("_", " ").capitalize())
        if label and not label.split()[0].isupper():  # "HTML body" stays; "Subject" -> "subject"
            label = label[0].lower() + label[1:]
        if len(variants) == 1:  # one message: no variant letter to name
            if message == "This field is required.":
                return f"The {label} is missing (What)."
            if message.startswith("Line "):
                return f"The {label} has a template error ({message})."
            return f"The {label}: {message}"
        name = f"Variant {VARIANT_KEYS[index]}" if index < len(VARIANT_KEYS) else "A variant"
        if message == "This field is required.":
            return f"{name} has no {label}."
        if message.startswith("Line "):
            return f"{name}: the {label} has a template error ({message})."
        return f"{name}, {label}: {message}"
    area = {"ab": "A/B test", "multi": "Multi-message", "goal": "Conversion goal"}.get(
        key.split("-", 1)[0], "Content"
    )
    return f"{area}: {message}"


def content_problems(campaign) -> list[str]:
    """Why the content cannot be sent, as sentences (What step)."""
    variants = campaign_variants(campaign)
    if not variants:
        return ["No message yet: write it in What."]
    try:
        campaign_content_clean(campaign, campaign.content, has_goal=bool(campaign.conversion_goal))
    except ContentInvalid as invalid:
        return [
            _problem_sentence(key, message, variants) for key, message in invalid.errors.items()
        ]
    return []


def variant_gist(channel: str, message: Mapping[str, Any], limit: int = 60) -> str:
    if channel == Channel.EMAIL:
        text = message.get("subject") or ""
    else:
        text = message.get("body") or ""
        if not text and channel == Channel.SMS and message.get("template_id"):
            text = f"Template {message['template_id']}"
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def goal_summary(goal: Any) -> str:
    if not isinstance(goal, Mapping) or not goal.get("event"):
        return "None"
    window = str(goal.get("window") or "")
    found = _GOAL_WINDOW.match(window)
    if found:
        number, unit = int(found[1]), "day" if found[2] == "D" else "hour"
        window = f"{number} {unit}{'s' if number != 1 else ''}"
    text = f"{goal['event']} within {window}"
    filters = [
        segment_definitions.property_summary(condition)
        for condition in goal.get("filters") or []
        if isinstance(condition, Mapping)
    ]
    if filters:
        text += " where " + " and ".join(filters)
    return text


def content_summary(campaign) -> list[tuple[str, str]]:
    variants = campaign_variants(campaign)
    if not variants:
        return [("Content", "Not written yet")]
    content = campaign.content
    mode = content.get("mode", "single")
    label = MODE_LABELS.get(mode, mode)
    if mode == "ab" and isinstance(content.get("ab"), Mapping):
        ab = content["ab"]
        size = (
            f"{ab.get('size')}%" if ab.get("size_kind") == "percent" else f"{ab.get('size')} users"
        )
        label += f" of {len(variants)} variants, tested on {size}, winner by {ab.get('metric')}"
    elif mode == "multi" and isinstance(content.get("multi"), Mapping):
        multi = content["multi"]
        label += f" by {multi.get('property')} (fallback {multi.get('fallback')})"
    rows = [("Content", label)]
    for variant in variants:
        message = variant.get("message") if isinstance(variant.get("message"), Mapping) else {}
        title = variant.get("name") or f"Variant {variant.get('key', '')}"
        if mode == "multi":
            title += f" ({variant.get('match') or 'everyone else'})"
        if mode == "single":
            title = "Message"
        rows.append((title, variant_gist(campaign.channel, message) or "—"))
    rows.append(("Conversion goal", goal_summary(campaign.conversion_goal)))
    return rows
