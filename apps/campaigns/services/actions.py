"""What may be done to a campaign in which status: the one table services check inside
their UPDATEs and templates read to show only the buttons that work."""

from ..models import Campaign, CampaignStatus


class CampaignActionRefused(Exception):
    """An action the campaign's status does not allow; the message is shown as is."""


# The one table of what may be done in which status. Services check it (inside the UPDATE's
# WHERE) and templates read it through `campaign_actions` to show only the buttons that work.
# "edit" belongs to the wizard (next issue); it is listed so the wizard and the list agree.
ACTIONS_BY_STATUS: dict[str, frozenset[str]] = {
    CampaignStatus.DRAFT: frozenset({"edit", "clone", "archive", "delete"}),
    CampaignStatus.SCHEDULED: frozenset({"edit", "clone", "stop"}),
    CampaignStatus.RUNNING: frozenset({"clone", "stop"}),
    CampaignStatus.STOPPED: frozenset({"clone", "archive"}),
    CampaignStatus.COMPLETED: frozenset({"clone", "archive"}),
    # As the product's campaign lists have it: an archived campaign is kept for reference;
    # to edit, clone or stop it, unarchive it first (spec/notify.md, "Archived").
    CampaignStatus.ARCHIVED: frozenset({"unarchive"}),
}


def statuses_allowing(action: str) -> list[str]:
    return [status for status, actions in ACTIONS_BY_STATUS.items() if action in actions]


def campaign_actions(campaign: Campaign) -> frozenset[str]:
    actions = ACTIONS_BY_STATUS.get(campaign.status, frozenset())
    if campaign.is_safety_held or campaign.was_refused:
        # Drafts sent back by a refused run have it (and maybe sent ones) in their history:
        # archive them instead.
        actions -= {"delete"}
    return actions


def _refusal(campaign: Campaign, action: str) -> CampaignActionRefused:
    # Re-read: the status the caller saw may be the one that just changed under it.
    current = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
    if current is None:
        return CampaignActionRefused(f"“{campaign.name}” no longer exists.")
    label = CampaignStatus(current).label.lower()
    allowed = ", ".join(CampaignStatus(s).label.lower() for s in statuses_allowing(action))
    return CampaignActionRefused(
        f"“{campaign.name}” is {label}: only {allowed} campaigns can be {_past(action)}."
    )


def _past(action: str) -> str:
    return {
        "stop": "stopped",
        "archive": "archived",
        "unarchive": "unarchived",
        "delete": "deleted",
        "clone": "cloned",
        "edit": "edited",
    }[action]
