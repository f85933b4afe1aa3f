"""Runs: beat's tick starts them, the run task takes the snapshot and fans out into send
batches. Every function takes `now` so tests drive the clock; the Celery tasks in tasks.py
are thin wrappers.

Runs. `tick(now)` finds scheduled/running campaigns whose `next_run_at` is due, creates the
CampaignRun of that occurrence with get_or_create on the (campaign, scheduled_for) unique
constraint (two beats, or a beat restarted mid-tick, find the run already there), and moves
`next_run_at` to the next occurrence with a conditional UPDATE (WHERE next_run_at = the value
it read), so only one tick advances it. Occurrences missed while beat was down are not sent
in a burst: the next one is looked for from max(this one, now). "now" campaigns run once;
live campaigns are never run by the tick (their runs come from live_run_for).

Fan-out. The run task takes the snapshot (snapshot.run_start, itself conditional on the run
being pending) and splits the run's QUEUED rows, in id order, into send_batch tasks of
HERALD_BATCH_SIZE ids (bulk queue; live campaigns on triggers), which batch.py sends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from apps.campaigns.models import LIVE_TYPES, Campaign, CampaignStatus
from apps.campaigns.services import campaign_safety_hold
from apps.campaigns.when import occurrences
from config.celery_app import app as celery_app

from .completion import campaign_complete_if_done, run_finish_if_done, stop_sweep
from .models import CampaignRun, Message, RunStatus
from .release import enqueue_batches, requeue_stale_runs
from .snapshot import SnapshotRefused, run_start

# Enqueued by name: tasks.py imports this module.
RUN_TASK = "delivery.run_campaign"

# Runs still pending this long after creation lost their run task (a crash between the
# tick's commit and the publish): the tick publishes it again (run_start is idempotent).
PENDING_RUN_GRACE = timedelta(seconds=60)


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


def _publish_run(run_id: int) -> None:
    transaction.on_commit(lambda: celery_app.tasks[RUN_TASK].apply_async((run_id,), queue="bulk"))


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
