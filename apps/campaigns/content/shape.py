"""The content document's shape: its limits, every key of a message with its blank value,
the labels of its fields, and reading a campaign's variants."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from django.core.validators import URLValidator

from apps.message_templates.rendering import MessageInvalid
from apps.providers.models import Channel

MODES = ("single", "ab", "multi")
MODE_LABELS = {"single": "Single message", "ab": "A/B test", "multi": "Multi-message"}
VARIANT_KEYS = "ABCDEFGHIJ"
AB_MIN_VARIANTS = 2
AB_MAX_VARIANTS = 3
MULTI_MAX_VARIANTS = len(VARIANT_KEYS)
SIZE_KINDS = ("percent", "count")
AB_METRICS = ("clicks", "opens", "conversions")
AB_COUNT_MAX = 10_000_000
AB_WINDOW_MAX_HOURS = 168
AB_DEFAULTS = {"size_kind": "percent", "size": 20, "metric": "clicks", "window_hours": 4}
ANDROID_PRIORITIES = ("default", "high", "max")  # the tray's ordering (Android)
DELIVERY_PRIORITIES = ("high", "normal")  # how urgently the service delivers (every platform)
BADGE_ICONS = ("", "app icon", "notification icon")  # Android O's badge icon, as the API names it
PUSH_PLATFORMS = ("android", "ios", "web")
CAROUSEL_MAX = 5
BUTTONS_MAX = 3
PAIRS_MAX = 20
CUSTOM_KV_MAX = 50
BADGE_MAX = 1_000_000
NAME_MAX = 60
MATCH_MAX = 200
PROPERTY_MAX = 200
GOAL_WINDOW_MAX = {"D": 30, "H": 720}
GOAL_FILTERS_MAX = 5

LIMITS: dict[str, int] = {
    "title": 200,
    "subtitle": 200,
    "body": 2_000,
    "url": 2_000,
    "short": 200,
    "label": 50,
    "caption": 200,
    "template_id": 64,
    "pair": 500,
    "subject": 500,
    "sender_name": 200,
    "preheader": 500,
    "html": 500_000,
    "text": 100_000,
}

# Every key of a stored message, with its blank value.
BLANK_MESSAGES: dict[str, dict[str, Any]] = {
    Channel.PUSH: {
        "title": "",
        "subtitle": "",
        "body": "",
        "image_url": "",
        "ios_media_url": "",
        "carousel": [],
        "sound": "",
        "badge": None,
        "category": "",
        "deep_link": "",
        "external_url": "",
        "mutable_content": False,
        "content_available": False,
        "collapse_key": "",
        "android_priority": "default",
        "delivery_priority": "high",
        "android_channel_id": "",
        "large_icon": "",
        "badge_icon": "",
        "buttons": [],
        "custom_kv": {"android": {}, "ios": {}, "web": {}},
    },
    Channel.SMS: {"body": "", "template_id": "", "template_variables": [], "key_values": []},
    Channel.EMAIL: {"subject": "", "sender_name": "", "preheader": "", "html": "", "text": ""},
}
# Labels for problems() sentences and the summary.
FIELD_LABELS = {
    "title": "Title",
    "subtitle": "Subtitle",
    "body": "Message",
    "image_url": "Image URL",
    "ios_media_url": "iOS media URL",
    "sound": "Sound",
    "badge": "Badge count",
    "category": "Category",
    "deep_link": "Deep link",
    "external_url": "External URL",
    "collapse_key": "Collapse key",
    "android_priority": "Android tray priority",
    "delivery_priority": "Delivery priority",
    "large_icon": "Large icon URL",
    "badge_icon": "Badge icon",
    "android_channel_id": "Android channel ID",
    "template_id": "Template ID",
    "subject": "Subject",
    "sender_name": "Sender name",
    "preheader": "Preheader",
    "html": "HTML body",
    "text": "Plain-text body",
    "carousel": "Carousel",
    "buttons": "Buttons",
    "custom_kv": "Custom key-value pairs",
    "template_variables": "Template variables",
    "key_values": "Key-value pairs",
}

_HTTP_URL = URLValidator(schemes=["http", "https"])
_DEEP_LINK = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
# Schemes that would run code or smuggle content if a client opened them.
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
_PAIR_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_GOAL_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([DH])$")
_LIQUID_MARK = re.compile(r"{{|{%")
# Placeholders the generic adapter fills itself (apps/providers/kinds/generic_sms/adapter.py).
GENERIC_BUILTINS = frozenset({"To", "Message", "TemplateID", "TemplateVariables"})


ContentInvalid = MessageInvalid  # one error type for content that cannot be saved or rendered


# --- reading -------------------------------------------------------------------------------


def campaign_variants(campaign) -> list[dict]:
    """The variants as stored ([] when the campaign has no content yet)."""
    content = campaign.content if isinstance(campaign.content, Mapping) else {}
    variants = content.get("variants")
    if not isinstance(variants, list):
        return []
    return [variant for variant in variants if isinstance(variant, Mapping)]


def blank_message(channel: str) -> dict[str, Any]:
    return copy.deepcopy(BLANK_MESSAGES.get(channel, {}))


def blank_content(channel: str) -> dict[str, Any]:
    return {
        "mode": "single",
        "variants": [
            {"key": "A", "name": "Variant A", "match": "", "message": blank_message(channel)}
        ],
        "ab": dict(AB_DEFAULTS),
        "multi": {"property": "", "fallback": "A"},
        "template_id": None,
    }
