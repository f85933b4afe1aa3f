"""Writing a campaign's parts, as the wizard's steps and the Create Campaign API do: a new
draft, then setup, audience, when and content, each validated here and saved on the locked
row; the live index hears of every save."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.accounts.selectors import account_timezone
from apps.providers.models import Channel

from ..content import ContentInvalid, campaign_content_clean, goal_clean
from ..live_index import live_index_bump
from ..models import Campaign, CampaignStatus, CampaignType
from ..when import clean_delivery, clean_when
from .actions import CampaignActionRefused


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
    _refuse_push_provider(channel, fields)
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


class CampaignDocumentInvalid(CampaignActionRefused):
    """A part of a campaign (its when/delivery documents, its content) that does not
    validate; `errors` maps each path ("at", "dnd.windows.mon.start", "variant-1-body",
    "goal-event") to its message, as the wizard shows them beside its fields and the API will
    report them."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.errors.items()))


def _locked_save(campaign: Campaign, changes: dict) -> Campaign:
    """Apply `changes` to the locked row, validate it as the model's constraints would, and
    save; the live index hears of every campaign write here, whoever made it."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.updated_at = timezone.now()
        try:
            locked.full_clean(exclude=["created_by"])
        except ValidationError as invalid:
            field, problems = next(iter(invalid.message_dict.items()))
            raise CampaignActionRefused(f"{field}: {' '.join(problems)}") from None
        locked.save()
    live_index_bump()
    campaign.refresh_from_db()
    return campaign


def campaign_setup_save(*, campaign: Campaign, name: str, **fields) -> Campaign:
    """Setup of an existing draft (its channel is fixed once created): the name and the
    route and sender fields (provider, provider_group, sender_name, sender_email,
    reply_to_email, campaign_type)."""
    name = name.strip()
    if not name:
        raise CampaignActionRefused("name: a campaign needs a name.")
    _refuse_push_provider(campaign.channel, fields)
    return _locked_save(campaign, {"name": name, **fields})


def _refuse_push_provider(channel: str, fields: dict) -> None:
    """A push campaign has no provider of its own: each device goes through the account's
    push route for its platform (providers.routing), so naming one would be ignored."""
    if channel == Channel.PUSH and fields.get("provider") is not None:
        raise CampaignActionRefused(
            "provider: a push campaign sends each device through the account's push route for "
            "its platform (Settings → Providers), not through one provider."
        )


def campaign_audience_save(
    *,
    campaign: Campaign,
    segment=None,
    audience_definition: dict | None = None,
    limit_overall: int | None = None,
    limit_per_run: int | None = None,
    limit_daily: int | None = None,
    safety_cap: int | None = None,
    control_group_percent: int = 0,
    push_all_devices: bool = False,
) -> Campaign:
    """Who: a saved segment XOR an ad-hoc definition (the model's constraint), the reach
    limits, the control group and which push devices."""
    return _locked_save(
        campaign,
        {
            "segment": segment,
            "audience_definition": audience_definition if segment is None else None,
            "limit_overall": limit_overall,
            "limit_per_run": limit_per_run,
            "limit_daily": limit_daily,
            "safety_cap": safety_cap,
            "control_group_percent": control_group_percent,
            "push_all_devices": push_all_devices,
        },
    )


def campaign_when_save(
    *, campaign: Campaign, when: dict, delivery: dict, now: datetime | None = None
) -> Campaign:
    """When: the when-document and the delivery document, validated here (schedule.py's
    clean_when / clean_delivery) for the wizard and the API alike."""
    cleaned_when, when_errors = clean_when(
        when,
        campaign_type=campaign.campaign_type,
        now=now or timezone.now(),
        tz=account_timezone(),
    )
    cleaned_delivery, delivery_errors = clean_delivery(delivery, channel=campaign.channel)
    if when_errors or delivery_errors:
        raise CampaignDocumentInvalid({**when_errors, **delivery_errors})
    return _locked_save(campaign, {"when": cleaned_when, "delivery": cleaned_delivery})


def campaign_content_save(*, campaign: Campaign, content: dict, goal: dict | None) -> Campaign:
    """What: the variants and the conversion goal, validated here (content.py) for the
    wizard and the API alike."""
    errors: dict[str, str] = {}
    try:
        cleaned_goal = goal_clean(goal)
    except ContentInvalid as invalid:
        errors.update(invalid.errors)
        cleaned_goal = None
    try:
        has_goal = cleaned_goal is not None or bool(str((goal or {}).get("event") or "").strip())
        cleaned = campaign_content_clean(campaign, content, has_goal=has_goal)
    except ContentInvalid as invalid:
        errors.update(invalid.errors)
    if errors:
        raise CampaignDocumentInvalid(errors)
    return _locked_save(campaign, {"content": cleaned, "conversion_goal": cleaned_goal})


def campaign_wizard_step_done(*, campaign: Campaign, step: int) -> None:
    """Raise `wizard_step` to `step`, never lower it (one UPDATE, race-free): a marketer
    going back to Setup does not lose the later steps."""
    Campaign.objects.filter(pk=campaign.pk).update(wizard_step=Greatest(F("wizard_step"), step))
    campaign.refresh_from_db(fields=["wizard_step", "updated_at"])


# Copied by clone: what the campaign is and says. Not copied: status, schedule and run times,
# who made it, and `when` (a copy must be scheduled afresh, never fire on the original's dates).
