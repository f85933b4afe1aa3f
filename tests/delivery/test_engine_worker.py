"""The engine end to end with a real Celery worker, real time and the provider sandbox: the
tick (called here as beat would) starts a run whose next_run_at is in the past, the worker
snapshots it, fans it out and sends the batches. Waits poll database or sandbox state with a
timeout; nothing asserts on a sleep."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.campaigns.models import Campaign, CampaignStatus
from apps.campaigns.services import campaign_stop
from apps.delivery import release, runs
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from apps.providers.services import provider_group_save
from tests.delivery.factories import people, sms_campaign
from tests.delivery.helpers import queue_length, wait_for
from tests.providers.factories import sandbox_twilio

pytestmark = pytest.mark.slow

BATCH = 5


@pytest.fixture
def small_batches(monkeypatch, settings):
    """Batches of BATCH rows here and in the worker started after this (its settings read the
    environment). The cache (circuit breakers, run progress) shares the broker's Redis db, so
    it is cleared before the worker starts."""
    monkeypatch.setenv("HERALD_BATCH_SIZE", str(BATCH))
    settings.HERALD_BATCH_SIZE = BATCH
    cache.clear()


@pytest.fixture
def worker(small_batches, celery_worker):
    return celery_worker


def _past_campaign(**fields) -> Campaign:
    due = timezone.now() - timedelta(minutes=1)
    return sms_campaign(
        when={"type": "at", "at": timezone.localtime(due).strftime("%Y-%m-%dT%H:%M")},
        next_run_at=due,
        **fields,
    )


def test_an_sms_campaign_fails_over_to_the_second_provider_and_each_arrives_once(
    worker, provider_sandbox
):
    first, second = (
        sandbox_twilio(provider_sandbox, "first"),
        sandbox_twilio(provider_sandbox, "second"),
    )
    group = provider_group_save(name="Failover", providers=[first, second])
    provider_sandbox.client.set_faults("first", error_rate=1.0, error_status=500)
    recipients = people(23)
    campaign = _past_campaign(provider_group=group)

    assert runs.tick() == 1
    run = CampaignRun.objects.get(campaign=campaign)
    wait_for(
        lambda: CampaignRun.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        what="the run to complete",
    )

    delivered = provider_sandbox.client.messages(limit=1000)
    assert {d["label"] for d in delivered} == {"second"}
    assert sorted(d["recipient"] for d in delivered) == sorted(p.phone for p in recipients)
    messages = Message.objects.filter(run=run)
    assert messages.count() == 23
    assert set(messages.values_list("status", "provider_id")) == {(MessageStatus.SENT, second.pk)}
    assert {m.provider_message_id for m in messages} == {
        d["provider_message_id"] for d in delivered
    }
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED and campaign.next_run_at is None
    # A second beat tick starts nothing more.
    assert runs.tick() == 0
    assert CampaignRun.objects.filter(campaign=campaign).count() == 1


def test_stop_mid_run_leaves_nothing_queued_and_nothing_more_arrives(worker, provider_sandbox):
    provider = sandbox_twilio(provider_sandbox, "slow")
    provider_sandbox.client.set_faults("slow", latency_ms=250)
    people(80)
    campaign = _past_campaign(provider=provider)

    runs.tick()
    run = CampaignRun.objects.get(campaign=campaign)
    wait_for(lambda: provider_sandbox.client.counts().get("slow", 0) >= BATCH, what="first sends")
    campaign_stop(campaign=campaign)

    rows = Message.objects.filter(run=run)
    open_statuses = [MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.WAITING]
    wait_for(lambda: not rows.filter(status__in=open_statuses).exists(), what="every row to settle")
    # The batch tasks still in the queue are consumed (and end without sending).
    wait_for(lambda: queue_length("bulk") == 0, what="the bulk queue to drain")
    sent = rows.filter(status=MessageStatus.SENT).count()
    stopped = rows.filter(status=MessageStatus.SKIPPED, reason=SkipReason.STOPPED).count()
    assert sent + stopped == 80 and stopped > 0
    wait_for(lambda: provider_sandbox.client.counts().get("slow", 0) >= sent, what="in flight")
    delivered = provider_sandbox.client.messages(limit=1000)
    assert len(delivered) == sent  # nothing arrived for a stopped row
    assert {d["provider_message_id"] for d in delivered} == set(
        rows.filter(status=MessageStatus.SENT).values_list("provider_message_id", flat=True)
    )
    assert max(Counter(d["recipient"] for d in delivered).values()) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED
    assert release.release_due() == 0  # the release job does not bring stopped rows back
    assert provider_sandbox.client.counts().get("slow", 0) == sent
