"""The What step's form vocabulary: its field names, spare rows and limits."""

from __future__ import annotations

import re

from apps.providers.models import Channel

from .... import content

TEMPLATE = "campaigns/wizard/what.html"
ACTION_FIELD = "_action"
# A posted id longer than this cannot be a row (and would overflow the column in the query).
MAX_PK_DIGITS = 15
# Blank rows offered under the filled ones (the "More rows" button re-renders with more).
SPARE_ROWS = {"carousel": 1, "buttons": 1, "template_variables": 1, "key_values": 2}
ROW_LIMITS = {
    "carousel": content.CAROUSEL_MAX,
    "buttons": content.BUTTONS_MAX,
    "template_variables": content.PAIRS_MAX,
    "key_values": content.PAIRS_MAX,
}
ROW_KEYS = {
    "carousel": ("image_url", "caption", "link"),
    "buttons": ("label", "link"),
    "template_variables": ("key", "value"),
    "key_values": ("key", "value"),
}
# Plain text fields of each channel's message, as the form posts them.
TEXT_KEYS = {
    Channel.PUSH: (
        "title",
        "subtitle",
        "body",
        "image_url",
        "ios_media_url",
        "sound",
        "badge",
        "category",
        "deep_link",
        "external_url",
        "collapse_key",
        "android_priority",
        "delivery_priority",
        "android_channel_id",
        "large_icon",
        "badge_icon",
    ),
    Channel.SMS: ("body", "template_id"),
    Channel.EMAIL: ("subject", "sender_name", "preheader", "html", "text"),
}
FLAG_KEYS = ("mutable_content", "content_available")
_VARIANT_INDEX = re.compile(r"^variant-(\d{1,2})-")
_WINDOW = re.compile(r"^(.*?)([DH])$", re.S)
GOAL_UNITS = (("D", "days"), ("H", "hours"))
