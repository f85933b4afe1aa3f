from django import template

from apps.campaigns.services import campaign_actions

register = template.Library()


@register.filter
def allowed_actions(campaign) -> frozenset[str]:
    """The actions ACTIONS_BY_STATUS allows for this campaign's status, so a template shows
    exactly the buttons the services accept."""
    return campaign_actions(campaign)


STATUS_BADGES = {
    "draft": "",
    "scheduled": "warn",
    "running": "good",
    "stopped": "bad",
    "completed": "good",
    "archived": "",
}


@register.filter
def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "")
