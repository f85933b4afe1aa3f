"""Step 6, the overview: every step's choices with an Edit link, why the campaign cannot run
yet (if it cannot), and Schedule ("Send now" for a one-time campaign sent now, "Activate" for
a live one) or "Save as draft". A campaign already scheduled shows "Save changes" instead.

The page's buttons are never trusted: services.campaign_schedule checks readiness again
and moves draft → scheduled in one conditional UPDATE."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from ...models import Campaign, CampaignStatus
from ...readiness import campaign_readiness
from ...selectors import account_time, safety_hold_banner
from ...services import (
    CampaignActionRefused,
    CampaignNotReady,
    campaign_recheck,
    campaign_schedule,
)
from ...when import first_occurrence
from .. import frame as wizard
from . import setup, test, what, when, who

TEMPLATE = "campaigns/wizard/schedule.html"


def schedule_label(campaign: Campaign) -> str:
    if campaign.status == CampaignStatus.SCHEDULED:
        return "Save changes"
    if campaign.is_live:
        return "Activate"
    if (campaign.when or {}).get("type") == "now":
        return "Send now"
    return "Schedule"


# Every step before this one, whose summaries the overview lists (steps.MODULES imports this
# module, so the overview names its siblings itself).
SUMMARIES = {
    "setup": setup.summary,
    "who": who.summary,
    "when": when.summary,
    "what": what.summary,
    "test": test.summary,
}


def overview(campaign: Campaign, *, now: datetime) -> dict:
    """What the overview shows: each step's rows with its Edit link, and every problem
    with a link to the step that fixes it."""

    problems = campaign_readiness(campaign, now=now)
    steps = [
        {
            "slug": step.slug,
            "label": step.label,
            "rows": SUMMARIES[step.slug](campaign),
            "edit_url": f"{wizard.step_url(campaign, step.slug)}?{wizard.THEN_FIELD}=overview",
        }
        for step in wizard.STEPS[:-1]
    ]
    labels = {step.slug: step.label for step in wizard.STEPS}
    first = None if problems else first_occurrence(campaign, now=now)
    return {
        # The overview is the wizard's: whoever sees it may edit the campaign.
        "safety_hold": safety_hold_banner(campaign, who_url=wizard.safety_hold_who_url(campaign)),
        "steps": steps,
        "problems": [
            {
                "step": labels.get(slug, slug),
                "text": text,
                "edit_url": f"{wizard.step_url(campaign, slug)}?{wizard.THEN_FIELD}=overview",
            }
            for slug, text in problems
        ],
        "first_run": account_time(first),
        "next_run": account_time(campaign.next_run_at),
        "schedule_label": schedule_label(campaign),
        "is_scheduled": campaign.status == CampaignStatus.SCHEDULED,
    }


def _render(request: HttpRequest, campaign: Campaign, *, status: int = 200) -> HttpResponse:
    context = overview(campaign, now=timezone.now())
    return wizard.render_step(request, campaign, "schedule", TEMPLATE, context, status=status)


def view(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method != "POST":
        return _render(request, campaign)
    action = request.POST.get("action", "")
    if action == "draft" and campaign.status == CampaignStatus.DRAFT:
        messages.success(request, f"“{campaign.name}” is saved as a draft.")
        return redirect("campaigns:detail", pk=campaign.pk)
    if action != "schedule":
        messages.error(request, "Choose Schedule or Save as draft.")
        return _render(request, campaign, status=400)
    if campaign.status == CampaignStatus.SCHEDULED:
        return _save_changes(request, campaign)
    try:
        campaign_schedule(campaign=campaign)
    except CampaignNotReady as refusal:
        # The page already lists the reasons (they are re-read on render); say it was refused.
        messages.error(
            request, f"“{campaign.name}” was not scheduled: {' '.join(refusal.problems)}"
        )
        return _render(request, campaign, status=400)
    except CampaignActionRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("campaigns:detail", pk=campaign.pk)
    if campaign.is_live:
        done = f"“{campaign.name}” is active from {account_time(campaign.next_run_at)}."
    elif (campaign.when or {}).get("type") == "now":
        done = f"“{campaign.name}” is being sent now."
    else:
        done = f"“{campaign.name}” is scheduled for {account_time(campaign.next_run_at)}."
    messages.success(request, done)
    return redirect("campaigns:detail", pk=campaign.pk)


def _save_changes(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    went_back = campaign_recheck(campaign=campaign)
    if went_back:
        wizard.warn_back_to_draft(request, campaign, went_back)
        return _render(request, campaign, status=400)
    messages.success(
        request,
        f"Changes saved; “{campaign.name}” stays scheduled "
        f"(next run {account_time(campaign.next_run_at)}).",
    )
    return redirect("campaigns:detail", pk=campaign.pk)


def problems(campaign: Campaign) -> list[str]:
    return []  # the overview gathers every other step's problems


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    rows = [("Status", campaign.get_status_display())]
    if campaign.next_run_at:
        rows.append(("Next run", account_time(campaign.next_run_at)))
    return rows
