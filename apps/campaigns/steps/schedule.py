"""Placeholder while the step is being built (replaced by its owner)."""

from django.http import HttpRequest, HttpResponse

from .. import wizard
from ..models import Campaign


def view(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method == "POST":
        return wizard.step_saved(request, campaign, "schedule")
    return wizard.render_step(request, campaign, "schedule", "campaigns/wizard/placeholder.html")


def problems(campaign: Campaign) -> list[str]:
    return []


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    return []


def after_edit(request: HttpRequest, campaign: Campaign) -> None:
    return None
