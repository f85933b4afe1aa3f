"""What the delivery engine changes on a campaign as its runs go: a live campaign's first
message, and the end of its runs (completed, or back to draft)."""

from django.db.models import Exists, QuerySet
from django.utils import timezone

from ..models import LIVE_TYPES, Campaign, CampaignStatus

# --- A live campaign's first message --------------------------------------------------------


def campaign_live_started(*, campaign_id: int) -> bool:
    """Scheduled → running, when a live campaign's first trigger makes a message (one
    conditional UPDATE: a Stop that came first stays). Both statuses are active, so the live
    index does not change."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.RUNNING, updated_at=timezone.now()
        )
    )


# --- The end of its runs (the delivery engine, once a campaign's last run is final) ---------


def campaign_finishing(*, campaign_id: int, unless: Exists | None = None) -> QuerySet[Campaign]:
    """The campaign, if it is running with no occurrence left to start (the tick cleared
    next_run_at) and is not live (live campaigns run until stopped). `unless` is the
    engine's own condition on the row that keeps it running — a run still going, as
    Exists(… campaign_id=OuterRef("pk") …) — so the engine's check and the change below are
    one UPDATE, and Stop racing it can never be overwritten."""
    finishing = Campaign.objects.filter(
        pk=campaign_id, status=CampaignStatus.RUNNING, next_run_at__isnull=True
    ).exclude(campaign_type__in=LIVE_TYPES)
    return finishing.exclude(unless) if unless is not None else finishing


def campaign_complete(
    *, campaign_id: int, nothing_sent_reason: str = "", unless: Exists | None = None
) -> bool:
    """Running with nothing left to start → completed; True when this call won.
    `nothing_sent_reason` says why, when none of its runs sent a message (every one skipped
    or failed): the campaign then reads "Completed — nothing sent", not "Completed"."""
    return bool(
        campaign_finishing(campaign_id=campaign_id, unless=unless).update(
            status=CampaignStatus.COMPLETED,
            nothing_sent_reason=nothing_sent_reason.strip(),
            updated_at=timezone.now(),
        )
    )


def campaign_refused_to_draft(
    *, campaign_id: int, reason: str, unless: Exists | None = None
) -> bool:
    """Running with nothing left to start, its last run refused and nothing sent by any
    run → back to draft, with the refusal's reason, so that the marketer can fix it and
    schedule it again: "completed" would say it was sent (the same reasoning as the safety
    hold, which has its own mark). The refused run stays in the run history; scheduling
    again clears the reason. True when this call won."""
    return bool(
        campaign_finishing(campaign_id=campaign_id, unless=unless).update(
            status=CampaignStatus.DRAFT,
            scheduled_at=None,
            next_run_at=None,
            nothing_sent_reason=reason.strip() or "The run was refused.",
            updated_at=timezone.now(),
        )
    )
