"""A PushMessage as an FCM HTTP v1 `message` (firebase.google.com/docs/reference/fcm/rest/v1/
projects.messages), per device platform. `data` always carries the message's own pairs
(custom pairs, wzrk_id / wzrk_pivot, herald_mid) as strings; they win over the keys below.

Android — `notification` {title, body, image} and:
- `android.priority`: "HIGH" / "NORMAL" ← delivery_priority (default HIGH)
- `android.ttl`: "<n>s" ← ttl, or expires_at - now; clamped to 0…2419200 (FCM's 4 weeks)
- `android.collapse_key` and `android.notification.tag` ← collapse_id
- `android.notification`: channel_id, sound, notification_priority (PRIORITY_DEFAULT / HIGH /
  MAX ← tray_priority default / high / max), notification_count ← badge, image,
  click_action ← category
- `data`, CleverTap Android SDK keys (its Constants), for apps whose CleverTap SDK renders
  the push: wzrk_dl ← link; wzrk_acts ← buttons as JSON [{"l": label, "dl": link, "id"}];
  wzrk_bc ← badge; wzrk_bi ← badge_icon ("app icon" → "2", "notification icon" → "1": the
  SDK reads an int, Android's BADGE_ICON_LARGE / BADGE_ICON_SMALL, and the large icon is
  the app icon unless another is set); ico ← large_icon; wzrk_cid ← channel_id; wzrk_st ←
  subtitle (the subtext line); wzrk_bp ← image; pr ← tray_priority high / max; wzrk_sound
  ← sound ("true" for "default"); wzrk_ck ← collapse_id.
  A carousel is CleverTap Push Templates' manual carousel: pt_id "pt_manual_carousel"
  (the auto carousel "pt_carousel" takes one link for all slides; ours have a link each),
  pt_title, pt_msg, pt_bg "#FFFFFF" (required), pt_img<n> and pt_dl<n> per slide (the
  slide's link, else the push's), pt_msg_summary ← the first caption (Android's templates
  show one summary line, not a caption per slide), pt_subtitle, pt_ico.

iOS (FCM tokens of iOS apps) — `apns` {headers, payload} exactly as the APNs adapter sends
them (apps/providers/kinds/apns/payload.py, without the data keys: FCM writes `data` at the
payload's root itself), and `apns.fcm_options.image` ← image.

Web (FCM web tokens) — `webpush`:
- `headers`: TTL ← ttl or expires_at - now; Urgency ← delivery_priority (normal / high);
  Topic ← collapse_id when it is ≤ 32 URL-safe base64 characters (RFC 8030), else a stable
  32-character base64url SHA-256 of it
- `notification` {title, body, icon, image, tag ← collapse_id, actions: [{action: id,
  title: label}], the first two (what browsers show)}
- `fcm_options.link` ← link when it is https (FCM requires it); any other link goes to
  `data` as wzrk_dl. Button links go to `data` as wzrk_acts (as on Android) for the page's
  service worker.
"""

from __future__ import annotations

import json
from typing import Any

from apps.providers.adapters.base import PushMessage
from apps.providers.kinds.apns.payload import apns_headers, apns_payload, now
from apps.providers.kinds.webpush.adapter import topic_for  # one RFC 8030 rule for both

MAX_TTL_S = 28 * 24 * 3600  # FCM keeps a message at most 4 weeks
TRAY_PRIORITIES = {"default": "PRIORITY_DEFAULT", "high": "PRIORITY_HIGH", "max": "PRIORITY_MAX"}
BADGE_ICONS = {"none": "0", "notification icon": "1", "app icon": "2"}
MAX_WEB_ACTIONS = 2


def fcm_message(message: PushMessage, *, at: float | None = None) -> dict[str, Any]:
    """The request body of messages:send for one device."""
    at = now() if at is None else at
    body: dict[str, Any] = {"token": message.token}
    data: dict[str, str] = {}
    if message.platform == "ios":
        apns: dict[str, Any] = {
            "headers": apns_headers(message, at=at),
            "payload": apns_payload(message, with_data=False),
        }
        if message.options.get("image"):
            apns["fcm_options"] = {"image": str(message.options["image"])}
        body["apns"] = apns
    elif message.platform == "web":
        body["webpush"] = _webpush(message, data, at=at)
    else:
        notification = _present(
            title=message.title, body=message.body, image=message.options.get("image")
        )
        if notification:
            body["notification"] = notification
        body["android"] = _android(message, at=at)
        data.update(clevertap_android_keys(message))
    data.update((str(k), str(v)) for k, v in message.data.items())
    if data:
        body["data"] = data
    return {"message": body}


def seconds_to_live(options: dict[str, Any], *, at: float) -> int | None:
    if options.get("ttl") is not None:
        seconds = int(options["ttl"])
    elif options.get("expires_at") is not None:
        seconds = int(options["expires_at"]) - int(at)
    else:
        return None
    return min(max(seconds, 0), MAX_TTL_S)


def _present(**values: Any) -> dict[str, str]:
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


def _android(message: PushMessage, *, at: float) -> dict[str, Any]:
    options = message.options
    android: dict[str, Any] = {
        "priority": "NORMAL" if options.get("delivery_priority") == "normal" else "HIGH"
    }
    ttl = seconds_to_live(options, at=at)
    if ttl is not None:
        android["ttl"] = f"{ttl}s"
    if options.get("collapse_id"):
        android["collapse_key"] = str(options["collapse_id"])
    notification: dict[str, Any] = _present(
        channel_id=options.get("channel_id"),
        sound=options.get("sound"),
        notification_priority=TRAY_PRIORITIES.get(str(options.get("tray_priority", ""))),
    )
    if options.get("badge") is not None:
        notification["notification_count"] = int(options["badge"])
    notification.update(
        _present(
            image=options.get("image"),
            click_action=options.get("category"),
            tag=options.get("collapse_id"),
        )
    )
    if notification:
        android["notification"] = notification
    return android


def _buttons_json(buttons: list[dict[str, Any]]) -> str:
    actions = []
    for button in buttons:
        action = {"l": str(button.get("label") or "")}
        if button.get("link"):
            action["dl"] = str(button["link"])
        action["id"] = str(button.get("id") or "")
        actions.append(action)
    return json.dumps(actions, ensure_ascii=False, separators=(",", ":"))


def clevertap_android_keys(message: PushMessage) -> dict[str, str]:
    """The CleverTap Android SDK's (and Push Templates') data keys for the options."""
    options = message.options
    tray = str(options.get("tray_priority") or "")
    sound = options.get("sound")
    badge_icon = str(options.get("badge_icon") or "").lower()
    keys = _present(
        wzrk_dl=options.get("link"),
        wzrk_acts=_buttons_json(options["buttons"]) if options.get("buttons") else None,
        wzrk_bc=options.get("badge"),
        wzrk_bi=BADGE_ICONS.get(badge_icon, badge_icon if badge_icon.isdigit() else None),
        ico=options.get("large_icon"),
        wzrk_cid=options.get("channel_id"),
        wzrk_st=options.get("subtitle"),
        wzrk_bp=options.get("image"),
        pr=tray if tray in ("high", "max") else None,
        wzrk_sound="true" if sound == "default" else sound,
        wzrk_ck=options.get("collapse_id"),
    )
    slides = [s for s in options.get("carousel") or [] if s.get("image_url")]
    if slides:
        keys.update(
            _present(
                pt_id="pt_manual_carousel",
                pt_title=message.title,
                pt_msg=message.body,
                pt_bg="#FFFFFF",
                pt_msg_summary=next((s["caption"] for s in slides if s.get("caption")), None),
                pt_subtitle=options.get("subtitle"),
                pt_ico=options.get("large_icon"),
            )
        )
        for index, slide in enumerate(slides, start=1):
            keys[f"pt_img{index}"] = str(slide["image_url"])
            link = slide.get("link") or options.get("link")
            if link:
                keys[f"pt_dl{index}"] = str(link)
    return keys


def _webpush(message: PushMessage, data: dict[str, str], *, at: float) -> dict[str, Any]:
    options = message.options
    headers: dict[str, str] = {}
    ttl = seconds_to_live(options, at=at)
    if ttl is not None:
        headers["TTL"] = str(ttl)
    if options.get("delivery_priority") in ("normal", "high"):
        headers["Urgency"] = str(options["delivery_priority"])
    if options.get("collapse_id"):
        headers["Topic"] = topic_for(str(options["collapse_id"]))
    notification: dict[str, Any] = _present(
        title=message.title,
        body=message.body,
        icon=options.get("icon"),
        image=options.get("image"),
        tag=options.get("collapse_id"),
    )
    buttons = (options.get("buttons") or [])[:MAX_WEB_ACTIONS]
    if buttons:
        notification["actions"] = [
            {"action": str(b.get("id") or ""), "title": str(b.get("label") or "")} for b in buttons
        ]
        data["wzrk_acts"] = _buttons_json(buttons)
    webpush: dict[str, Any] = {}
    if headers:
        webpush["headers"] = headers
    if notification:
        webpush["notification"] = notification
    link = str(options.get("link") or "")
    if link.startswith("https://"):
        webpush["fcm_options"] = {"link": link}
    elif link:
        data["wzrk_dl"] = link
    return webpush
