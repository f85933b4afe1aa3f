"""Draft → scheduled after the readiness check, and the recheck after an edit."""

from datetime import datetime

from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from ..live_index import live_index_bump
from ..models import Campaign, CampaignStatus, WizardStep
from ..readiness import campaign_readiness
from ..when import first_occurrence
from .actions import CampaignActionRefused
from .safety import SAFETY_HOLD_CLEARED

# --- Readiness and scheduling (the wizard's overview) --------------------------------------


class CampaignNotReady(CampaignActionRefused):
    """Schedule refused because the campaign cannot run; `problems` are the reasons, each a
    sentence the overview lists."""

    def __init__(self, campaign: Campaign, problems: list[str]):
        self.problems = problems
        super().__init__(f"“{campaign.name}” cannot be scheduled: {' '.join(problems)}")


def _reloaded(campaign: Campaign) -> Campaign:
    # Readiness reads the provider, group and segment of what is stored now, not of the
    # instance a view loaded before its own save.
    return Campaign.objects.select_related("provider", "provider_group", "segment").get(
        pk=campaign.pk
    )


def _first_run(campaign: Campaign, now: datetime) -> tuple[datetime | None, list[str]]:

    first = first_occurrence(campaign, now=now)
    if first is None:
        return None, ["Nothing is left to send: every date of the schedule has passed (When)."]
    return first, []


def campaign_schedule(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Draft → scheduled. Readiness is re-checked here whatever the page showed, then one
    conditional UPDATE from draft, so two marketers pressing Schedule (or Schedule racing a
    delete or an archive) cannot both win. Scheduling is the marketer's answer to a safety
    hold, so it clears the mark; the refused run stays in the run history."""
    now = now or timezone.now()
    current = _reloaded(campaign)
    problems = [problem for _, problem in campaign_readiness(current, now=now)]
    first = None
    if not problems:
        first, problems = _first_run(current, now)
    if problems:
        raise CampaignNotReady(current, problems)
    updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DRAFT).update(
        status=CampaignStatus.SCHEDULED,
        scheduled_at=now,
        next_run_at=first,
        wizard_step=Greatest(F("wizard_step"), WizardStep.SCHEDULE),
        updated_at=now,
        nothing_sent_reason="",
        **SAFETY_HOLD_CLEARED,
    )
    if updated != 1:
        current_status = (
            Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        )
        if current_status is None:
            raise CampaignActionRefused(f"“{campaign.name}” no longer exists.")
        label = CampaignStatus(current_status).label.lower()
        raise CampaignActionRefused(
            f"“{campaign.name}” is {label}: only draft campaigns can be scheduled."
        )
    live_index_bump()  # every write that may change what a live campaign hears bumps it
    campaign.refresh_from_db()
    return campaign


def campaign_recheck(*, campaign: Campaign, now: datetime | None = None) -> list[str]:
    """A scheduled campaign after an edit: still able to run → its next run is recomputed
    from the new schedule; not able → back to draft (one conditional UPDATE each, so a
    campaign the engine has just started is left alone). Returns the problems that sent it
    back ([] when it stays scheduled or was not scheduled)."""
    now = now or timezone.now()
    current = _reloaded(campaign)
    if current.status != CampaignStatus.SCHEDULED:
        return []
    problems = [problem for _, problem in campaign_readiness(current, now=now)]
    first = None
    if not problems:
        first, problems = _first_run(current, now)
    scheduled = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED)
    if problems:
        if scheduled.update(
            status=CampaignStatus.DRAFT, scheduled_at=None, next_run_at=None, updated_at=now
        ):
            live_index_bump()  # a live campaign back to draft stops listening at once
            campaign.refresh_from_db()
            return problems
        return []
    scheduled.update(next_run_at=first, updated_at=now)
    campaign.refresh_from_db()
    return []
