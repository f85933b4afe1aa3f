"""Campaign lifecycle. Every status change is one conditional UPDATE (filter on the statuses
the action is allowed from, then check the row count), so two people pressing Stop, or Stop
racing the engine's own status change, can never both win or resurrect a campaign."""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.audience.models import Profile
from apps.core.roles import Role
from apps.delivery import live
from apps.delivery.messages import email_message, push_message, sms_message
from apps.delivery.models import CampaignRun
from apps.providers.adapters import adapter_for
from apps.providers.adapters.base import (
    SendResult,
    SendStatus,
)
from apps.providers.groups import group_send_sms
from apps.providers.models import Channel, Provider, ProviderGroup

from .models import LIVE_TYPES, Campaign, CampaignStatus, CampaignType, WizardStep

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
    live.index_bump()  # an UPDATE sends no post_save: live campaigns' index must hear of it
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
            .exclude(Exists(CampaignRun.objects.filter(campaign_id=OuterRef("pk"))))
            .delete()
        )
    if not deleted:
        if CampaignRun.objects.filter(campaign_id=campaign.pk).exists():
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


def _content_floor_problems(campaign: Campaign) -> list[str]:
    """The What step's own problems() is the authority on content; this is the floor the
    server keeps even if a step says nothing: no variant at all, or a template that does not
    render, never gets scheduled."""
    from .content import ContentInvalid, campaign_variants, render_message

    variants = campaign_variants(campaign)
    if not variants:
        return ["No message content yet: write it in What."]
    found = []
    for variant in variants:
        try:
            render_message(campaign.channel, variant.get("message") or {}, None)
        except ContentInvalid as invalid:
            where = ", ".join(sorted(invalid.errors)) or "the message"
            found.append(
                f"{variant.get('name') or 'Variant ' + str(variant.get('key', ''))}: "
                f"the template does not render ({where})."
            )
    return found


def campaign_readiness(campaign: Campaign, *, now: datetime) -> list[tuple[str, str]]:
    """Why `campaign` cannot run, as (step slug, sentence) pairs; [] when it can. Every
    wizard step before the overview is asked, plus the schedule against `now` (a date that
    was fine yesterday may be past today)."""
    from . import wizard
    from .schedule import when_problems

    found: list[tuple[str, str]] = []
    for step in wizard.STEPS[:-1]:
        found += [(step.slug, problem) for problem in step.module.problems(campaign)]
    if not any(slug == "what" for slug, _ in found):
        found += [("what", problem) for problem in _content_floor_problems(campaign)]
    seen = {problem for _, problem in found}
    found += [("when", p) for p in when_problems(campaign, now=now) if p not in seen]
    return found


def _reloaded(campaign: Campaign) -> Campaign:
    # Readiness reads the provider, group and segment of what is stored now, not of the
    # instance a view loaded before its own save.
    return Campaign.objects.select_related("provider", "provider_group", "segment").get(
        pk=campaign.pk
    )


def _first_run(campaign: Campaign, now: datetime) -> tuple[datetime | None, list[str]]:
    from .schedule import first_occurrence

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
    live.index_bump()  # an UPDATE sends no post_save: live campaigns' index must hear of it
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
    # No live.index_bump(): only past-behaviour campaigns have a safety cap.
    if held:
        transaction.on_commit(lambda: campaign_safety_hold_alert(campaign_id))
    return bool(held)


def campaign_safety_hold_alert(campaign_id: int) -> int:
    """E-mail the campaign's creator that the safety check held it (the spec: "the campaign
    creator receives an email alert for further action"); a campaign without a creator with
    an address (one created through the API) alerts the Admins. Sent through Django's mail
    settings (HERALD_EMAIL_URL); a mail server that fails is logged, never raised into the
    run that was refused. Returns how many messages went."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail
    from django.urls import reverse

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


# --- Test sends (the wizard's Test step) ---------------------------------------------------

# "E.164-ish": a plus and 8-15 digits once spaces, dots, dashes and brackets are dropped.
PHONE_NUMBER_SEPARATORS = re.compile(r"[\s().\-]")
PHONE_NUMBER_PATTERN = re.compile(r"\+\d{8,15}")


def phone_number_normalise(raw: str) -> str | None:
    """`raw` as +digits, or None when it is not a number with its country code."""
    number = PHONE_NUMBER_SEPARATORS.sub("", raw or "")
    return number if PHONE_NUMBER_PATTERN.fullmatch(number) else None


@dataclass(frozen=True)
class CampaignTestOutcome:
    """What happened to one test message: one per (variant, recipient address)."""

    variant: str  # the variant's name
    recipient: str  # who it was for, as the marketer knows them (profile or typed number)
    address: str = ""  # the phone number, email address or push token it went to
    status: str = ""  # a SendStatus value, or "" when it was not sent at all
    provider: str = ""  # the provider's nickname (for a group: the one that answered)
    provider_message_id: str = ""
    error: str = ""
    http_status: int | None = None
    rendered: dict = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status == SendStatus.ACCEPTED


def _send_through_provider(provider: Provider, messages: list) -> list[tuple[SendResult, str]]:
    try:
        results = adapter_for(provider.config()).send(messages)
    except Exception as exc:  # a missing adapter or bad config: show it, don't 500
        error = f"{type(exc).__name__}: {exc}"
        results = [
            SendResult(
                getattr(m, "to", "") or getattr(m, "token", ""), SendStatus.PERMANENT, error=error
            )
            for m in messages
        ]
    return [(result, provider.nickname) for result in results]


def campaign_test_route(campaign: Campaign) -> Provider | ProviderGroup | None:
    """What a test goes through: the campaign's provider or group, or for SMS the default
    group when neither is chosen (as the campaign itself would be sent)."""
    if campaign.provider_group_id:
        return campaign.provider_group
    if campaign.provider_id:
        return campaign.provider
    if campaign.channel == Channel.SMS:
        return ProviderGroup.objects.filter(is_default=True).first()
    return None


def campaign_test_send(
    *,
    campaign: Campaign,
    profiles: list[Profile],
    phone_numbers: Sequence[str] = (),
    variant_keys: list[str] | None = None,
) -> list[CampaignTestOutcome]:
    """Send the chosen variants to test profiles (and, for SMS, typed numbers, rendered for
    an empty profile) through the campaign's own route, and say what happened to each.
    Nothing is recorded as a campaign message: a test is not a delivery. Unsubscribe and
    opt-out flags are not applied either: test recipients are the marketer's own."""
    from .content import ContentInvalid, campaign_variants, render_message

    variants = [
        v
        for v in campaign_variants(campaign)
        if variant_keys is None or v.get("key") in variant_keys
    ]
    route = campaign_test_route(campaign)
    outcomes: list[CampaignTestOutcome] = []
    # (outcome without result, message) pairs waiting for the one send below.
    pending: list[tuple[CampaignTestOutcome, object]] = []
    recipients: list[tuple[str, Profile | None, list[tuple[str, str]]]] = []
    for profile in profiles:
        recipients.append((str(profile), profile, _addresses(campaign.channel, profile)))
    for number in phone_numbers:
        recipients.append((number, None, [(number, "")]))

    for variant in variants:
        name = str(variant.get("name") or f"Variant {variant.get('key', '')}")
        for label, profile, addresses in recipients:
            if not addresses:
                outcomes.append(
                    CampaignTestOutcome(name, label, error=_no_address(campaign.channel))
                )
                continue
            try:
                rendered = render_message(campaign.channel, variant.get("message") or {}, profile)
            except ContentInvalid as invalid:
                problems = "; ".join(f"{k}: {v}" for k, v in invalid.errors.items())
                outcomes.append(
                    CampaignTestOutcome(
                        name, label, error=f"The template does not render: {problems}"
                    )
                )
                continue
            for address, platform in addresses:
                outcome = CampaignTestOutcome(name, label, address, rendered=rendered)
                if campaign.channel == Channel.SMS:
                    message = sms_message(address, rendered)
                elif campaign.channel == Channel.EMAIL:
                    message = email_message(campaign, route, address, rendered) if route else None
                else:
                    message = push_message(address, platform, rendered)
                pending.append((outcome, message))

    if pending:
        answers = _send_test_messages(campaign, route, [message for _, message in pending])
        for (outcome, _), (result, provider) in zip(pending, answers, strict=True):
            outcomes.append(
                replace(
                    outcome,
                    status=str(result.status),
                    provider=provider,
                    provider_message_id=result.provider_message_id,
                    error=result.error,
                    http_status=result.http_status,
                )
            )
    return outcomes


def _addresses(channel: str, profile: Profile) -> list[tuple[str, str]]:
    """(address, push platform) pairs a profile is reached at on `channel`. Push goes to
    every device of a test profile that has a token: a tester wants to see it everywhere."""
    if channel == Channel.SMS:
        return [(profile.phone, "")] if profile.phone else []
    if channel == Channel.EMAIL:
        return [(profile.email, "")] if profile.email else []
    return [
        (device.push_token, device.platform)
        for device in profile.devices.exclude(push_token__isnull=True)
        .exclude(push_token="")
        .order_by(F("last_active").desc(nulls_last=True), "-id")
    ]


def _no_address(channel: str) -> str:
    return {
        Channel.SMS: "Not sent: this profile has no phone number.",
        Channel.EMAIL: "Not sent: this profile has no email address.",
    }.get(channel, "Not sent: this profile has no device with a push token.")


def _send_test_messages(
    campaign: Campaign, route: Provider | ProviderGroup | None, messages: list
) -> list[tuple[SendResult, str]]:
    def refused(error: str) -> list[tuple[SendResult, str]]:
        return [(SendResult("", SendStatus.PERMANENT, error=error), "") for _ in messages]

    if route is None:
        return refused("Not sent: the campaign has no provider (Setup).")
    if isinstance(route, ProviderGroup):
        return group_send_sms(group=route, messages=messages)
    if not route.is_active:
        return refused(f"Not sent: the provider “{route.nickname}” is deactivated.")
    return _send_through_provider(route, messages)
