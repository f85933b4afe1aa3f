"""The whole content document: the mode (single, A/B, multi-message), its variants and the
A/B and multi settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.providers.models import Channel

from .fields import _Errors, _text, _text_field, _whole_number
from .goal import _template_id
from .messages import message_clean
from .shape import (
    AB_COUNT_MAX,
    AB_DEFAULTS,
    AB_MAX_VARIANTS,
    AB_METRICS,
    AB_MIN_VARIANTS,
    AB_WINDOW_MAX_HOURS,
    MATCH_MAX,
    MODES,
    MULTI_MAX_VARIANTS,
    NAME_MAX,
    PROPERTY_MAX,
    SIZE_KINDS,
    VARIANT_KEYS,
    ContentInvalid,
    blank_message,
)


def ab_metrics(channel: str) -> tuple[str, ...]:
    """Winner metrics that mean something on `channel`: only email is "opened"."""
    return AB_METRICS if channel == Channel.EMAIL else ("clicks", "conversions")


def _ab_clean(
    raw: Any, errors: _Errors, *, channel: str, live: bool, has_goal: bool
) -> dict[str, Any]:
    raw = raw if isinstance(raw, Mapping) else {}
    size_kind = raw.get("size_kind") or ("count" if live else "percent")
    if size_kind not in SIZE_KINDS:
        errors.add("ab-size_kind", "Choose a percentage or a number of users.")
        size_kind = "percent"
    elif live and size_kind == "percent":
        # A live campaign's reach is unknown up front: the test is a number of messages.
        errors.add("ab-size_kind", "A live campaign's test audience is a number of users.")
    if size_kind == "percent":
        size = _whole_number(
            raw.get("size"), "ab-size", errors, low=1, high=99, label="The percentage"
        )
    else:
        size = _whole_number(
            raw.get("size"), "ab-size", errors, low=1, high=AB_COUNT_MAX, label="The test size"
        )
    metric = raw.get("metric") or "clicks"
    if metric not in ab_metrics(channel):
        errors.add("ab-metric", f"Choose {' or '.join(ab_metrics(channel))}.")
        metric = "clicks"
    elif metric == "conversions" and not has_goal:
        errors.add("ab-metric", "Set a conversion goal below to pick the winner by conversions.")
    window = _whole_number(
        raw.get("window_hours", AB_DEFAULTS["window_hours"]),
        "ab-window_hours",
        errors,
        low=1,
        high=AB_WINDOW_MAX_HOURS,
        label="The test window",
    )
    return {"size_kind": size_kind, "size": size, "metric": metric, "window_hours": window}


def _match_key(value: str) -> str:
    return value.strip().casefold()


def content_clean(
    raw: Any,
    *,
    channel: str,
    live: bool = False,
    generic_sms: bool = False,
    has_goal: bool = False,
    required_keys: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The content document to store. Raises ContentInvalid with every problem, keyed by the
    step form's field names ("mode", "variant-0-body", "ab-size", "multi-fallback")."""
    if not isinstance(raw, Mapping):
        raise ContentInvalid({"content": "The content must be an object."})
    errors = _Errors()
    mode = raw.get("mode")
    if mode not in MODES:
        errors.add("mode", "Choose a single message, an A/B test or multi-message.")
        mode = "single"
    variants_raw = raw.get("variants")
    if not isinstance(variants_raw, list) or not variants_raw:
        raise ContentInvalid({**errors, "variants": "Write a message."})
    limit = {"single": 1, "ab": AB_MAX_VARIANTS, "multi": MULTI_MAX_VARIANTS}[mode]
    if mode == "single" and len(variants_raw) != 1:
        errors.add("variants", "A single-message campaign has exactly one message.")
    elif mode == "ab" and not AB_MIN_VARIANTS <= len(variants_raw) <= AB_MAX_VARIANTS:
        errors.add("variants", "An A/B test has 2 or 3 variants.")
    elif len(variants_raw) > limit:
        errors.add("variants", f"At most {limit} variants.")

    variants = []
    for index, variant in enumerate(variants_raw[:limit]):
        key = VARIANT_KEYS[index]
        prefix = f"variant-{index}-"
        if not isinstance(variant, Mapping):
            errors.add(prefix + "message", "The variant must be an object.")
            continue
        name = _text_field(variant, "name", errors, prefix=prefix, limit=NAME_MAX).strip()
        match = ""
        if mode == "multi":
            match = _text_field(variant, "match", errors, prefix=prefix, limit=MATCH_MAX).strip()
        try:
            message = message_clean(channel, variant.get("message"), generic_sms=generic_sms)
        except ContentInvalid as invalid:
            for field, text in invalid.errors.items():
                errors.add(prefix + field, text)
            message = blank_message(channel)
        variants.append(
            {"key": key, "name": name or f"Variant {key}", "match": match, "message": message}
        )
        if channel == Channel.SMS and required_keys and prefix + "key_values" not in errors:
            given = {pair["key"] for pair in message["key_values"] if pair["value"].strip()}
            missing = [key for key in required_keys if key not in given]
            if missing:
                names = ", ".join(f"$${key}" for key in missing)
                errors.add(
                    prefix + "key_values",
                    f"The generic provider's request uses {names}: give each a value.",
                )

    content: dict[str, Any] = {
        "mode": mode,
        "variants": variants,
        "ab": None,
        "multi": None,
        "template_id": _template_id(raw.get("template_id")),
    }
    if mode == "ab":
        content["ab"] = _ab_clean(
            raw.get("ab"), errors, channel=channel, live=live, has_goal=has_goal
        )
    if mode == "multi":
        content["multi"] = _multi_clean(raw.get("multi"), variants, errors)
    if errors:
        raise ContentInvalid(errors)
    return content


def _multi_clean(raw: Any, variants: list[dict], errors: _Errors) -> dict[str, str]:
    raw = raw if isinstance(raw, Mapping) else {}
    prop = _text(raw.get("property"), "multi-property", errors, limit=PROPERTY_MAX).strip()
    if not prop and "multi-property" not in errors:
        errors.add("multi-property", "Choose the profile property that picks the message.")
    keys = [variant["key"] for variant in variants]
    fallback = raw.get("fallback")
    if fallback not in keys:
        errors.add("multi-fallback", "Choose which variant everyone else gets.")
        fallback = keys[0] if keys else "A"
    seen: dict[str, str] = {}
    for index, variant in enumerate(variants):
        match = variant["match"]
        field = f"variant-{index}-match"
        if not match:
            if variant["key"] != fallback:
                errors.add(field, f"Which {prop or 'property'} value gets this variant?")
            continue
        folded = _match_key(match)
        if folded in seen:
            errors.add(field, f"Variant {seen[folded]} already matches “{match}”.")
        else:
            seen[folded] = variant["key"]
    return {"property": prop, "fallback": fallback}
