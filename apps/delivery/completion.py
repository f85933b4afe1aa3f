"""How runs and campaigns end: a run with nothing queued, waiting or in flight is completed,
then its campaign if that was its last run; a stopped campaign's unsent rows are skipped and
its open runs stopped. Asked by the run task, every run's last batch, the release job and the
stale-run sweep."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.campaigns.models import LIVE_TYPES
from apps.campaigns.services import (
    campaign_complete,
    campaign_finishing,
    campaign_refused_to_draft,
)

from .models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from .selectors import campaign_nothing_sent

ACTIVE_RUN_STATUSES = (RunStatus.PENDING, RunStatus.SENDING, RunStatus.TESTING)


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
