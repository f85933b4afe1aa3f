"""One chunk of a batch through its provider(s), and what each answer means for its row:
SENT, WAITING for a retry (beat releases it, never a Celery countdown), or FAILED with a
reason; a push token the provider calls unregistered deactivates its device at once, so the
rest of the run and later runs skip it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.audience.services import devices_deactivate
from apps.campaigns.models import Campaign, CampaignStatus
from apps.providers.adapters.base import SendResult, SendStatus
from apps.providers.groups import group_providers, group_send_sms
from apps.providers.kinds import adapter_send
from apps.providers.models import ProviderGroup
from apps.providers.push import push_routes_send, unregistered_tokens
from apps.providers.routing import PushRoutes

from . import throttle
from .models import Message, MessageStatus, SkipReason

# Reasons of FAILED rows (Message.reason is free text up to 20 characters).
FAILED_PERMANENT = "permanent"
FAILED_RETRIES_EXHAUSTED = "retries_exhausted"
FAILED_RENDER = "render_error"
FAILED_NO_PROVIDER = "no_provider"
# The provider said the push token is gone for good; the device is deactivated at once.
FAILED_UNREGISTERED = "unregistered"


def send_lease() -> timedelta:
    return timedelta(seconds=max(settings.HERALD_SEND_LEASE_S, 1))


def max_attempts() -> int:
    return max(settings.HERALD_SEND_MAX_ATTEMPTS, 1)


def retry_backoff(attempts: int) -> timedelta:
    """30 s, 60 s, 120 s … capped at 15 min: a provider outage is not hammered."""
    base = settings.HERALD_SEND_RETRY_BASE_S
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 900))


@dataclass
class Outcome:
    """What happened to one claimed row, written back in one bulk UPDATE."""

    status: str
    reason: str = ""
    release_at: datetime | None = None
    provider_id: int | None = None
    provider_message_id: str = ""
    error: str = ""
    sent_at: datetime | None = None


def stopped(campaign_id: int) -> bool:
    return Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.STOPPED).exists()


def provider_send(route, messages: list) -> list[tuple[SendResult, int | None]]:
    """(SendResult, provider id) per message, in order: through the push routes (each device
    by its platform), an SMS group (failover) or the one provider."""
    if isinstance(route, PushRoutes):
        return [
            (result, provider.pk if provider else None)
            for result, provider in push_routes_send(route, messages)
        ]
    if isinstance(route, ProviderGroup):
        by_nickname = {p.nickname: p.pk for p in group_providers(group=route)}
        return [
            (result, by_nickname.get(nickname))
            for result, nickname in group_send_sms(group=route, messages=messages)
        ]
    return [(result, route.pk) for result in adapter_send(route, messages)]


def outcome_of(result: SendResult, provider_id: int | None, row: Message, sent_at) -> Outcome:
    """What a provider's answer means for its row."""
    if result.unregistered:
        return Outcome(
            MessageStatus.FAILED,
            reason=FAILED_UNREGISTERED,
            provider_id=provider_id,
            error=result.error,
        )
    if result.status is SendStatus.ACCEPTED:
        return Outcome(
            MessageStatus.SENT,
            provider_id=provider_id,
            provider_message_id=result.provider_message_id,
            sent_at=sent_at,
        )
    if result.status is SendStatus.RETRYABLE and row.attempts < max_attempts():
        # No Celery countdown: the row waits in the database and beat releases it.
        return Outcome(
            MessageStatus.WAITING,
            release_at=sent_at + retry_backoff(row.attempts),
            provider_id=provider_id,
            error=result.error,
        )
    reason = FAILED_PERMANENT if result.status is SendStatus.PERMANENT else FAILED_RETRIES_EXHAUSTED
    return Outcome(MessageStatus.FAILED, reason=reason, provider_id=provider_id, error=result.error)


def send_chunk(
    campaign: Campaign,
    route,
    chunk: list[tuple[Message, Any]],
    rates: list[tuple[str, int]],
    *,
    remaining: list[tuple[Message, Any]],
) -> dict[int, Outcome]:
    """Take throttle tokens, check Stop, send one chunk; its rows' outcomes."""
    if rates:
        wait = max(float(throttle.acquire(key, len(chunk), rate) or 0.0) for key, rate in rates)
        if wait > 0:
            # The tokens are reserved; stretch the claim's lease over the wait so beat does
            # not take the rows back while this batch waits its turn.
            Message.objects.filter(
                pk__in=[row.pk for row, _ in remaining], status=MessageStatus.SENDING
            ).update(release_at=timezone.now() + timedelta(seconds=wait) + send_lease())
            time.sleep(wait)
    if stopped(campaign.pk):
        return {
            row.pk: Outcome(MessageStatus.SKIPPED, reason=SkipReason.STOPPED)
            for row, _ in remaining
        }
    messages = [message for _, message in chunk]
    answers = provider_send(route, messages)
    sent_at = timezone.now()
    if isinstance(route, PushRoutes):
        # Deactivated now, not at the end of the run: later batches and runs skip them.
        devices_deactivate(
            dead=unregistered_tokens(messages, [result for result, _ in answers]),
            now=sent_at,
        )
    return {
        row.pk: outcome_of(result, provider_id, row, sent_at)
        for (row, _), (result, provider_id) in zip(chunk, answers, strict=True)
    }
