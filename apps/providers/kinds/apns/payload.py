"""An iOS push as Apple reads it: the JSON payload and the apns-* headers. One place for both
senders of iOS pushes: the APNs adapter posts them as they are, the FCM adapter puts them in
its `apns` block (FCM passes `apns.headers` and `apns.payload` on to Apple).

Payload (Apple, "Generating a remote notification"), from PushMessage:
- `aps.alert` {title, subtitle, body} ← title, options["subtitle"], body
- `aps.badge` ← badge (int); `aps.sound` ← sound; `aps.category` ← category;
  `aps.thread-id` ← thread_id
- `aps.mutable-content: 1` ← mutable_content, and always with an image or a carousel: the
  notification service extension that downloads the media runs only for such pushes
- `aps.content-available: 1` ← content_available
- beside `aps` (never inside it), CleverTap's iOS SDK keys:
  `ct_mediaUrl` ← image, `ct_mediaType` ← "image", or "gif" / "video" / "audio" by the URL's
  extension (CTNotificationService downloads the media by them); `wzrk_dl` ← link (the SDK
  opens it on tap); `ct_ContentSlider` {"items": [{"imageUrl", "caption", "actionUrl"}]} ←
  carousel (CTNotificationContent's image slider; the app's content extension is chosen by
  aps.category, which the marketer sets, e.g. "CTNotification")
- the message's data (custom pairs, wzrk_id / wzrk_pivot, herald_mid) at the root too, when
  `with_data` (APNs). Through FCM they stay in `message.data`, which FCM itself writes at
  the payload's root.

Headers:
- `apns-push-type`: push_type, else "background" for content_available with neither title
  nor body, else "alert"
- `apns-priority`: "10" for delivery_priority high (the default), "5" for normal; a
  background push always "5" (Apple refuses 10 for it)
- `apns-expiration`: expires_at (Unix time); else now + ttl, where a ttl of 0 gives "0"
  (deliver once, never store); neither → no header, so APNs stores it by its own policy
  (sending "0" by default would lose every push to a phone that is briefly offline)
- `apns-collapse-id`: collapse_id when it fits Apple's 64 bytes, else its SHA-256 in hex
  (64 characters, the same for the same id, so collapsing still works)
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

from apps.providers.adapters.base import PushMessage

MAX_COLLAPSE_ID_BYTES = 64
MEDIA_TYPES = {
    ".gif": "gif",
    ".mp4": "video",
    ".mov": "video",
    ".m4v": "video",
    ".mp3": "audio",
    ".m4a": "audio",
    ".wav": "audio",
    ".aif": "audio",
    ".aiff": "audio",
    ".caf": "audio",
}

# Patched by tests that need a fixed "now" for expires_at and ttl arithmetic.
_clock = time.time


def now() -> float:
    return _clock()


def push_type_of(message: PushMessage) -> str:
    options = message.options
    if options.get("push_type"):
        return str(options["push_type"])
    if options.get("content_available") and not message.title and not message.body:
        return "background"
    return "alert"


def collapse_id_for(collapse_id: str) -> str:
    """Apple's apns-collapse-id: at most 64 bytes."""
    if len(collapse_id.encode()) <= MAX_COLLAPSE_ID_BYTES:
        return collapse_id
    return hashlib.sha256(collapse_id.encode()).hexdigest()


def expiration_for(options: dict[str, Any], *, at: float) -> str | None:
    """The apns-expiration value (Unix seconds as text), or None for no header."""
    if options.get("expires_at") is not None:
        return str(max(int(options["expires_at"]), 0))
    if options.get("ttl") is not None:
        ttl = int(options["ttl"])
        return "0" if ttl <= 0 else str(int(at) + ttl)
    return None


def apns_headers(message: PushMessage, *, at: float | None = None) -> dict[str, str]:
    """The apns-* headers that depend on the message (not apns-topic, apns-id)."""
    options = message.options
    push_type = push_type_of(message)
    normal = push_type == "background" or options.get("delivery_priority") == "normal"
    headers = {"apns-push-type": push_type, "apns-priority": "5" if normal else "10"}
    expiration = expiration_for(options, at=now() if at is None else at)
    if expiration is not None:
        headers["apns-expiration"] = expiration
    if options.get("collapse_id"):
        headers["apns-collapse-id"] = collapse_id_for(str(options["collapse_id"]))
    return headers


def media_type_of(url: str) -> str:
    path = urlsplit(url).path.lower()
    dot = path.rfind(".")
    return MEDIA_TYPES.get(path[dot:], "image") if dot >= 0 else "image"


def content_slider(message: PushMessage) -> dict[str, Any] | None:
    items = []
    for slide in message.options.get("carousel") or []:
        if not slide.get("image_url"):
            continue
        item = {"imageUrl": str(slide["image_url"])}
        if slide.get("caption"):
            item["caption"] = str(slide["caption"])
        link = slide.get("link") or message.options.get("link")
        if link:
            item["actionUrl"] = str(link)
        items.append(item)
    return {"items": items} if items else None


def apns_payload(message: PushMessage, *, with_data: bool = True) -> dict[str, Any]:
    options = message.options
    aps: dict[str, Any] = {}
    alert = {
        key: str(value)
        for key, value in (
            ("title", message.title),
            ("subtitle", options.get("subtitle")),
            ("body", message.body),
        )
        if value
    }
    if alert:
        aps["alert"] = alert
    if options.get("badge") is not None:
        aps["badge"] = int(options["badge"])
    for option, key in (("sound", "sound"), ("category", "category"), ("thread_id", "thread-id")):
        if options.get(option):
            aps[key] = str(options[option])
    slider = content_slider(message)
    if options.get("mutable_content") or options.get("image") or slider:
        aps["mutable-content"] = 1
    if options.get("content_available"):
        aps["content-available"] = 1

    payload: dict[str, Any] = {}
    if options.get("image"):
        payload["ct_mediaUrl"] = str(options["image"])
        payload["ct_mediaType"] = media_type_of(str(options["image"]))
    if options.get("link"):
        payload["wzrk_dl"] = str(options["link"])
    if slider:
        payload["ct_ContentSlider"] = slider
    if with_data:  # the campaign's own pairs win over the keys written from options
        payload.update((str(k), str(v)) for k, v in message.data.items() if k != "aps")
    payload["aps"] = aps
    return payload
