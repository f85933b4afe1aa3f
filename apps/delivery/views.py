"""The campaign page's delivery panel, refreshed by htmx polling while a run is active."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from apps.campaigns.models import Campaign
from apps.core.roles import Role, role_allows, role_required

from . import failures, selectors
from .models import CampaignRun


@role_required(Role.VIEWER)
@require_GET
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled progress panel; or, asked for #campaign-failures, the failure table of the
    run named by `?run=` (each htmx target gets its own partial)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if not request.htmx:
        # The panel lives on the campaign page; opened on its own it goes there.
        return redirect("campaigns:detail", pk=campaign.pk)
    if request.htmx.target == failures.TARGET:
        response = _failure_table(request, campaign)
    else:
        progress = selectors.campaign_progress(campaign, now=timezone.now())
        # status_oob: the answer also carries the page header's status and actions (out of band).
        context = {
            "delivery": progress,
            "status_oob": True,
            "can_act": role_allows(request.user, Role.MARKETER),
            "campaign_url": reverse("campaigns:detail", args=[campaign.pk]),
        }
        response = render(request, "delivery/_progress.html", context)
    # One URL: a partial per target, or a redirect.
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def _failure_table(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    run_id = request.GET.get("run", "")
    if not run_id.isdigit():
        raise Http404("No such run.")
    run = get_object_or_404(CampaignRun, campaign=campaign, pk=int(run_id))
    context = {"failures": failures.run_failures(campaign, run)}
    return render(request, "delivery/_failures.html", context)
