"""One message per channel cleaned: push (with its carousel, buttons and custom key-values),
SMS (with the generic provider's keys), email."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.providers.models import Channel

from .fields import _badge, _Errors, _filled_rows, _flag, _text_field, _url_field
from .shape import (
    _PAIR_KEY,
    ANDROID_PRIORITIES,
    BADGE_ICONS,
    BLANK_MESSAGES,
    BUTTONS_MAX,
    CAROUSEL_MAX,
    CUSTOM_KV_MAX,
    DELIVERY_PRIORITIES,
    LIMITS,
    PAIRS_MAX,
    PUSH_PLATFORMS,
    ContentInvalid,
    blank_message,
)


def _push_clean(raw: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    message = blank_message(Channel.PUSH)
    message["title"] = _text_field(raw, "title", errors, liquid=True)
    message["subtitle"] = _text_field(raw, "subtitle", errors, liquid=True)
    message["body"] = _text_field(raw, "body", errors, required=True, liquid=True)
    message["image_url"] = _url_field(raw, "image_url", errors, deep_links=False)
    message["large_icon"] = _url_field(raw, "large_icon", errors, deep_links=False)
    message["ios_media_url"] = _url_field(raw, "ios_media_url", errors, deep_links=False)
    message["deep_link"] = _url_field(raw, "deep_link", errors, deep_links=True)
    message["external_url"] = _url_field(raw, "external_url", errors, deep_links=False)
    for key in ("sound", "category", "collapse_key", "android_channel_id"):
        message[key] = _text_field(raw, key, errors, limit=LIMITS["short"]).strip()
    message["badge"] = _badge(raw.get("badge"), errors)
    message["mutable_content"] = _flag(raw.get("mutable_content"))
    message["content_available"] = _flag(raw.get("content_available"))
    priority = raw.get("android_priority") or "default"
    if priority not in ANDROID_PRIORITIES:
        errors.add("android_priority", "Choose default, high or max.")
        priority = "default"
    message["android_priority"] = priority
    delivery = raw.get("delivery_priority") or "high"
    if delivery not in DELIVERY_PRIORITIES:
        errors.add("delivery_priority", "Choose high or normal.")
        delivery = "high"
    message["delivery_priority"] = delivery
    badge_icon = raw.get("badge_icon") or ""
    if badge_icon not in BADGE_ICONS:
        errors.add("badge_icon", "Choose the app icon or the notification icon.")
        badge_icon = ""
    message["badge_icon"] = badge_icon

    message["carousel"] = [
        {
            "image_url": _url_field(
                row, "image_url", errors, prefix=prefix, deep_links=False, required=True
            ),
            "caption": _text_field(row, "caption", errors, prefix=prefix, liquid=True),
            "link": _url_field(row, "link", errors, prefix=prefix, deep_links=True),
        }
        for prefix, row in _filled_rows(
            raw, "carousel", errors, limit=CAROUSEL_MAX, fields=("image_url", "caption", "link")
        )
    ]
    message["buttons"] = [
        {
            "label": _text_field(
                row, "label", errors, prefix=prefix, required=True, liquid=True
            ).strip(),
            "link": _url_field(row, "link", errors, prefix=prefix, deep_links=True),
        }
        for prefix, row in _filled_rows(
            raw, "buttons", errors, limit=BUTTONS_MAX, fields=("label", "link")
        )
    ]
    message["custom_kv"] = _custom_kv(raw.get("custom_kv"), errors)
    return message


def _custom_kv(value: Any, errors: _Errors) -> dict[str, dict[str, str]]:
    cleaned: dict[str, dict[str, str]] = {platform: {} for platform in PUSH_PLATFORMS}
    if value in (None, ""):
        return cleaned
    if not isinstance(value, Mapping):
        errors.add("custom_kv", "Custom key-value pairs must be an object per platform.")
        return cleaned
    for platform, pairs in value.items():
        key = f"custom_kv-{platform}"
        if platform not in PUSH_PLATFORMS:
            errors.add("custom_kv", f"Unknown platform “{platform}”: use android, ios or web.")
            continue
        if pairs in (None, ""):
            continue
        if not isinstance(pairs, Mapping):
            errors.add(key, "Must be key=value pairs.")
            continue
        if len(pairs) > CUSTOM_KV_MAX:
            errors.add(key, f"At most {CUSTOM_KV_MAX} key-value pairs.")
            continue
        for pair_key, pair_value in pairs.items():
            if not isinstance(pair_key, str) or not pair_key.strip():
                errors.add(key, "Every key-value pair needs a key.")
                break
            if isinstance(pair_value, bool) or not isinstance(pair_value, str | int | float):
                errors.add(key, f"The value of “{pair_key}” must be text or a number.")
                break
            if len(pair_key) > LIMITS["short"] or len(str(pair_value)) > LIMITS["pair"]:
                errors.add(key, f"“{pair_key[:40]}” is too long.")
                break
            cleaned[platform][pair_key.strip()] = str(pair_value)
    return cleaned


def _sms_clean(raw: Mapping[str, Any], errors: _Errors, *, generic_sms: bool) -> dict[str, Any]:
    message = blank_message(Channel.SMS)
    message["template_id"] = _text_field(raw, "template_id", errors).strip()
    # A generic provider's template may carry the whole text: its template id is then enough.
    body_required = not (generic_sms and message["template_id"])
    message["body"] = _text_field(raw, "body", errors, required=body_required, liquid=True)
    if body_required and generic_sms and errors.get("body") == "This field is required.":
        errors["body"] = "Write the message, or give the generic provider's template ID."

    message["template_variables"] = [
        {
            "key": _text_field(row, "key", errors, prefix=prefix, limit=LIMITS["short"]).strip(),
            "value": _pair_value(row, prefix, errors),
        }
        for prefix, row in _filled_rows(
            raw, "template_variables", errors, limit=PAIRS_MAX, fields=("key", "value")
        )
    ]

    pairs: list[dict[str, str]] = []
    seen: set[str] = set()
    for prefix, row in _filled_rows(
        raw, "key_values", errors, limit=PAIRS_MAX, fields=("key", "value")
    ):
        key = _text_field(
            row, "key", errors, prefix=prefix, limit=LIMITS["short"], required=True
        ).strip()
        if key and prefix + "key" not in errors:
            if not _PAIR_KEY.match(key):
                errors.add(prefix + "key", "Letters, digits and _ only, starting with a letter.")
            elif key in seen:
                errors.add(prefix + "key", f"“{key}” is already set.")
            seen.add(key)
        pairs.append({"key": key, "value": _pair_value(row, prefix, errors)})
    message["key_values"] = pairs
    return message


def _pair_value(row: Mapping[str, Any], prefix: str, errors: _Errors) -> str:
    """The value of a template variable or key-value pair: required, Liquid allowed."""
    return _text_field(
        row, "value", errors, prefix=prefix, limit=LIMITS["pair"], required=True, liquid=True
    )


def _email_clean(raw: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    message = blank_message(Channel.EMAIL)
    message["subject"] = _text_field(raw, "subject", errors, required=True, liquid=True)
    message["sender_name"] = _text_field(raw, "sender_name", errors, liquid=True).strip()
    message["preheader"] = _text_field(raw, "preheader", errors, liquid=True)
    message["html"] = _text_field(raw, "html", errors, liquid=True, html=True)
    message["text"] = _text_field(raw, "text", errors, liquid=True)
    if not message["html"].strip() and not message["text"].strip():
        for key in ("html", "text"):
            if key not in errors:
                errors.add(key, "Write an HTML body or a plain-text body (or both).")
    return message


def message_clean(channel: str, raw: Any, *, generic_sms: bool = False) -> dict[str, Any]:
    """The message to store for `channel`, every key present. Raises ContentInvalid keyed by
    field ("body", "carousel-0-link")."""
    if channel not in BLANK_MESSAGES:
        raise ContentInvalid({"channel": "Unknown channel."})
    if not isinstance(raw, Mapping):
        raise ContentInvalid({"message": "The message must be an object."})
    errors = _Errors()
    if channel == Channel.PUSH:
        message = _push_clean(raw, errors)
    elif channel == Channel.SMS:
        message = _sms_clean(raw, errors, generic_sms=generic_sms)
    else:
        message = _email_clean(raw, errors)
    if errors:
        raise ContentInvalid(errors)
    return message
