"""The wizard's URLs: /campaigns/new/ (Setup of a new campaign), /campaigns/<pk>/edit/
(resume where the draft was left) and /campaigns/<pk>/edit/<step>/ (one step). The step
modules do the work; these views only find the campaign and check it may be edited."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.roles import Role, role_required

from ..models import Campaign
from . import frame as wizard
from .steps import MODULES


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    return MODULES["setup"].view(request, None)


@role_required(Role.MARKETER)
@require_GET
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if not wizard.is_editable(campaign):
        return wizard.refuse_edit(request, campaign)
    return redirect(wizard.step_url(campaign, wizard.resume_step(campaign).slug))


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def campaign_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    found = wizard.STEPS_BY_SLUG.get(step)
    if found is None:
        raise Http404("No such wizard step.")
    campaign = get_object_or_404(
        Campaign.objects.select_related("provider", "provider_group", "segment"), pk=pk
    )
    if not wizard.is_editable(campaign):
        return wizard.refuse_edit(request, campaign)
    if not wizard.step_reachable(campaign, found):
        # A bookmarked later step of an unfinished draft: go to the step that is due.
        return redirect(wizard.step_url(campaign, wizard.resume_step(campaign).slug))
    return MODULES[found.slug].view(request, campaign)
