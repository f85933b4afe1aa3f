"""The delivery panel on the campaign page, as a template tag: the campaign app's page shows
it without importing the engine (`{% load delivery_panel %}{% campaign_delivery_panel campaign %}`);
the polled answers come from delivery.views."""

from django import template
from django.utils import timezone

from apps.campaigns.models import Campaign

from .. import selectors

register = template.Library()


@register.inclusion_tag("delivery/_progress.html")
def campaign_delivery_panel(campaign: Campaign) -> dict:
    """The current run's progress, the A/B result and the run history."""
    return {"delivery": selectors.campaign_progress(campaign, now=timezone.now())}
