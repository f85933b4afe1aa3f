"""Campaign lifecycle. Every status change is one conditional UPDATE (filter on the statuses
the action is allowed from, then check the row count), so two people pressing Stop, or Stop
racing the engine's own status change, can never both win or resurrect a campaign."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.providers.models import Channel

from .models import Campaign, CampaignStatus, CampaignType, WizardStep


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
    return ACTIONS_BY_STATUS.get(campaign.status, frozenset())


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


def campaign_create_draft(
    *,
    name: str,
    channel: str,
    created_by=None,
    campaign_type: str = CampaignType.ONE_TIME,
    **fields,
) -> Campaign:
    """A new draft, as the wizard's Setup step saves it. Further fields (provider, sender…)
    may be passed by name; the model's constraints reject combinations that cannot be."""
    name = name.strip()
    if not name:
        raise CampaignActionRefused("name: a campaign needs a name.")
    if channel not in Channel.values:
        raise CampaignActionRefused(f"channel: “{channel}” is not push, sms or email.")
    if campaign_type not in CampaignType.values:
        raise CampaignActionRefused(f"campaign_type: “{campaign_type}” is not a campaign type.")
    campaign = Campaign(
        name=name[: Campaign._meta.get_field("name").max_length],
        channel=channel,
        campaign_type=campaign_type,
        status=CampaignStatus.DRAFT,
        created_by=created_by,
        **fields,
    )
    try:
        campaign.full_clean(exclude=["created_by"])
    except ValidationError as invalid:
        field, problems = next(iter(invalid.message_dict.items()))
        raise CampaignActionRefused(f"{field}: {' '.join(problems)}") from None
    campaign.save()
    return campaign


# Copied by clone: what the campaign is and says. Not copied: status, schedule and run times,
# who made it, and `when` (a copy must be scheduled afresh, never fire on the original's dates).
CLONED_FIELDS = (
    "channel",
    "campaign_type",
    "provider_id",
    "provider_group_id",
    "sender_name",
    "sender_email",
    "reply_to_email",
    "segment_id",
    "audience_definition",
    "limit_overall",
    "limit_per_run",
    "limit_daily",
    "safety_cap",
    "control_group_percent",
    "push_all_devices",
    "delivery",
    "content",
    "conversion_goal",
)


def campaign_clone(*, campaign: Campaign, created_by=None) -> Campaign:
    if "clone" not in campaign_actions(campaign):
        raise _refusal(campaign, "clone")
    max_length = Campaign._meta.get_field("name").max_length
    copy = Campaign(
        name=f"Copy of {campaign.name}"[:max_length],
        status=CampaignStatus.DRAFT,
        created_by=created_by,
        when={},
        # The copy has everything up to Who; When must be chosen again.
        wizard_step=min(campaign.wizard_step, WizardStep.WHO),
        **{field: getattr(campaign, field) for field in CLONED_FIELDS},
    )
    copy.save()
    return copy


def _transition(campaign: Campaign, action: str, **changes) -> None:
    allowed = statuses_allowing(action)
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(
        updated_at=timezone.now(), **changes
    )
    if updated != 1:
        raise _refusal(campaign, action)
    campaign.refresh_from_db()


def campaign_stop(*, campaign: Campaign) -> None:
    """Scheduled or running → stopped. Beat stops seeing it (next_run_at cleared); the
    engine checks the status before each batch, so queued batches end without sending."""
    _transition(
        campaign,
        "stop",
        status=CampaignStatus.STOPPED,
        stopped_at=timezone.now(),
        next_run_at=None,
    )


def campaign_archive(*, campaign: Campaign) -> None:
    """Draft, stopped or completed → archived, remembering which, for unarchive. Scheduled
    and running campaigns must be stopped first, so archiving never silently cancels a send."""
    _transition(
        campaign,
        "archive",
        status=CampaignStatus.ARCHIVED,
        status_before_archive=F("status"),
    )


def campaign_unarchive(*, campaign: Campaign) -> None:
    _transition(
        campaign,
        "unarchive",
        status=F("status_before_archive"),
        status_before_archive="",
    )


def campaign_delete_draft(*, campaign: Campaign) -> None:
    """Only drafts are deleted: anything that was scheduled may have sent, and its history
    stays (archive it instead)."""
    with transaction.atomic():
        deleted, _ = Campaign.objects.filter(
            pk=campaign.pk, status__in=statuses_allowing("delete")
        ).delete()
    if not deleted:
        raise _refusal(campaign, "delete")
