"""The campaign wizard's frame: the steps in order, their URLs, which ones are done, and how a
step hands over to the next.

Each step is a module `apps/campaigns/wizard/steps/<slug>.py` (listed in steps.MODULES)
with these functions:

    view(request, campaign) -> HttpResponse
        GET renders the step, POST validates and saves it (then returns `step_saved(...)`),
        and the step's own htmx requests (add a variant, preview, refresh the estimate)
        are answered with partials. `campaign` is None only for Setup of a new campaign.
    problems(campaign) -> list[str]
        Why the campaign cannot be scheduled, from this step's point of view, as sentences a
        marketer can act on ("No message body in variant B."). Empty when the step is fine.
        The rules live in the campaign domain (campaigns/readiness.py); a step names its own.
    summary(campaign) -> list[tuple[str, str]]
        (label, value) rows for the overview.

The frame owns nothing a step saves: `wizard_step` (the furthest step completed) is only ever
raised, by one conditional UPDATE, so a marketer going back to Setup does not lose the later
steps, and the overview can always link to every step that was done.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ..models import Campaign, CampaignStatus, WizardStep
from ..services import campaign_actions, campaign_recheck, campaign_wizard_step_done


@dataclass(frozen=True)
class Step:
    slug: str
    number: WizardStep
    label: str


STEPS: tuple[Step, ...] = (
    Step("setup", WizardStep.SETUP, "Setup"),
    Step("who", WizardStep.WHO, "Who"),
    Step("when", WizardStep.WHEN, "When"),
    Step("what", WizardStep.WHAT, "What"),
    Step("test", WizardStep.TEST, "Test"),
    Step("schedule", WizardStep.SCHEDULE, "Schedule"),
)
STEPS_BY_SLUG = {step.slug: step for step in STEPS}
# The POST field a step's form sends to come back to the overview instead of the next step
# (the overview's "Edit" links carry ?then=overview, and the step form passes it on).
THEN_FIELD = "then"


def step_url(campaign: Campaign | None, slug: str) -> str:
    if campaign is None:
        return reverse("campaigns:new")
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": slug})


def step_reachable(campaign: Campaign | None, step: Step) -> bool:
    """Any step already done, and the first one not done yet; not further: When cannot be
    chosen before Who, and the overview needs every step before it."""
    done = campaign.wizard_step if campaign is not None else WizardStep.NONE
    return step.number <= done + 1


def resume_step(campaign: Campaign) -> Step:
    """Where "Edit" (or coming back to a draft) lands: the first step not done yet."""
    for step in STEPS:
        if step.number > campaign.wizard_step:
            return step
    return STEPS[-1]


def is_editable(campaign: Campaign) -> bool:
    return "edit" in campaign_actions(campaign)


def warn_back_to_draft(request: HttpRequest, campaign: Campaign, problems: list[str]) -> None:
    messages.warning(
        request,
        f"“{campaign.name}” went back to draft because it cannot run: {' '.join(problems)}",
    )


def _recheck_after_edit(request: HttpRequest, campaign: Campaign) -> None:
    """After every step save: a scheduled campaign whose edit leaves it unable to run goes
    back to draft (with a warning saying why); otherwise its next run follows the edited
    schedule."""
    if campaign.status != CampaignStatus.SCHEDULED:
        return
    went_back = campaign_recheck(campaign=campaign)
    if went_back:
        warn_back_to_draft(request, campaign, went_back)


def safety_hold_who_url(campaign: Campaign) -> str:
    """Where a held campaign is fixed: its Who step, coming back to the overview; "" when the
    campaign cannot be edited now."""
    if not is_editable(campaign):
        return ""
    return f"{step_url(campaign, 'who')}?{THEN_FIELD}=overview"


def _nav(campaign: Campaign | None, current: Step) -> list[dict]:
    done = campaign.wizard_step if campaign is not None else WizardStep.NONE
    items = []
    for step in STEPS:
        if step.slug == current.slug:
            state = "current"
        elif step.number <= done:
            state = "done"
        elif step_reachable(campaign, step):
            state = "open"
        else:
            state = "locked"
        items.append(
            {
                "slug": step.slug,
                "label": step.label,
                "number": int(step.number),
                "state": state,
                "url": step_url(campaign, step.slug) if campaign or step.slug == "setup" else "",
            }
        )
    return items


def next_step(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def then_value(request: HttpRequest) -> str:
    """ "overview" when the marketer came from the overview's Edit link (GET ?then= on the
    step page, or the hidden field the step form posts back)."""
    value = request.POST.get(THEN_FIELD) or request.GET.get(THEN_FIELD) or ""
    return "overview" if value == "overview" else ""


def render_step(
    request: HttpRequest,
    campaign: Campaign | None,
    slug: str,
    template: str,
    context: dict | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    """Render a step page inside the frame (`campaigns/wizard/frame.html`, which the step's
    template extends). A template name with `#partial` renders just that partial, for htmx."""
    step = STEPS_BY_SLUG[slug]
    frame = {
        "campaign": campaign,
        "wizard": {
            "steps": _nav(campaign, step),
            "current": step,
            "then": then_value(request),
            "then_field": THEN_FIELD,
            "action": step_url(campaign, slug),
        },
    }
    return render(request, template, {**frame, **(context or {})}, status=status)


def mark_done(campaign: Campaign, slug: str) -> None:
    """Raise `wizard_step` to this step, never lower it (one UPDATE, race-free)."""
    campaign_wizard_step_done(campaign=campaign, step=STEPS_BY_SLUG[slug].number)


def step_saved(
    request: HttpRequest, campaign: Campaign, slug: str, *, message: str = ""
) -> HttpResponse:
    """After a step's POST saved it: mark it done and go on — to the overview when the
    marketer came from there, else to the next step. A scheduled campaign being edited is
    re-checked, so an edit that makes it unable to run does not stay scheduled."""
    mark_done(campaign, slug)
    if message:
        messages.success(request, message)
    _recheck_after_edit(request, campaign)
    step = STEPS_BY_SLUG[slug]
    following = next_step(step)
    if then_value(request) == "overview" or following is None:
        return redirect(step_url(campaign, "schedule"))
    return redirect(step_url(campaign, following.slug))


def refuse_edit(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    messages.error(
        request,
        f"“{campaign.name}” is {campaign.get_status_display().lower()}: "
        "only draft and scheduled campaigns can be edited.",
    )
    return redirect("campaigns:detail", pk=campaign.pk)
