"""Why a campaign cannot run yet: the readiness rules of each part of a campaign, in the
product's words, as the wizard's overview, the Schedule step, `campaign_schedule` and (next)
the Create Campaign API report them. The campaign domain owns them: the wizard's steps show
them (each step's `problems` is the rule of its part), they never define them."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from apps.providers.models import Channel, ProviderGroup
from apps.providers.routing import push_routes
from apps.segments import builder
from apps.segments.definitions import DefinitionError, definition_validate
from apps.segments.models import SegmentKind

from . import when
from .content import ContentInvalid, campaign_variants, content_problems, render_message
from .models import Campaign, CampaignType

CHANNEL_WORDS = {Channel.PUSH: "push", Channel.EMAIL: "email", Channel.SMS: "SMS"}
CONTROL_GROUP_MAX = 90
# The live trigger each live campaign type needs (builder.LIVE_TYPES keys).
TRIGGER_OF_TYPE = {
    CampaignType.LIVE_ACTION: "action",
    CampaignType.LIVE_INACTION: "inaction",
    CampaignType.LIVE_DATE: "date_property",
}
TRIGGER_LABELS = dict(builder.LIVE_TYPES)


# --- Setup: the route -------------------------------------------------------------------------


def route_needed(channel: str) -> bool:
    """Whether a campaign of `channel` can only be scheduled once "Send through" names its
    provider (or group): push and email always; SMS only when there is no default provider
    group to send through instead. The Setup form and the readiness rule both ask this, so
    the form never calls optional what the Schedule step then demands."""
    if channel == Channel.SMS:
        return not ProviderGroup.objects.filter(is_default=True).exists()
    if channel == Channel.PUSH:
        return False  # devices follow the account's push routes, not a campaign's choice
    return bool(channel)


def route_missing(channel: str) -> str:
    if channel == Channel.PUSH:
        return (
            "No push provider is set up: an admin adds FCM, APNs or Web Push in "
            "Settings → Providers."
        )
    if channel == Channel.SMS:
        return "No SMS provider or group is chosen, and there is no default provider group."
    return f"No {CHANNEL_WORDS.get(channel, channel)} provider is chosen in Send through."


def setup_problems(campaign: Campaign) -> list[str]:
    if campaign.channel == Channel.PUSH:
        # A platform without a provider is skipped (Setup says how many devices); only no
        # provider at all stops the campaign.
        return [] if push_routes().distinct() else [route_missing(campaign.channel)]
    found = []
    unrouted = campaign.provider_id is None and campaign.provider_group_id is None
    if unrouted and route_needed(campaign.channel):
        found.append(route_missing(campaign.channel))
    if campaign.provider_id and not campaign.provider.is_active:
        found.append(f"The provider “{campaign.provider.nickname}” is deactivated.")
    if campaign.channel == Channel.EMAIL and not campaign.sender_email:
        provider_settings = campaign.provider.settings if campaign.provider else {}
        if not (provider_settings or {}).get("from_email"):
            found.append("No sender email: set one in Setup (the provider has no default).")
    return found


# --- Who: the audience and its limits ---------------------------------------------------------


def _type_label(campaign: Campaign) -> str:
    return f"“{campaign.get_campaign_type_display()}”"


def kind_error(campaign: Campaign, definition: object) -> str | None:
    """Why this definition cannot be this campaign's audience (its kind or its live
    trigger does not fit the campaign type), or None when it fits."""
    definition = definition if isinstance(definition, dict) else {}
    kind = definition.get("kind") or SegmentKind.PAST
    if campaign.is_live and kind != SegmentKind.LIVE:
        return (
            f"A {_type_label(campaign)} campaign needs a live-behaviour audience, "
            "not a past-behaviour one (or change the campaign type in Setup)."
        )
    if not campaign.is_live and kind != SegmentKind.PAST:
        return (
            f"A {_type_label(campaign)} campaign needs a past-behaviour audience; live "
            "segments are for live campaigns (change the campaign type in Setup)."
        )
    if campaign.is_live:
        live = definition.get("live")
        trigger = live.get("type") if isinstance(live, dict) else None
        expected = TRIGGER_OF_TYPE[campaign.campaign_type]
        if trigger != expected:
            return (
                f"A {_type_label(campaign)} campaign needs a “{TRIGGER_LABELS[expected]}” "
                "trigger (or change the campaign type in Setup)."
            )
    return None


def audience_problems(campaign: Campaign) -> list[str]:
    found = _limit_problems(campaign)
    if campaign.segment_id is None and campaign.audience_definition is None:
        return ["No audience is chosen: pick a saved segment or build one (Who).", *found]
    if campaign.segment_id:
        definition = campaign.segment.definition
        what = f"The segment “{campaign.segment.name}”"
    else:
        definition = campaign.audience_definition
        what = "The ad-hoc audience"
    try:
        definition_validate(definition)
    except DefinitionError as error:
        where = ", ".join(builder.error_label(path) for path in error.errors)
        return [f"{what} is not a valid definition ({where}): fix it in Who.", *found]
    if problem := kind_error(campaign, definition):
        found.insert(0, f"{what} does not fit the campaign type: {problem}")
    return found


def _limit_problems(campaign: Campaign) -> list[str]:
    """The Who form's limit rules, for limits stored some other way (the API, an older
    draft)."""
    found = []
    overall = campaign.limit_overall
    for name, what in (("limit_per_run", "per-run"), ("limit_daily", "daily")):
        value = getattr(campaign, name)
        if overall is not None and value is not None and value > overall:
            found.append(
                f"The {what} limit ({value:,}) is above the overall limit ({overall:,}) (Who)."
            )
    if campaign.control_group_percent > CONTROL_GROUP_MAX:
        found.append(
            f"The control group is {campaign.control_group_percent}%: at most "
            f"{CONTROL_GROUP_MAX}% may be held out (Who)."
        )
    return found


# --- When -------------------------------------------------------------------------------------


def when_problems(campaign: Campaign) -> list[str]:
    found = when.when_problems(campaign, now=timezone.now())
    if campaign.delivery:
        _, errors = when.clean_delivery(campaign.delivery, channel=campaign.channel)
        found.extend(dict.fromkeys(errors.values()))
    return found


# --- What -------------------------------------------------------------------------------------


def _content_floor_problems(campaign: Campaign) -> list[str]:
    """content_problems is the authority on content; this is the floor kept whatever it
    says: no variant at all, or a template that does not render, never gets scheduled."""
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


# --- The whole campaign -----------------------------------------------------------------------

# Each part's rule, in the wizard's order (Test has none: testing is optional).
PROBLEMS_BY_STEP = (
    ("setup", setup_problems),
    ("who", audience_problems),
    ("when", when_problems),
    ("what", content_problems),
)


def campaign_readiness(campaign: Campaign, *, now: datetime) -> list[tuple[str, str]]:
    """Why `campaign` cannot run, as (step slug, sentence) pairs; [] when it can. Every part
    is asked, plus the schedule against `now` (a date that was fine yesterday may be past
    today)."""
    found: list[tuple[str, str]] = []
    for slug, problems in PROBLEMS_BY_STEP:
        found += [(slug, problem) for problem in problems(campaign)]
    if not any(slug == "what" for slug, _ in found):
        found += [("what", problem) for problem in _content_floor_problems(campaign)]
    seen = {problem for _, problem in found}
    found += [("when", p) for p in when.when_problems(campaign, now=now) if p not in seen]
    return found
