from django import template
from django.utils import timezone

from apps.campaigns import selectors
from apps.campaigns.services import campaign_actions

register = template.Library()


@register.filter
def allowed_actions(campaign) -> frozenset[str]:
    """The actions ACTIONS_BY_STATUS allows for this campaign's status, so a template shows
    exactly the buttons the services accept."""
    return campaign_actions(campaign)


@register.filter
def status_badges(campaign) -> list[selectors.StatusBadge]:
    return selectors.campaign_status_badges(campaign)


@register.filter
def send_time(campaign) -> selectors.SendTime | None:
    return selectors.campaign_send_time(campaign, now=timezone.now())
