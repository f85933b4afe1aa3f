"""The crash test: a worker is SIGKILLed in the middle of a large run (the sandbox answers
slowly, so the kill lands while batches are being sent), a new worker takes over, and every
recipient ends with exactly one message.

What a SIGKILL can leave (batch.py's docstring): the batch tasks still in the queue, which
the new worker takes; a task the dead worker had taken but not claimed yet, unacked in Redis
until the broker's visibility timeout — beat's stale-run check enqueues its rows again
(called here with a clock past the stale period, as beat would call it five minutes on);
and at most one chunk inside the provider call, whose rows stay SENDING under their lease
(the provider may have taken them) and are then sent again with the same Idempotency-Key,
which the provider (here the sandbox) uses to deliver each of them once."""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.delivery import batch, release, runs
from apps.delivery.models import CampaignRun, Message, MessageStatus
from config.celery_app import app as celery_app
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.delivery.factories import people, sms_campaign
from tests.delivery.helpers import wait_for
from tests.providers.factories import sandbox_twilio

BATCH = 5
PEOPLE = 120

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _start_worker(name: str) -> subprocess.Popen:
    return start_celery_worker(f"crash-{name}-{os.getpid()}", HERALD_BATCH_SIZE=str(BATCH))


@pytest.fixture
def workers():
    """Workers started by the test, all stopped at the end; the Redis db (broker, cache and
    the dead worker's unacked task) is emptied before and after."""
    cache.clear()
    celery_app.control.purge()
    started: list[subprocess.Popen] = []
    yield started
    for worker in started:
        stop_celery_worker(worker)
    cache.clear()


def test_a_worker_killed_mid_run_loses_nothing_and_sends_nothing_twice(workers, provider_sandbox):
    provider = sandbox_twilio(provider_sandbox, "crashy")
    provider_sandbox.client.set_faults("crashy", latency_ms=200)
    recipients = people(PEOPLE)
    due = timezone.now() - timedelta(minutes=1)
    campaign = sms_campaign(
        provider=provider,
        when={"type": "at", "at": timezone.localtime(due).strftime("%Y-%m-%dT%H:%M")},
        next_run_at=due,
    )

    first = _start_worker("a")
    workers.append(first)
    runs.tick()
    run = CampaignRun.objects.get(campaign=campaign)
    wait_for(
        lambda: provider_sandbox.client.counts().get("crashy", 0) >= 3 * BATCH,
        what="the first worker to send part of the run",
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=15)
    rows = Message.objects.filter(run=run)
    assert rows.filter(status=MessageStatus.QUEUED).exists(), "the kill came too late"
    # Claimed by the dead worker and never recorded: the chunk that was in the provider call.
    dead_claims = set(rows.filter(status=MessageStatus.SENDING).values_list("pk", flat=True))
    assert len(dead_claims) <= BATCH

    workers.append(_start_worker("b"))
    # Beat's stale-run check, as it runs once the run has made no progress for a while:
    # rows of a batch the dead worker took but never claimed are enqueued again.
    release.requeue_stale_runs(timezone.now() + release.stale_after())
    wait_for(
        lambda: (
            not rows.filter(status=MessageStatus.QUEUED).exists()
            and not rows.filter(status=MessageStatus.SENDING).exclude(pk__in=dead_claims).exists()
        ),
        what="the second worker to send the rest",
    )

    sent = {m.provider_message_id: m for m in rows.filter(status=MessageStatus.SENT)}
    wait_for(
        lambda: provider_sandbox.client.counts().get("crashy", 0) >= len(sent),
        what="the sandbox to record every sent message",
    )
    delivered = provider_sandbox.client.messages(limit=1000)
    per_recipient = Counter(d["recipient"] for d in delivered)
    assert max(per_recipient.values()) == 1, "a recipient got a message twice"

    # The rows of the one chunk that was inside the provider call at the kill are still
    # SENDING under their lease, not sent a second time while it holds.
    in_doubt = list(rows.exclude(status=MessageStatus.SENT))
    assert {m.pk for m in in_doubt} == dead_claims
    assert all(m.status == MessageStatus.SENDING and m.attempts == 1 for m in in_doubt)
    assert all(m.release_at > timezone.now() for m in in_doubt)  # the lease still holds
    assert rows.count() == PEOPLE

    # When the lease runs out, beat's release job sends them again with the same idempotency
    # key: the provider (the sandbox honours Idempotency-Key) answers the ones it already took
    # with its first answer and delivers only the ones it never got. Everyone ends with one.
    release.release_due(timezone.now() + batch.send_lease() + timedelta(seconds=1))
    wait_for(
        lambda: not rows.exclude(status=MessageStatus.SENT).exists(),
        what="the second worker to settle the rows that were in doubt",
    )
    delivered = provider_sandbox.client.messages(limit=1000)
    per_recipient = Counter(d["recipient"] for d in delivered)
    assert sorted(per_recipient) == sorted(person.phone for person in recipients)
    assert set(per_recipient.values()) == {1}, "a recipient got a message twice"
    by_id = {d["provider_message_id"]: d for d in delivered}
    for message in rows.select_related("profile"):
        assert by_id[message.provider_message_id]["recipient"] == message.profile.phone
        assert message.attempts == (2 if message.pk in dead_claims else 1)
