"""Test sends (the wizard's Test step): the campaign's message, rendered for chosen test
profiles or typed phone numbers, sent at once through the campaign's own route, with each
provider's answer. Not campaign messages: no run, no Message rows, no caps or DND. It builds
the provider messages as the engine does (campaigns.messages)."""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from django.db.models import F

from apps.audience.models import Profile
from apps.audience.services import devices_deactivate
from apps.providers.adapters.base import SendResult, SendStatus
from apps.providers.groups import group_send_sms
from apps.providers.kinds import adapter_send
from apps.providers.models import Channel, Provider, ProviderGroup
from apps.providers.push import push_routes_send, unregistered_tokens
from apps.providers.routing import PushRoutes

from .content import ContentInvalid, campaign_route, campaign_variants, render_message
from .messages import email_message, push_message, sms_message
from .models import Campaign

log = logging.getLogger(__name__)

# "E.164-ish": a plus and 8-15 digits once spaces, dots, dashes and brackets are dropped.
PHONE_NUMBER_SEPARATORS = re.compile(r"[\s().\-]")
PHONE_NUMBER_PATTERN = re.compile(r"\+\d{8,15}")


def phone_number_normalise(raw: str) -> str | None:
    """`raw` as +digits, or None when it is not a number with its country code."""
    number = PHONE_NUMBER_SEPARATORS.sub("", raw or "")
    return number if PHONE_NUMBER_PATTERN.fullmatch(number) else None


@dataclass(frozen=True)
class CampaignTestOutcome:
    """What happened to one test message: one per (variant, recipient address)."""

    variant: str  # the variant's name
    recipient: str  # who it was for, as the marketer knows them (profile or typed number)
    address: str = ""  # the phone number, email address or push token it went to
    status: str = ""  # a SendStatus value, or "" when it was not sent at all
    provider: str = ""  # the provider's nickname (for a group: the one that answered)
    provider_message_id: str = ""
    error: str = ""
    http_status: int | None = None
    rendered: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status == SendStatus.ACCEPTED


def campaign_test_send(
    *,
    campaign: Campaign,
    profiles: list[Profile],
    phone_numbers: Sequence[str] = (),
    variant_keys: list[str] | None = None,
) -> list[CampaignTestOutcome]:
    """Send the chosen variants to test profiles (and, for SMS, typed numbers, rendered for
    an empty profile) through the campaign's own route, and say what happened to each.
    Nothing is recorded as a campaign message: a test is not a delivery. Unsubscribe and
    opt-out flags are not applied either: test recipients are the marketer's own."""
    variants = [
        v
        for v in campaign_variants(campaign)
        if variant_keys is None or v.get("key") in variant_keys
    ]
    route = campaign_route(campaign)  # a test goes as the campaign is sent
    outcomes: list[CampaignTestOutcome] = []
    # (outcome without result, message) pairs waiting for the one send below.
    pending: list[tuple[CampaignTestOutcome, object]] = []
    recipients: list[tuple[str, Profile | None, list[tuple[str, str, dict | None]]]] = []
    for profile in profiles:
        recipients.append((str(profile), profile, _addresses(campaign.channel, profile)))
    for number in phone_numbers:
        recipients.append((number, None, [(number, "", None)]))

    for variant in variants:
        name = str(variant.get("name") or f"Variant {variant.get('key', '')}")
        for label, profile, addresses in recipients:
            if not addresses:
                outcomes.append(
                    CampaignTestOutcome(name, label, error=_no_address(campaign.channel))
                )
                continue
            try:
                rendered = render_message(campaign.channel, variant.get("message") or {}, profile)
            except ContentInvalid as invalid:
                problems = "; ".join(f"{k}: {v}" for k, v in invalid.errors.items())
                outcomes.append(
                    CampaignTestOutcome(
                        name, label, error=f"The template does not render: {problems}"
                    )
                )
                continue
            for address, platform, keys in addresses:
                outcome = CampaignTestOutcome(name, label, address, rendered=rendered)
                if campaign.channel == Channel.SMS:
                    message = sms_message(address, rendered)
                elif campaign.channel == Channel.EMAIL:
                    message = email_message(campaign, route, address, rendered) if route else None
                else:
                    message = push_message(address, platform, rendered)
                    if keys:
                        message = replace(message, subscription_keys=dict(keys))
                pending.append((outcome, message))

    if pending:
        answers = _send_test_messages(campaign, route, [message for _, message in pending])
        for (outcome, _), (result, provider) in zip(pending, answers, strict=True):
            outcomes.append(
                replace(
                    outcome,
                    status=str(result.status),
                    provider=provider,
                    provider_message_id=result.provider_message_id,
                    error=result.error,
                    http_status=result.http_status,
                )
            )
    return outcomes


def _addresses(channel: str, profile: Profile) -> list[tuple[str, str, dict | None]]:
    """(address, push platform, Web Push keys) a profile is reached at on `channel`. Push
    goes to every device of a test profile that has a token: a tester wants to see it
    everywhere."""
    if channel == Channel.SMS:
        return [(profile.phone, "", None)] if profile.phone else []
    if channel == Channel.EMAIL:
        return [(profile.email, "", None)] if profile.email else []
    return [
        (device.push_token, device.platform, device.push_keys)
        for device in profile.devices.exclude(push_token__isnull=True)
        .exclude(push_token="")
        .order_by(F("last_active").desc(nulls_last=True), "-id")
    ]


def _no_address(channel: str) -> str:
    return {
        Channel.SMS: "Not sent: this profile has no phone number.",
        Channel.EMAIL: "Not sent: this profile has no email address.",
    }.get(channel, "Not sent: this profile has no device with a push token.")


def _send_test_messages(
    campaign: Campaign, route: Provider | ProviderGroup | PushRoutes | None, messages: list
) -> list[tuple[SendResult, str]]:
    def refused(error: str) -> list[tuple[SendResult, str]]:
        return [(SendResult("", SendStatus.PERMANENT, error=error), "") for _ in messages]

    if isinstance(route, PushRoutes):
        return _send_test_pushes(route, messages)
    if route is None:
        return refused("Not sent: the campaign has no provider (Setup).")
    if isinstance(route, ProviderGroup):
        return group_send_sms(group=route, messages=messages)
    if not route.is_active:
        return refused(f"Not sent: the provider “{route.nickname}” is deactivated.")
    return [(result, route.nickname) for result in adapter_send(route, messages)]


def _send_test_pushes(route: PushRoutes, messages: list) -> list[tuple[SendResult, str]]:
    """Each device through its platform's provider, as a run sends it; a token the provider
    calls unregistered deactivates its device here too (the answer is as true for a test)."""
    answers = push_routes_send(route, messages)
    devices_deactivate(dead=unregistered_tokens(messages, [result for result, _ in answers]))
    return [(result, provider.nickname if provider else "") for result, provider in answers]
