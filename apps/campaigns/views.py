from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.core.htmx import wants_partial
from apps.core.roles import Role, role_allows, role_required

from . import selectors, services
from .forms import CampaignFilterForm
from .models import Campaign
from .wizard import frame as wizard
from .wizard.steps import summaries as step_summaries

CAMPAIGNS_PER_PAGE = 25
RESULTS_TARGET = "campaign-results"  # the id the list's htmx requests swap


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@role_required(Role.VIEWER)
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    form = CampaignFilterForm(request.GET, creators=selectors.campaign_creators())
    campaigns = selectors.campaign_list(filters=form.to_filters())
    page = Paginator(campaigns, CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    query = _query_without_page(request)
    context = {
        "form": form,
        "page_obj": page,
        "query": query,
        # Where an action returns to: this very page of this very list.
        "here": request.get_full_path(),
        "can_act": role_allows(request.user, Role.MARKETER),
        "actions_by_status": services.ACTIONS_BY_STATUS,
        # Only asked when nothing matched, to tell "no campaigns yet" from "no match".
        "has_campaigns": page.paginator.count > 0 or selectors.campaign_exists(),
    }
    template = "campaigns/campaign_list.html"
    response = render(
        request,
        f"{template}#results" if wants_partial(request, target=RESULTS_TARGET) else template,
        context,
    )
    patch_vary_headers(response, ["HX-Request"])  # one URL, a partial or the whole page
    return response


@role_required(Role.VIEWER)
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(
        Campaign.objects.select_related("created_by", "provider", "provider_group", "segment"),
        pk=pk,
    )
    can_act = role_allows(request.user, Role.MARKETER)
    context = {
        "campaign": campaign,
        "actions": services.campaign_actions(campaign),
        "can_act": can_act,
        "safety_hold": selectors.safety_hold_banner(
            campaign, who_url=wizard.safety_hold_who_url(campaign) if can_act else ""
        ),
        "here": request.get_full_path(),
        # Each wizard step's own summary of what was chosen, the same rows as the overview.
        "sections": [
            section for section in step_summaries(campaign) if section["step"].slug != "test"
        ],
    }
    return render(request, "campaigns/campaign_detail.html", context)


def _back(request: HttpRequest, fallback: str, **kwargs) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback, **kwargs)


def _act(request: HttpRequest, pk: int, service: Callable, done: str) -> tuple[Campaign, bool]:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        service(campaign=campaign)
    except services.CampaignActionRefused as refusal:
        messages.error(request, str(refusal))
        return campaign, False
    messages.success(request, done.format(name=campaign.name))
    return campaign, True


@role_required(Role.MARKETER)
@require_POST
def campaign_clone(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        copy = services.campaign_clone(campaign=campaign, created_by=request.user)
    except services.CampaignActionRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("campaigns:detail", pk=campaign.pk)
    messages.success(request, f"Cloned as “{copy.name}”, a draft without a schedule.")
    return redirect("campaigns:detail", pk=copy.pk)


@role_required(Role.MARKETER)
@require_POST
def campaign_stop(request: HttpRequest, pk: int) -> HttpResponse:
    campaign, _ = _act(
        request, pk, services.campaign_stop, "“{name}” is stopped: nothing more will be sent."
    )
    return _back(request, "campaigns:detail", pk=campaign.pk)


@role_required(Role.MARKETER)
@require_POST
def campaign_archive(request: HttpRequest, pk: int) -> HttpResponse:
    campaign, _ = _act(request, pk, services.campaign_archive, "“{name}” is archived.")
    return _back(request, "campaigns:detail", pk=campaign.pk)


@role_required(Role.MARKETER)
@require_POST
def campaign_unarchive(request: HttpRequest, pk: int) -> HttpResponse:
    campaign, _ = _act(
        request, pk, services.campaign_unarchive, "“{name}” is back from the archive."
    )
    return _back(request, "campaigns:detail", pk=campaign.pk)


@role_required(Role.MARKETER)
@require_POST
def campaign_delete(request: HttpRequest, pk: int) -> HttpResponse:
    campaign, deleted = _act(request, pk, services.campaign_delete_draft, "Draft “{name}” deleted.")
    if deleted:
        next_url = request.POST.get("next", "")
        # Never send the user back to the page of the campaign that is gone.
        if next_url.rstrip("/").endswith(f"/campaigns/{pk}"):
            return redirect("campaigns:list")
        return _back(request, "campaigns:list")
    return _back(request, "campaigns:detail", pk=campaign.pk)
