"""The delivery engine: beat's tick starts runs, a run fans out into send batches, a batch
sends its Message rows, beat releases what waits. Every function takes `now` so tests drive
the clock; the Celery tasks in tasks.py are thin wrappers.

Runs. `tick(now)` finds scheduled/running campaigns whose `next_run_at` is due, creates the
CampaignRun of that occurrence with get_or_create on the (campaign, scheduled_for) unique
constraint (two beats, or a beat restarted mid-tick, find the run already there), and moves
`next_run_at` to the next occurrence with a conditional UPDATE (WHERE next_run_at = the value
it read), so only one tick advances it. Occurrences missed while beat was down are not sent
in a burst: the next one is looked for from max(this one, now). "now" campaigns run once;
live campaigns are never run by the tick (their runs come from live_run_for).

Fan-out. The run task takes the snapshot (snapshot.run_start, itself conditional on the run
being pending) and splits the run's QUEUED rows, in id order, into send_batch tasks of
HERALD_BATCH_SIZE ids (bulk queue; live campaigns on triggers).

Crash safety: acks_late + claim by conditional UPDATE.
- Tasks are acknowledged only after they return (acks_late), a task whose worker died is
  rejected back to the queue (reject_on_worker_lost) and a worker holds one task at a time
  (prefetch 1): a crash loses no batch, but a batch may run twice (redelivered, or enqueued
  again by a retried run task or by release_due).
- A batch therefore never trusts its id list. It *claims* its rows first, in one statement:
  UPDATE … SET status = 'sending', attempts = attempts + 1, release_at = now + lease
  WHERE id = ANY(ids) AND status = 'queued' RETURNING id. PostgreSQL row locks make the
  claim exclusive: a second worker running the same batch (or an overlapping one) claims
  nothing and sends nothing. Only claimed rows are sent, and their outcome is written back
  with WHERE status = 'sending' in one bulk UPDATE.
- A claim that only bumped `attempts` while leaving the row QUEUED would let a redelivered
  task claim it again and send it twice; hence the separate SENDING status.
- What a SIGKILL can leave behind: rows QUEUED whose task is still in the broker (the next
  worker sends them) and, at most, the rows of the one batch that was inside the provider
  call: SENDING with an unknown outcome (the provider may have taken them). They are not
  re-sent while their lease (HERALD_SEND_LEASE_S, 15 min) runs; afterwards release_due
  requeues them and they go out again with the same idempotency key
  (f"{run_id}:{profile_id}:{device_id or 0}:{variant}"), sent as an `Idempotency-Key`
  header by the per-message SMS adapters (APNs: apns-id; SMTP: Message-ID), which providers
  that honour one use to drop the repeat — the sandbox does, and tests/delivery/test_crash.py
  shows every recipient ending with exactly one message after a SIGKILL. That provider call
  is the one window where "nothing twice" rests on the provider; everywhere else it rests on
  the claim and the (run, profile, device) constraints.

Nothing waits in Celery: retryable provider failures, DND delays, user-time-zone sends and
the A/B rest are WAITING rows with `release_at`, released by `release_due` (beat). Stop: the
campaign's status is read at the start of a batch and again just before the provider call;
a stopped campaign's QUEUED and WAITING rows become SKIPPED (reason stopped).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.campaigns.content import ContentInvalid, campaign_variants
from apps.campaigns.models import LIVE_TYPES, Campaign, CampaignStatus
from apps.campaigns.services import (
    campaign_complete,
    campaign_finishing,
    campaign_refused_to_draft,
    campaign_safety_hold,
)
from apps.campaigns.when import occurrences
from apps.message_templates.personalization import BUILT_IN_FIELDS
from apps.message_templates.rendering import MessageRenderer
from apps.providers.adapters.base import SendStatus
from apps.providers.groups import group_providers, group_send_sms
from apps.providers.kinds import adapter_send
from apps.providers.models import Channel, Provider, ProviderGroup
from apps.providers.routing import route_for
from config.celery_app import app as celery_app

from . import policies, throttle
from .messages import email_message, push_message, sms_message
from .models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from .selectors import campaign_nothing_sent
from .snapshot import SnapshotRefused, run_start

# Tasks are enqueued by name: tasks.py imports this module.
RUN_TASK = "delivery.run_campaign"
BATCH_TASK = "delivery.send_batch"

log = logging.getLogger(__name__)

ACTIVE_RUN_STATUSES = (RunStatus.PENDING, RunStatus.SENDING, RunStatus.TESTING)
# Runs still pending this long after creation lost their run task (a crash between the
# tick's commit and the publish): the tick publishes it again (run_start is idempotent).
PENDING_RUN_GRACE = timedelta(seconds=60)
RELEASE_CHUNK = 20_000  # rows flipped per statement by release_due
RELEASE_MAX_CHUNKS = 10  # per call; the next beat tick takes the rest

# Reasons of FAILED rows (Message.reason is free text up to 20 characters).
FAILED_PERMANENT = "permanent"
FAILED_RETRIES_EXHAUSTED = "retries_exhausted"
FAILED_RENDER = "render_error"
FAILED_NO_PROVIDER = "no_provider"
THROTTLE_CHUNK_SECONDS = 2.0


def batch_size() -> int:
    return max(settings.HERALD_BATCH_SIZE, 1)


def send_lease() -> timedelta:
    return timedelta(seconds=max(settings.HERALD_SEND_LEASE_S, 1))


def stale_after() -> timedelta:
    return timedelta(seconds=max(settings.HERALD_STALE_RUN_S, 1))


def max_attempts() -> int:
    return max(settings.HERALD_SEND_MAX_ATTEMPTS, 1)


def retry_backoff(attempts: int) -> timedelta:
    """30 s, 60 s, 120 s … capped at 15 min: a provider outage is not hammered."""
    base = settings.HERALD_SEND_RETRY_BASE_S
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 900))


# --- Runs ------------------------------------------------------------------------------------


def next_occurrence_after(campaign: Campaign, occurrence: datetime, *, now: datetime):
    """The occurrence to run after `occurrence`; None when the schedule has no more."""
    if (campaign.when or {}).get("type") == "now":
        return None
    start = max(occurrence + timedelta(microseconds=1), now)
    return next(occurrences(campaign, start=start), None)


def start_occurrence(campaign: Campaign, *, now: datetime) -> CampaignRun | None:
    """Create (or find) the run of the campaign's due occurrence and advance next_run_at.
    The run task is published after commit when the run is still pending."""
    occurrence = campaign.next_run_at
    if occurrence is None:
        return None
    following = next_occurrence_after(campaign, occurrence, now=now)
    with transaction.atomic():
        run, _ = CampaignRun.objects.get_or_create(campaign=campaign, scheduled_for=occurrence)
        Campaign.objects.filter(
            pk=campaign.pk,
            next_run_at=occurrence,
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING],
        ).update(next_run_at=following, status=CampaignStatus.RUNNING)
        if run.status == RunStatus.PENDING:
            _publish_run(run.pk)
    return run


def tick(now: datetime | None = None) -> int:
    """Beat's tick: start every due occurrence; returns how many runs it looked at."""
    now = now or timezone.now()
    due = (
        Campaign.objects.filter(
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING],
            next_run_at__lte=now,
        )
        .exclude(campaign_type__in=LIVE_TYPES)
        .order_by("next_run_at")
    )
    started = 0
    for campaign in due:
        if start_occurrence(campaign, now=now) is not None:
            started += 1
    republish_pending_runs()
    requeue_stale_runs(now)
    return started


def republish_pending_runs(now: datetime | None = None) -> int:
    """Runs still pending PENDING_RUN_GRACE after they were created lost their run task (a
    crash between the tick's commit and the publish): publish it again. `now` is the real
    clock by default, as created_at is."""
    now = now or timezone.now()
    run_ids = list(
        CampaignRun.objects.filter(
            status=RunStatus.PENDING, created_at__lt=now - PENDING_RUN_GRACE
        ).values_list("pk", flat=True)
    )
    for run_id in run_ids:
        _publish_run(run_id)
    return len(run_ids)


# A run's bookkeeping in the cache (Redis): when a batch last made progress, and how many of
# its batches are in flight. Kept a week, far longer than any run sends.
PROGRESS_KEY_PREFIX = "delivery:run-progress:"
BATCHES_KEY_PREFIX = "delivery:run-batches:"
RUN_BOOKKEEPING_TTL_S = 7 * 24 * 3600


def _progress_key(run_id: int) -> str:
    return f"{PROGRESS_KEY_PREFIX}{run_id}"


def _note_progress(run_id: int, now: datetime) -> None:
    cache.set(_progress_key(run_id), now.timestamp(), timeout=RUN_BOOKKEEPING_TTL_S)


def run_bookkeeping_forget() -> int:
    """Delete every run's progress time and batch count from the cache (Redis): for a
    database that starts over — a test database, a restore — whose new runs would reuse the
    ids of the old entries. Returns how many keys went."""
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is None:
        return 0
    client = client_of(None, write=True)
    deleted = 0
    for prefix in (PROGRESS_KEY_PREFIX, BATCHES_KEY_PREFIX):
        keys = list(client.scan_iter(match=cache.make_key(prefix) + "*", count=1000))
        if keys:
            deleted += client.delete(*keys)
    return deleted


def _batches_key(run_id: int) -> str:
    return f"{BATCHES_KEY_PREFIX}{run_id}"


def _batches_published(run_id: int, count: int) -> None:
    """Count a run's batches in flight (Redis, atomic): a batch that brings the count to zero
    is the run's last and checks whether the run is finished."""
    key = _batches_key(run_id)
    cache.add(key, 0, timeout=RUN_BOOKKEEPING_TTL_S)
    cache.incr(key, count)


def _batch_was_last(run_id: int) -> bool:
    """One batch of the run is done; True when no other is known to be in flight (the count
    reached zero, or it is gone: a batch run twice or a lost cache only costs a check)."""
    try:
        return cache.decr(_batches_key(run_id)) <= 0
    except ValueError:
        return True


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
        last = cache.get(_progress_key(run.pk))
        if last is None:
            last = (run.started_at or run.created_at).timestamp()
        if now.timestamp() - float(last) < stale_after().total_seconds():
            continue
        _note_progress(run.pk, now)
        if Message.objects.filter(run_id=run.pk, status=MessageStatus.QUEUED).exists():
            log.warning("run %s made no progress for %s: requeueing", run.pk, stale_after())
            requeued += enqueue_batches(run, now=now)
        else:
            run_finish_if_done(run.pk, now=now)
    return requeued


def run_start_and_fan_out(run_id: int, *, now: datetime | None = None) -> int:
    """The run task: snapshot, then send batches. Safe to run twice (run_start is
    conditional on the run being pending; batches claim their rows). Returns batches."""
    now = now or timezone.now()
    run = CampaignRun.objects.select_related("campaign").filter(pk=run_id).first()
    if run is None:
        return 0
    if run.campaign.status == CampaignStatus.STOPPED:
        stop_sweep(run.campaign_id, now=now)
        return 0
    try:
        run = run_start(run, now=now)
    except SnapshotRefused as refused:
        CampaignRun.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
            status=RunStatus.REFUSED, refused_reason=str(refused), finished_at=now
        )
        campaign_complete_if_done(run.campaign_id)
        return 0
    if Campaign.objects.filter(pk=run.campaign_id, status=CampaignStatus.STOPPED).exists():
        stop_sweep(run.campaign_id, now=now)  # stopped while the snapshot was being taken
        return 0
    if run.status == RunStatus.REFUSED:
        # The safety check's refusal (qualified is counted; a SnapshotRefused run has none):
        # the campaign is held for the marketer, back in draft with what the check saw.
        # Conditional, so the redelivered task of an old refusal holds nothing.
        if run.qualified is not None:
            campaign_safety_hold(
                campaign_id=run.campaign_id,
                audience=run.qualified,
                reason=run.refused_reason,
                held_at=run.finished_at or now,
            )
        campaign_complete_if_done(run.campaign_id)  # a campaign not held (stopped, cap raised)
        return 0
    return fan_out(run, now=now)


def fan_out(run: CampaignRun, *, now: datetime | None = None) -> int:
    """Publish the send batches of a run whose snapshot is taken; a run with nothing to send
    is finished at once. Returns the batch count."""
    _analyze_after_large_snapshot(run)
    batches = enqueue_batches(run, now=now)
    if not batches:
        run_finish_if_done(run.pk, now=now)
    return batches


# A snapshot this large changes delivery_message enough for the planner's statistics to go
# stale before autovacuum notices; bench/fanout.py at 1M rows saw each batch claim's plan
# degrade from an id lookup to a scan of the run's queued rows (~115 msg/s instead of ~1,400).
ANALYZE_AFTER_ROWS = 50_000


def _analyze_after_large_snapshot(run: CampaignRun) -> None:
    if (run.recipients or 0) + (run.control or 0) < ANALYZE_AFTER_ROWS:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Message._meta.db_table}")


def live_run_for(campaign: Campaign, day) -> CampaignRun:
    """The run that a live campaign's messages of `day` (a date, UTC) belong to: one per
    day, scheduled_for = that UTC midnight. Created sending: a live run has no snapshot."""
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    run, _ = CampaignRun.objects.get_or_create(
        campaign=campaign,
        scheduled_for=midnight,
        defaults={"status": RunStatus.SENDING, "started_at": timezone.now()},
    )
    return run


def run_finish_if_done(run_id: int, *, now: datetime | None = None) -> bool:
    """A sending (or testing) run with nothing queued, waiting or in flight → completed;
    then the campaign, if that was its last run. Live runs stay open (triggers add rows)."""
    now = now or timezone.now()
    # Waiting and in-flight rows are found through message_busy_run_idx; queued ones, which
    # that index leaves out, by a walk of the run's rows — hence the batch count that keeps
    # this check to the run's last batch.
    busy = Message.objects.filter(
        run_id=run_id, status__in=[MessageStatus.WAITING, MessageStatus.SENDING]
    )
    queued = Message.objects.filter(run_id=run_id, status=MessageStatus.QUEUED)
    done = (
        CampaignRun.objects.filter(pk=run_id, status__in=[RunStatus.SENDING, RunStatus.TESTING])
        .exclude(campaign__campaign_type__in=LIVE_TYPES)
        .exclude(Exists(busy))
        .exclude(Exists(queued))
        .update(status=RunStatus.COMPLETED, finished_at=now)
    )
    campaign_id = CampaignRun.objects.filter(pk=run_id).values_list("campaign_id", flat=True)
    for cid in campaign_id:
        campaign_complete_if_done(cid)
    return bool(done)


def campaign_complete_if_done(campaign_id: int) -> bool:
    """Running, no occurrence left (next_run_at cleared by the tick) and every run final →
    completed; or back to draft when its last run was refused and no run sent anything.
    A campaign completed without a message going out keeps why. The campaign services make
    the change, one conditional UPDATE with the runs' condition in it: Stop racing it cannot
    be overwritten."""
    unfinished = Exists(
        CampaignRun.objects.filter(campaign_id=OuterRef("pk"), status__in=ACTIVE_RUN_STATUSES)
    )
    if not campaign_finishing(campaign_id=campaign_id, unless=unfinished).exists():
        return False
    unsent = campaign_nothing_sent(campaign_id, now=timezone.now())
    if unsent is not None and unsent.refused:
        return campaign_refused_to_draft(
            campaign_id=campaign_id, reason=unsent.reason, unless=unfinished
        )
    return campaign_complete(
        campaign_id=campaign_id,
        nothing_sent_reason=unsent.reason if unsent else "",
        unless=unfinished,
    )


def stop_sweep(campaign_id: int, *, now: datetime | None = None) -> int:
    """A stopped campaign: its QUEUED and WAITING rows → SKIPPED (stopped), its open runs →
    stopped. Rows in flight (SENDING) finish their provider call and are recorded."""
    now = now or timezone.now()
    skipped = Message.objects.filter(
        run__campaign_id=campaign_id,
        status__in=[MessageStatus.QUEUED, MessageStatus.WAITING],
    ).update(status=MessageStatus.SKIPPED, reason=SkipReason.STOPPED, release_at=None)
    CampaignRun.objects.filter(campaign_id=campaign_id, status__in=ACTIVE_RUN_STATUSES).update(
        status=RunStatus.STOPPED, finished_at=now
    )
    return skipped


# --- Fan-out and release ------------------------------------------------------------------------


def _publish_run(run_id: int) -> None:
    transaction.on_commit(lambda: celery_app.tasks[RUN_TASK].apply_async((run_id,), queue="bulk"))


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
        _batches_published(run_id, len(batches))
        for batch in batches:
            celery_app.tasks[BATCH_TASK].apply_async((run_id, batch), queue=queue)

    transaction.on_commit(publish)
    _note_progress(run_id, now or timezone.now())
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


# --- Sending a batch ------------------------------------------------------------------------------


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


@dataclass
class BatchReport:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _claim(run_id: int, message_ids: list[int], *, now: datetime) -> list[int]:
    """The claim (see the module docstring): only rows still QUEUED are taken."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} SET status = 'sending', "
            "attempts = attempts + 1, release_at = %s "
            # `run_id + 0`: the run check must not be an index condition. On statistics that
            # predate a large snapshot the planner would otherwise walk the run's open rows
            # (a million at 1M) instead of the batch's thousand primary keys.
            "WHERE id = ANY(%s) AND run_id + 0 = %s AND status = 'queued' RETURNING id",
            [now + send_lease(), list(message_ids), run_id],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _record(outcomes: dict[int, Outcome]) -> int:
    """Write every claimed row's outcome in one UPDATE … FROM unnest(…), only onto rows
    still SENDING (a row is recorded once)."""
    if not outcomes:
        return 0
    ids = list(outcomes)
    columns: dict[str, list[Any]] = {
        "status": [],
        "reason": [],
        "release_at": [],
        "provider_id": [],
        "provider_message_id": [],
        "error": [],
        "sent_at": [],
    }
    for message_id in ids:
        outcome = outcomes[message_id]
        for name in columns:
            columns[name].append(getattr(outcome, name))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} m SET status = o.status, reason = o.reason, "
            "release_at = o.release_at, provider_id = o.provider_id, "
            "provider_message_id = o.provider_message_id, error = o.error, sent_at = o.sent_at "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::bigint[], "
            "%s::text[], %s::text[], %s::timestamptz[]) "
            "AS o(id, status, reason, release_at, provider_id, provider_message_id, error, "
            "sent_at) WHERE m.id = o.id AND m.status = 'sending'",
            [
                ids,
                columns["status"],
                [r[:20] for r in columns["reason"]],
                columns["release_at"],
                columns["provider_id"],
                [p[:128] for p in columns["provider_message_id"]],
                columns["error"],
                columns["sent_at"],
            ],
        )
        return cursor.rowcount


def _stopped(campaign_id: int) -> bool:
    return Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.STOPPED).exists()


def _decide(campaign: Campaign, run: CampaignRun, rows: list[Message], now: datetime) -> dict:
    """message id → (action, reason, release_at): cut-off, time zones, DND, frequency caps
    (policies.decide, one query for the whole batch)."""
    decisions = policies.decide(
        campaign,
        [
            {
                "message_id": row.pk,
                "profile_id": row.profile_id,
                "timezone": row.profile.timezone or "",
                "run_scheduled_for": run.scheduled_for,
            }
            for row in rows
        ],
        now=now,
        limits=policies.global_limits(),
    )
    return {d.message_id: (d.action, d.reason, d.release_at) for d in decisions}


def _throttle_rates(campaign: Campaign) -> list[tuple[str, int]]:
    """(bucket key, messages per minute) this campaign's sends draw from: its own and its
    channel's buckets (policies.throttle_rates)."""
    return list(policies.throttle_rates(campaign, policies.global_limits()))


def _throttle_chunk(rates: list[tuple[str, int]]) -> int:
    """Rows sent per throttle reservation: about THROTTLE_CHUNK_SECONDS of the slowest
    rate, so a throttled batch leaves at an even pace and Stop is seen between chunks."""
    if not rates:
        return 1 << 30
    return max(1, int(min(rate for _, rate in rates) / 60 * THROTTLE_CHUNK_SECONDS))


def _variants(campaign: Campaign) -> dict[str, dict]:
    return {str(v.get("key")): dict(v.get("message") or {}) for v in campaign_variants(campaign)}


def _address(channel: str, row: Message) -> tuple[str, str] | None:
    profile = row.profile
    if channel == Channel.SMS:
        return (profile.phone, "") if profile.phone else None
    if channel == Channel.EMAIL:
        return (profile.email, "") if profile.email else None
    device = row.device
    if device is None or not device.push_token:
        return None
    return device.push_token, device.platform


def _provider_send(campaign: Campaign, route, messages: list) -> list[tuple[Any, int | None]]:
    """(SendResult, provider id) per message, in order."""
    if isinstance(route, ProviderGroup):
        by_nickname = {p.nickname: p.pk for p in group_providers(group=route)}
        return [
            (result, by_nickname.get(nickname))
            for result, nickname in group_send_sms(group=route, messages=messages)
        ]
    return [(result, route.pk) for result in adapter_send(route, messages)]


def _send_chunk(
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
    if _stopped(campaign.pk):
        return {
            row.pk: Outcome(MessageStatus.SKIPPED, reason=SkipReason.STOPPED)
            for row, _ in remaining
        }
    outcomes: dict[int, Outcome] = {}
    answers = _provider_send(campaign, route, [message for _, message in chunk])
    sent_at = timezone.now()
    for (row, _), (result, provider_id) in zip(chunk, answers, strict=True):
        if result.status is SendStatus.ACCEPTED:
            outcomes[row.pk] = Outcome(
                MessageStatus.SENT,
                provider_id=provider_id,
                provider_message_id=result.provider_message_id,
                sent_at=sent_at,
            )
        elif result.status is SendStatus.RETRYABLE and row.attempts < max_attempts():
            # No Celery countdown: the row waits in the database and beat releases it.
            outcomes[row.pk] = Outcome(
                MessageStatus.WAITING,
                release_at=sent_at + retry_backoff(row.attempts),
                provider_id=provider_id,
                error=result.error,
            )
        else:
            reason = (
                FAILED_PERMANENT
                if result.status is SendStatus.PERMANENT
                else FAILED_RETRIES_EXHAUSTED
            )
            outcomes[row.pk] = Outcome(
                MessageStatus.FAILED, reason=reason, provider_id=provider_id, error=result.error
            )
    return outcomes


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


def _batch_fields() -> list[str]:
    """The Message row, the profile fields a message can be personalised with (its time zone
    and addresses among them) and the device's address."""
    own = [f.name for f in Message._meta.concrete_fields]
    profile = [f"profile__{attribute}" for _, attribute in BUILT_IN_FIELDS]
    return [*own, *profile, "profile__properties", "device__push_token", "device__platform"]


_BATCH_FIELDS = _batch_fields()


def send_batch(run_id: int, message_ids: list[int], *, now: datetime | None = None) -> BatchReport:
    """Send one batch of a run's rows (see the module docstring for the claim). The run's
    last batch in flight then checks whether the run is finished."""
    now = now or timezone.now()
    try:
        return _send_batch(run_id, message_ids, now=now)
    finally:
        if _batch_was_last(run_id):
            run_finish_if_done(run_id, now=now)


def _send_batch(run_id: int, message_ids: list[int], *, now: datetime) -> BatchReport:
    report = BatchReport()
    run = (
        CampaignRun.objects.select_related(
            "campaign", "campaign__provider", "campaign__provider_group"
        )
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        return report
    campaign = run.campaign
    if campaign.status == CampaignStatus.STOPPED:
        Message.objects.filter(
            pk__in=message_ids, run_id=run_id, status=MessageStatus.QUEUED
        ).update(status=MessageStatus.SKIPPED, reason=SkipReason.STOPPED)
        stop_sweep(campaign.pk, now=now)
        return report

    claimed = _claim(run_id, message_ids, now=now)
    report.claimed = len(claimed)
    _note_progress(run_id, timezone.now())
    if not claimed:
        return report
    # Profiles and devices in the same query as the rows, and only what a batch reads of
    # them (parsing the timestamps it does not read was a tenth of a batch's CPU).
    rows = list(
        Message.objects.filter(pk__in=claimed)
        .select_related("profile", "device")
        .only(*_BATCH_FIELDS)
        .order_by("id")
    )
    outcomes: dict[int, Outcome] = {}
    decisions = _decide(campaign, run, rows, now)
    variants = _variants(campaign)
    renderers: dict[str, MessageRenderer] = {}  # templates compiled once per batch
    route = route_for(
        channel=campaign.channel, provider=campaign.provider, group=campaign.provider_group
    )
    to_send: list[tuple[Message, Any]] = []
    for row in rows:
        action, reason, release_at = decisions.get(row.pk, ("send", "", None))
        if action == "skip":
            outcomes[row.pk] = Outcome(MessageStatus.SKIPPED, reason=reason)
            continue
        if action == "wait" and release_at is not None:
            outcomes[row.pk] = Outcome(MessageStatus.WAITING, reason=reason, release_at=release_at)
            continue
        address = _address(campaign.channel, row)
        if address is None:
            outcomes[row.pk] = Outcome(MessageStatus.SKIPPED, reason=SkipReason.NO_ADDRESS)
            continue
        if route is None or (isinstance(route, Provider) and not route.is_active):
            outcomes[row.pk] = Outcome(
                MessageStatus.FAILED,
                reason=FAILED_NO_PROVIDER,
                error="The campaign has no active provider.",
            )
            continue
        if (renderer := renderers.get(row.variant)) is None:
            renderer = renderers[row.variant] = MessageRenderer(
                campaign.channel, variants.get(row.variant, {})
            )
        try:
            rendered = renderer.render(row.profile, event=row.event_properties)
        except ContentInvalid as invalid:
            outcomes[row.pk] = Outcome(
                MessageStatus.FAILED, reason=FAILED_RENDER, error=str(invalid)
            )
            continue
        to, platform = address
        if campaign.channel == Channel.SMS:
            message = sms_message(to, rendered)
        elif campaign.channel == Channel.EMAIL:
            message = email_message(campaign, route, to, rendered)
        else:
            message = _with_campaign_identity(
                push_message(to, platform, rendered), campaign, run, row.variant
            )
        key = f"{run_id}:{row.profile_id}:{row.device_id or 0}:{row.variant}"
        to_send.append((row, replace(message, idempotency_key=key)))

    # What is decided already is written now; the sends are written chunk by chunk, so a
    # crash leaves at most the chunk inside the provider call in doubt.
    _record(outcomes)
    rates = _throttle_rates(campaign)
    size = _throttle_chunk(rates)
    for start in range(0, len(to_send), size):
        chunk = to_send[start : start + size]
        chunk_outcomes = _send_chunk(campaign, route, chunk, rates, remaining=to_send[start:])
        _record(chunk_outcomes)
        outcomes.update(chunk_outcomes)
        if any(o.reason == SkipReason.STOPPED for o in chunk_outcomes.values()):
            break  # Stop was seen: every remaining row is already skipped
    for outcome in outcomes.values():
        report.counts[outcome.status] = report.counts.get(outcome.status, 0) + 1
    return report
