"""The delivery panel on the campaign page, as a template tag: the campaign app's page shows
it without importing the engine (`{% load delivery_panel %}{% campaign_delivery_panel campaign %}`);
the polled answers come from delivery.views."""

from django import template
from django.utils import timezone

from apps.campaigns.models import Campaign

from .. import failures, selectors
from ..models import RunStatus

register = template.Library()


@register.inclusion_tag("delivery/_panel.html")
def campaign_delivery_panel(campaign: Campaign) -> dict:
    """The current run's progress, the A/B result and the run history; then why the current
    run's messages failed or were skipped (none for a refused run: it sent nothing)."""
    delivery = selectors.campaign_progress(campaign, now=timezone.now())
    current = delivery.current
    run_failures = None
    if current is not None and current.run.status != RunStatus.REFUSED:
        run_failures = failures.run_failures(
            campaign,
            current.run,
            failed_or_skipped=current.counts.failed + current.counts.skipped,
        )
    return {"delivery": delivery, "failures": run_failures}
