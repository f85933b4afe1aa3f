"""Clone, stop, archive, unarchive, delete: each one conditional UPDATE from the statuses the
action is allowed from."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..live_index import live_index_bump
from ..models import Campaign, CampaignStatus, WizardStep
from .actions import CampaignActionRefused, _refusal, campaign_actions, statuses_allowing

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
    live_index_bump()  # every write that may change what a live campaign hears bumps it
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
    stays (archive it instead). A draft with runs — one the safety check sent back to draft —
    is such a campaign too."""
    with transaction.atomic():
        deleted, _ = (
            Campaign.objects.filter(pk=campaign.pk, status__in=statuses_allowing("delete"))
            .exclude(runs__isnull=False)
            .delete()
        )
    if not deleted:
        if campaign.runs.exists():
            raise CampaignActionRefused(
                f"“{campaign.name}” has runs in its history: archive it instead of deleting it."
            )
        raise _refusal(campaign, "delete")
