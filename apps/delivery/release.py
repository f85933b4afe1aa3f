"""Putting rows back on their way: send batches published for a run's QUEUED rows, beat's
release job, and the sweep of runs whose batches were lost.

Nothing waits in Celery: retryable provider failures, DND delays, user-time-zone sends and
the A/B rest are WAITING rows with `release_at`, and a batch's claim is a lease on its
SENDING rows (batch.py). `release_due` (beat) turns the rows whose time came back into QUEUED
rows and publishes their batches; a stopped campaign's rows are swept instead. A batch task
lost with a SIGKILLed worker is found by `requeue_stale_runs`: its run made no progress."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.campaigns.models import LIVE_TYPES, Campaign, CampaignStatus
from config.celery_app import app as celery_app

from .bookkeeping import batches_published, last_progress, note_progress
from .completion import ACTIVE_RUN_STATUSES, run_finish_if_done, stop_sweep
from .models import CampaignRun, Message, MessageStatus, RunStatus

# Enqueued by name: tasks.py imports this module.
BATCH_TASK = "delivery.send_batch"

log = logging.getLogger(__name__)

RELEASE_CHUNK = 20_000  # rows flipped per statement by release_due
RELEASE_MAX_CHUNKS = 10  # per call; the next beat tick takes the rest


def batch_size() -> int:
    return max(settings.HERALD_BATCH_SIZE, 1)


def stale_after() -> timedelta:
    return timedelta(seconds=max(settings.HERALD_STALE_RUN_S, 1))


def enqueue_batches(
    run: CampaignRun, message_ids: Iterable[int] | None = None, *, now: datetime | None = None
) -> int:
    """Split the run's QUEUED rows (or the given ids) into send_batch tasks of
    HERALD_BATCH_SIZE ids in id order, published after commit. Returns the batch count."""
    if message_ids is None:
        ids = list(
            Message.objects.filter(run_id=run.pk, status=MessageStatus.QUEUED)
            .order_by("id")
            .values_list("id", flat=True)
        )
    else:
        ids = sorted(message_ids)
    size = batch_size()
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    if not batches:
        return 0
    campaign_type = (
        run.campaign.campaign_type
        if "campaign" in run._state.fields_cache
        else Campaign.objects.filter(pk=run.campaign_id).values_list("campaign_type", flat=True)[0]
    )
    queue = "triggers" if campaign_type in LIVE_TYPES else "bulk"
    run_id = run.pk

    def publish() -> None:
        batches_published(run_id, len(batches))
        for batch in batches:
            celery_app.tasks[BATCH_TASK].apply_async((run_id, batch), queue=queue)

    transaction.on_commit(publish)
    note_progress(run_id, now or timezone.now())
    return len(batches)


def release_due(now: datetime | None = None) -> int:
    """Beat's release job: WAITING rows whose release_at has come (and that have a variant:
    an A/B rest waits for the winner) and SENDING rows whose lease ran out → QUEUED, then
    send batches per run. Stopped campaigns are swept instead. Returns rows released."""
    now = now or timezone.now()
    for campaign_id in (
        CampaignRun.objects.filter(
            status__in=ACTIVE_RUN_STATUSES, campaign__status=CampaignStatus.STOPPED
        )
        .values_list("campaign_id", flat=True)
        .distinct()
    ):
        stop_sweep(campaign_id, now=now)
    message = Message._meta.db_table
    run_table = CampaignRun._meta.db_table
    campaign_table = Campaign._meta.db_table
    # Two index-backed scans (the partial indexes on waiting and on sending rows), locked
    # with SKIP LOCKED so two beats never release the same row.
    sql = f"""
        WITH waiting AS (
            SELECT m.id FROM {message} m
            WHERE m.status = 'waiting' AND m.release_at <= %(now)s AND m.variant <> ''
            ORDER BY m.release_at LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
        ), leased AS (
            SELECT m.id FROM {message} m
            WHERE m.status = 'sending' AND m.release_at <= %(now)s
            ORDER BY m.release_at LIMIT %(chunk)s FOR UPDATE SKIP LOCKED
        ), due AS (SELECT id FROM waiting UNION ALL SELECT id FROM leased)
        UPDATE {message} m SET status = 'queued', release_at = NULL, reason = ''
        FROM due, {run_table} r, {campaign_table} c
        WHERE m.id = due.id AND r.id = m.run_id AND c.id = r.campaign_id
          AND c.status <> 'stopped'
        RETURNING m.id, m.run_id
    """
    released = 0
    for _ in range(RELEASE_MAX_CHUNKS):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, {"now": now, "chunk": RELEASE_CHUNK})
                rows = cursor.fetchall()
            by_run: dict[int, list[int]] = defaultdict(list)
            for message_id, run_id in rows:
                by_run[run_id].append(message_id)
            for run in CampaignRun.objects.select_related("campaign").filter(pk__in=by_run):
                enqueue_batches(run, by_run[run.pk])
        released += len(rows)
        if len(rows) < RELEASE_CHUNK:
            break
    return released


def requeue_stale_runs(now: datetime | None = None) -> int:
    """Open runs without batch activity for HERALD_STALE_RUN_S (5 min). With QUEUED rows,
    their batch tasks were lost (a worker SIGKILLed after taking a task and before claiming
    its rows leaves that task unacked in Redis until the broker's visibility timeout, an
    hour): the rows are enqueued again, and a batch that still turns up later claims
    nothing. Without, the batch that would have finished the run was lost: the run is
    finished here. Activity is a timestamp in the cache (set by every batch, every enqueue
    and this check), so a run's rows are looked at once per stale period, not every tick."""
    now = now or timezone.now()
    requeued = 0
    for run in CampaignRun.objects.select_related("campaign").filter(
        status__in=[RunStatus.SENDING, RunStatus.TESTING]
    ):
        last = last_progress(run.pk)
        if last is None:
            last = (run.started_at or run.created_at).timestamp()
        if now.timestamp() - last < stale_after().total_seconds():
            continue
        note_progress(run.pk, now)
        if Message.objects.filter(run_id=run.pk, status=MessageStatus.QUEUED).exists():
            log.warning("run %s made no progress for %s: requeueing", run.pk, stale_after())
            requeued += enqueue_batches(run, now=now)
        else:
            run_finish_if_done(run.pk, now=now)
    return requeued
