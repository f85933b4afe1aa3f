"""Campaign lifecycle. Every status change is one conditional UPDATE (filter on the statuses
the action is allowed from, then check the row count), so two people pressing Stop, or Stop
racing the engine's own status change, can never both win or resurrect a campaign."""

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, F, Q, QuerySet
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.selectors import account_timezone
from apps.core.roles import Role
from apps.providers.models import Channel

from .content import ContentInvalid, campaign_content_clean, goal_clean
from .live_index import live_index_bump
from .models import LIVE_TYPES, Campaign, CampaignStatus, CampaignType, WizardStep
from .readiness import campaign_readiness
from .when import clean_delivery, clean_when, first_occurrence

log = logging.getLogger(__name__)


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
    return _locked_save(campaign, {"name": name, **fields})


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


# --- Readiness and scheduling (the wizard's overview) --------------------------------------


class CampaignNotReady(CampaignActionRefused):
    """Schedule refused because the campaign cannot run; `problems` are the reasons, each a
    sentence the overview lists."""

    def __init__(self, campaign: Campaign, problems: list[str]):
        self.problems = problems
        super().__init__(f"“{campaign.name}” cannot be scheduled: {' '.join(problems)}")


def _reloaded(campaign: Campaign) -> Campaign:
    # Readiness reads the provider, group and segment of what is stored now, not of the
    # instance a view loaded before its own save.
    return Campaign.objects.select_related("provider", "provider_group", "segment").get(
        pk=campaign.pk
    )


def _first_run(campaign: Campaign, now: datetime) -> tuple[datetime | None, list[str]]:

    first = first_occurrence(campaign, now=now)
    if first is None:
        return None, ["Nothing is left to send: every date of the schedule has passed (When)."]
    return first, []


def campaign_schedule(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Draft → scheduled. Readiness is re-checked here whatever the page showed, then one
    conditional UPDATE from draft, so two marketers pressing Schedule (or Schedule racing a
    delete or an archive) cannot both win. Scheduling is the marketer's answer to a safety
    hold, so it clears the mark; the refused run stays in the run history."""
    now = now or timezone.now()
    current = _reloaded(campaign)
    problems = [problem for _, problem in campaign_readiness(current, now=now)]
    first = None
    if not problems:
        first, problems = _first_run(current, now)
    if problems:
        raise CampaignNotReady(current, problems)
    updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DRAFT).update(
        status=CampaignStatus.SCHEDULED,
        scheduled_at=now,
        next_run_at=first,
        wizard_step=Greatest(F("wizard_step"), WizardStep.SCHEDULE),
        updated_at=now,
        nothing_sent_reason="",
        **SAFETY_HOLD_CLEARED,
    )
    if updated != 1:
        current_status = (
            Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        )
        if current_status is None:
            raise CampaignActionRefused(f"“{campaign.name}” no longer exists.")
        label = CampaignStatus(current_status).label.lower()
        raise CampaignActionRefused(
            f"“{campaign.name}” is {label}: only draft campaigns can be scheduled."
        )
    live_index_bump()  # every write that may change what a live campaign hears bumps it
    campaign.refresh_from_db()
    return campaign


def campaign_recheck(*, campaign: Campaign, now: datetime | None = None) -> list[str]:
    """A scheduled campaign after an edit: still able to run → its next run is recomputed
    from the new schedule; not able → back to draft (one conditional UPDATE each, so a
    campaign the engine has just started is left alone). Returns the problems that sent it
    back ([] when it stays scheduled or was not scheduled)."""
    now = now or timezone.now()
    current = _reloaded(campaign)
    if current.status != CampaignStatus.SCHEDULED:
        return []
    problems = [problem for _, problem in campaign_readiness(current, now=now)]
    first = None
    if not problems:
        first, problems = _first_run(current, now)
    scheduled = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED)
    if problems:
        if scheduled.update(
            status=CampaignStatus.DRAFT, scheduled_at=None, next_run_at=None, updated_at=now
        ):
            live_index_bump()  # a live campaign back to draft stops listening at once
            campaign.refresh_from_db()
            return problems
        return []
    scheduled.update(next_run_at=first, updated_at=now)
    campaign.refresh_from_db()
    return []


# --- The safety check's hold ---------------------------------------------------------------

SAFETY_HOLD_CLEARED = {
    "safety_held_at": None,
    "safety_hold_reason": "",
    "safety_hold_audience": None,
    "safety_hold_cap": None,
}


def campaign_safety_hold(
    *, campaign_id: int, audience: int, reason: str, held_at: datetime
) -> bool:
    """The safety check refused a run of this campaign: `audience` people qualified, above
    its safety cap. The campaign goes back to draft, marked with what the check saw, and
    sends nothing more — its later occurrences too — until the marketer has raised the cap
    or narrowed the audience and scheduled it again (campaign_schedule clears the mark).
    A draft is what the wizard edits; "completed" would say it was sent.

    One conditional UPDATE, True when it won. It holds only a campaign that is still meant
    to send (scheduled or running), whose cap is still below that audience, and that was
    not scheduled again after the refusal — so a redelivered run task marks nothing twice,
    and a stale refusal never holds a campaign the marketer has already dealt with."""
    held = (
        Campaign.objects.filter(
            pk=campaign_id,
            status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING],
            safety_cap__lt=audience,
        )
        .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=held_at))
        .update(
            status=CampaignStatus.DRAFT,
            scheduled_at=None,
            next_run_at=None,
            safety_held_at=held_at,
            safety_hold_reason=reason.strip() or "Refused by the safety check.",
            safety_hold_audience=audience,
            safety_hold_cap=F("safety_cap"),
            updated_at=held_at,
        )
    )
    # No live_index_bump(): only past-behaviour campaigns have a safety cap.
    if held:
        transaction.on_commit(lambda: campaign_safety_hold_alert(campaign_id))
    return bool(held)


def campaign_safety_hold_alert(campaign_id: int) -> int:
    """E-mail the campaign's creator that the safety check held it (the spec: "the campaign
    creator receives an email alert for further action"); a campaign without a creator with
    an address (one created through the API) alerts the Admins. Sent through Django's mail
    settings (HERALD_EMAIL_URL); a mail server that fails is logged, never raised into the
    run that was refused. Returns how many messages went."""

    campaign = Campaign.objects.select_related("created_by").filter(pk=campaign_id).first()
    if campaign is None or campaign.safety_held_at is None:
        return 0
    creator = campaign.created_by
    if creator is not None and creator.email and creator.is_active:
        recipients = [creator.email]
    else:
        recipients = list(
            get_user_model()
            .objects.filter(role=Role.ADMIN, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    if not recipients:
        return 0
    link = settings.HERALD_BASE_URL.rstrip("/") + reverse("campaigns:detail", args=[campaign.pk])
    body = (
        f'The safety check held the campaign "{campaign.name}": nothing was sent.\n\n'
        f"{campaign.safety_hold_reason}\n\n"
        "Raise the safety cap or narrow the audience, then schedule the campaign again:\n"
        f"{link}\n"
    )
    try:
        return send_mail(
            f'Herald: "{campaign.name}" was held by the safety check',
            body,
            None,  # DEFAULT_FROM_EMAIL
            recipients,
        )
    except Exception:  # a mail server's failure must not fail the run task
        log.exception("safety-check alert for campaign %s could not be sent", campaign_id)
        return 0


# --- A live campaign's first message --------------------------------------------------------


def campaign_live_started(*, campaign_id: int) -> bool:
    """Scheduled → running, when a live campaign's first trigger makes a message (one
    conditional UPDATE: a Stop that came first stays). Both statuses are active, so the live
    index does not change."""
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.RUNNING, updated_at=timezone.now()
        )
    )


# --- The end of its runs (the delivery engine, once a campaign's last run is final) ---------


def campaign_finishing(*, campaign_id: int, unless: Exists | None = None) -> QuerySet[Campaign]:
    """The campaign, if it is running with no occurrence left to start (the tick cleared
    next_run_at) and is not live (live campaigns run until stopped). `unless` is the
    engine's own condition on the row that keeps it running — a run still going, as
    Exists(… campaign_id=OuterRef("pk") …) — so the engine's check and the change below are
    one UPDATE, and Stop racing it can never be overwritten."""
    finishing = Campaign.objects.filter(
        pk=campaign_id, status=CampaignStatus.RUNNING, next_run_at__isnull=True
    ).exclude(campaign_type__in=LIVE_TYPES)
    return finishing.exclude(unless) if unless is not None else finishing


def campaign_complete(
    *, campaign_id: int, nothing_sent_reason: str = "", unless: Exists | None = None
) -> bool:
    """Running with nothing left to start → completed; True when this call won.
    `nothing_sent_reason` says why, when none of its runs sent a message (every one skipped
    or failed): the campaign then reads "Completed — nothing sent", not "Completed"."""
    return bool(
        campaign_finishing(campaign_id=campaign_id, unless=unless).update(
            status=CampaignStatus.COMPLETED,
            nothing_sent_reason=nothing_sent_reason.strip(),
            updated_at=timezone.now(),
        )
    )


def campaign_refused_to_draft(
    *, campaign_id: int, reason: str, unless: Exists | None = None
) -> bool:
    """Running with nothing left to start, its last run refused and nothing sent by any
    run → back to draft, with the refusal's reason, so that the marketer can fix it and
    schedule it again: "completed" would say it was sent (the same reasoning as the safety
    hold, which has its own mark). The refused run stays in the run history; scheduling
    again clears the reason. True when this call won."""
    return bool(
        campaign_finishing(campaign_id=campaign_id, unless=unless).update(
            status=CampaignStatus.DRAFT,
            scheduled_at=None,
            next_run_at=None,
            nothing_sent_reason=reason.strip() or "The run was refused.",
            updated_at=timezone.now(),
        )
    )
