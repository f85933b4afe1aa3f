"""A rendered message (render_message's dict for one recipient) turned into the
provider-neutral message an adapter sends. Shared by the delivery engine's batches and the
Test step's sends, so a test shows exactly what a run would send."""

from __future__ import annotations

from django.utils.html import escape

from apps.providers.adapters.base import EmailMessage, PushMessage, SmsMessage
from apps.providers.models import Provider

from .models import Campaign


def sms_message(to: str, rendered: dict) -> SmsMessage:
    def pairs(key: str) -> dict[str, str]:
        return {
            str(pair.get("key", "")): str(pair.get("value", ""))
            for pair in rendered.get(key) or []
            if isinstance(pair, dict) and pair.get("key")
        }

    variables = pairs("template_variables")
    return SmsMessage(
        to=to,
        body=str(rendered.get("body") or ""),
        template_id=str(rendered.get("template_id") or ""),
        template_variables=list(variables.values()),
        body_values=variables,
        global_values=pairs("key_values"),
    )


def email_message(campaign: Campaign, provider: Provider, to: str, rendered: dict) -> EmailMessage:
    provider_settings = provider.settings or {}
    html = str(rendered.get("html") or "")
    if rendered.get("preheader") and html:
        # The inbox preview line: hidden text first in the body, as mail clients read it.
        preheader = escape(str(rendered["preheader"]))
        html = f'<div style="display:none;max-height:0;overflow:hidden">{preheader}</div>{html}'
    return EmailMessage(
        to=to,
        subject=str(rendered.get("subject") or ""),
        html=html,
        text=str(rendered.get("text") or ""),
        from_email=campaign.sender_email or provider_settings.get("from_email", ""),
        from_name=str(
            rendered.get("sender_name")
            or campaign.sender_name
            or provider_settings.get("from_name", "")
        ),
        reply_to=campaign.reply_to_email,
    )


def push_message(token: str, platform: str, rendered: dict) -> PushMessage:
    """The rendered push for one device of `platform`: every option the What step set, under
    the provider-neutral names of PushMessage's contract, with the values for this platform
    (iOS shows its own media URL; Android its channel, icons and tray priority; the web its
    external URL). Each adapter writes them in its service's format."""
    custom = rendered.get("custom_kv") or {}
    data = {str(k): str(v) for k, v in (custom.get(platform) or {}).items()}
    options: dict[str, object] = {}

    def put(option: str, value: object) -> None:
        if value not in (None, "", [], False):
            options[option] = value

    app_link = rendered.get("deep_link") or rendered.get("external_url")
    put(
        "link",
        (rendered.get("external_url") or rendered.get("deep_link"))
        if platform == "web"
        else app_link,
    )
    image = rendered.get("image_url")
    if platform == "ios":
        image = rendered.get("ios_media_url") or image
    put("image", image)
    put("subtitle", rendered.get("subtitle"))
    put("sound", rendered.get("sound"))
    put("category", rendered.get("category"))
    put("collapse_id", rendered.get("collapse_key"))
    put("delivery_priority", rendered.get("delivery_priority"))
    if rendered.get("badge") not in (None, ""):
        options["badge"] = int(rendered["badge"])
    put(
        "buttons",
        [
            {
                "id": f"action_{index}",
                "label": str(button.get("label") or ""),
                "link": str(button.get("link") or ""),
            }
            for index, button in enumerate(rendered.get("buttons") or [], start=1)
        ],
    )
    if platform == "android":
        put("large_icon", rendered.get("large_icon"))
        put("badge_icon", rendered.get("badge_icon"))
        put("channel_id", rendered.get("android_channel_id"))
        put("tray_priority", rendered.get("android_priority"))
    if platform == "web":
        put("icon", rendered.get("large_icon"))
    if platform in ("android", "ios"):
        put(
            "carousel",
            [
                {
                    "image_url": str(slide.get("image_url") or ""),
                    "caption": str(slide.get("caption") or ""),
                    "link": str(slide.get("link") or ""),
                }
                for slide in rendered.get("carousel") or []
            ],
        )
    if platform == "ios":
        # The notification service extension that downloads the media runs only for
        # mutable-content pushes (and it is what reports "Notification Viewed").
        put("mutable_content", bool(rendered.get("mutable_content") or options.get("image")))
        put("content_available", bool(rendered.get("content_available")))
    title, body = str(rendered.get("title") or ""), str(rendered.get("body") or "")
    if options.get("content_available") and not title and not body:
        options["push_type"] = "background"
    return PushMessage(
        token=token, platform=platform, title=title, body=body, data=data, options=options
    )
