"""A run's message for one row: the recipient's address and the provider message (built by
campaigns.messages) with the run's idempotency key and push identity."""

from __future__ import annotations

from dataclasses import replace

from apps.campaigns.messages import email_message, push_message, sms_message
from apps.campaigns.models import Campaign
from apps.providers.models import Channel

from .models import CampaignRun, Message


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
        message = _with_campaign_identity(push_message(to, platform, rendered), campaign, run, row)
        if row.device is not None and row.device.push_keys:
            message = replace(message, subscription_keys=dict(row.device.push_keys))
    key = f"{run.pk}:{row.profile_id}:{row.device_id or 0}:{row.variant}"
    return replace(message, idempotency_key=key)


def _with_campaign_identity(message, campaign, run: CampaignRun, row: Message):
    """Push data naming the campaign, run and variant, as CleverTap's SDKs expect them
    (`wzrk_id`, `wzrk_pivot`), and the message itself (`herald_mid`): the app sends them back
    with "Notification Clicked/Viewed" (README, "Push engagement"), which links the event to
    this message and is what the A/B winner measures (winner.py). The campaign's time to
    live, or its absolute expiry, goes to the provider (FCM `ttl`, APNs `apns-expiration`,
    Web Push `TTL`)."""
    data = {
        **message.data,
        # CleverTap's Android SDK renders (carousel, buttons) only pushes marked as its own.
        "wzrk_pn": "true",
        "wzrk_id": f"{campaign.pk}_{run.pk}",
        "wzrk_pivot": row.variant or "",
        "herald_mid": str(row.pk),
    }
    options = dict(message.options)
    delivery = campaign.delivery or {}
    ttl_hours = delivery.get("push_ttl_hours")
    expires_at = campaign.push_expires_utc
    if expires_at is not None:
        options["expires_at"] = int(expires_at.timestamp())
    elif isinstance(ttl_hours, int) and ttl_hours > 0:
        options["ttl"] = ttl_hours * 3600
    return replace(message, data=data, options=options)
