"""A rendered message (content.render_message's dict for one profile) turned into the
provider-neutral message an adapter sends. Shared by the send batches (batch.py) and the
wizard's test sends, so a test shows exactly what a run would send."""

from __future__ import annotations

from dataclasses import replace

from django.utils.html import escape

from apps.campaigns.models import Campaign
from apps.providers.adapters.base import EmailMessage, PushMessage, SmsMessage
from apps.providers.models import Channel, Provider

from .models import CampaignRun, Message


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
    if rendered.get("android_priority"):
        options["priority"] = rendered["android_priority"]
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


def recipient_address(channel: str, row: Message) -> tuple[str, str] | None:
    """Where the row goes: (phone, ""), (email, "") or (push token, platform); None when
    its profile or device has no such address."""
    profile = row.profile
    if channel == Channel.SMS:
        return (profile.phone, "") if profile.phone else None
    if channel == Channel.EMAIL:
        return (profile.email, "") if profile.email else None
    device = row.device
    if device is None or not device.push_token:
        return None
    return device.push_token, device.platform


def run_message(
    campaign: Campaign,
    route,
    run: CampaignRun,
    row: Message,
    rendered: dict,
    address: tuple[str, str],
):
    """The provider-neutral message of a rendered row, keyed so a repeat send is dropped."""
    to, platform = address
    if campaign.channel == Channel.SMS:
        message = sms_message(to, rendered)
    elif campaign.channel == Channel.EMAIL:
        message = email_message(campaign, route, to, rendered)
    else:
        message = _with_campaign_identity(
            push_message(to, platform, rendered), campaign, run, row.variant
        )
    key = f"{run.pk}:{row.profile_id}:{row.device_id or 0}:{row.variant}"
    return replace(message, idempotency_key=key)


def _with_campaign_identity(message, campaign, run: CampaignRun, variant: str):
    """Push data naming the campaign, run and variant, as CleverTap's SDKs expect them
    (`wzrk_id`, `wzrk_pivot`): the app sends them back with "Notification Clicked/Viewed",
    which is what the A/B winner measures (winner.py). The campaign's time to live goes to the
    provider (FCM `ttl`, APNs `apns-expiration`, web push `TTL`)."""
    data = {**message.data, "wzrk_id": f"{campaign.pk}_{run.pk}", "wzrk_pivot": variant or ""}
    options = dict(message.options)
    ttl_hours = (campaign.delivery or {}).get("push_ttl_hours")
    if isinstance(ttl_hours, int) and ttl_hours > 0:
        options["ttl"] = ttl_hours * 3600
    return replace(message, data=data, options=options)
