"""The campaign page's delivery panel, refreshed by htmx polling while a run is active."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from apps.campaigns.models import Campaign
from apps.core.roles import Role, role_allows, role_required

from . import selectors


@role_required(Role.VIEWER)
@require_GET
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if not request.htmx:
        # The panel lives on the campaign page; opened on its own it goes there.
        return redirect("campaigns:detail", pk=campaign.pk)
    progress = selectors.campaign_progress(campaign, now=timezone.now())
    # status_oob: the answer also carries the page header's status and actions (out of band).
    context = {
        "delivery": progress,
        "status_oob": True,
        "can_act": role_allows(request.user, Role.MARKETER),
        "campaign_url": reverse("campaigns:detail", args=[campaign.pk]),
    }
    response = render(request, "delivery/_progress.html", context)
    patch_vary_headers(response, ["HX-Request"])  # one URL, a partial or a redirect
    return response
