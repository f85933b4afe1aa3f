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


# The What step's tray priority → FCM's AndroidNotification.notification_priority.
ANDROID_TRAY_PRIORITY = {
    "default": "PRIORITY_DEFAULT",
    "high": "PRIORITY_HIGH",
    "max": "PRIORITY_MAX",
}


def push_message(token: str, platform: str, rendered: dict) -> PushMessage:
    custom = rendered.get("custom_kv") or {}
    data = {str(k): str(v) for k, v in (custom.get(platform) or {}).items()}
    if rendered.get("deep_link"):
        data.setdefault("deep_link", str(rendered["deep_link"]))
    options: dict[str, object] = {}
    for option, key in (
        ("image", "image_url"),
        ("sound", "sound"),
        ("category", "category"),
        ("collapse_key", "collapse_key"),
        ("collapse_id", "collapse_key"),
        ("channel_id", "android_channel_id"),
        ("link", "external_url"),
    ):
        if rendered.get(key):
            options[option] = rendered[key]
    if rendered.get("badge") not in (None, ""):
        options["badge"] = rendered["badge"]
    # The wizard's "Android priority" is the notification's place in the tray, not how urgently
    # the push is delivered: it must never become APNs' apns-priority or FCM's android.priority
    # (both answer 400 to "default" or "max"), so it has its own option.
    if rendered.get("android_priority") in ANDROID_TRAY_PRIORITY:
        options["notification_priority"] = ANDROID_TRAY_PRIORITY[rendered["android_priority"]]
    for flag in ("mutable_content", "content_available"):
        if rendered.get(flag):
            options[flag] = True
    return PushMessage(
        token=token,
        platform=platform,
        title=str(rendered.get("title") or ""),
        body=str(rendered.get("body") or ""),
        data=data,
        options=options,
    )
