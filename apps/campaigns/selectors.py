"""Reads for the campaign pages."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Max, QuerySet
from django.utils import timezone

from apps.accounts.selectors import account_timezone

from .models import Campaign, CampaignStatus

# The list never reads the step documents (content can hold whole email bodies).
LIST_DEFERRED = ("when", "delivery", "content", "conversion_goal", "audience_definition")


@dataclass(frozen=True)
class CampaignFilters:
    q: str = ""
    channel: str = ""
    status: str = ""
    campaign_type: str = ""
    created_by: int | None = None
    date_field: str = "created"  # "created" or "scheduled"
    date_from: date | None = None
    date_to: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def campaign_list(*, filters: CampaignFilters) -> QuerySet[Campaign]:
    """The list's campaigns, each with `last_run_at` (its latest run's occurrence, for the
    send time) from the same query."""
    campaigns = (
        Campaign.objects.select_related("created_by", "provider", "provider_group", "segment")
        .defer(*LIST_DEFERRED)
        # The delivery engine's runs, by their relation's name: campaigns imports nothing
        # of delivery.
        .annotate(last_run_at=Max("runs__scheduled_for"))
    )
    if filters.q:
        campaigns = campaigns.filter(name__icontains=filters.q)
    if filters.channel:
        campaigns = campaigns.filter(channel=filters.channel)
    if filters.status:
        campaigns = campaigns.filter(status=filters.status)
    else:
        # Archived campaigns are out of the way unless asked for by name.
        campaigns = campaigns.exclude(status="archived")
    if filters.campaign_type:
        campaigns = campaigns.filter(campaign_type=filters.campaign_type)
    if filters.created_by:
        campaigns = campaigns.filter(created_by_id=filters.created_by)
    column = "scheduled_at" if filters.date_field == "scheduled" else "created_at"
    # Dates are whole days in the current time zone (settings.TIME_ZONE: the account's zone
    # is not activated per request yet): "to 3 May" includes all of 3 May.
    if filters.date_from:
        campaigns = campaigns.filter(**{f"{column}__gte": _day_start(filters.date_from)})
    if filters.date_to:
        next_day = _day_start(filters.date_to + timedelta(days=1))
        campaigns = campaigns.filter(**{f"{column}__lt": next_day})
    return campaigns.order_by("-created_at", "-pk")


def campaign_creators() -> QuerySet:
    """Users who created at least one campaign, for the "created by" filter."""
    return (
        get_user_model()
        .objects.filter(pk__in=Campaign.objects.values("created_by_id"))
        .order_by("username")
    )


def campaign_exists() -> bool:
    return Campaign.objects.exists()


@dataclass(frozen=True)
class SafetyHold:
    """What the safety check's banner says of a held campaign (the page and the overview)."""

    audience: int  # who qualified when the run was refused
    cap: int  # the safety cap then
    cap_now: int | None  # the safety cap as it is now (None: no cap any more)
    held_at: str  # when, in the account's time zone
    reason: str  # the refused run's own words, as the run history has them
    # The Who step's fields that fix it; "" when this user cannot edit the campaign now.
    raise_cap_url: str
    narrow_audience_url: str

    @property
    def cap_changed(self) -> bool:
        return self.cap_now != self.cap


def safety_hold_banner(campaign: Campaign, *, who_url: str) -> SafetyHold | None:
    """The banner of a campaign the safety check holds; None when it is not held.
    `who_url` is the Who step's page for this user, "" when they cannot edit the campaign now
    (the wizard builds it: the domain does not know its URLs)."""
    if not campaign.is_safety_held:
        return None
    return SafetyHold(
        audience=campaign.safety_hold_audience or 0,
        cap=campaign.safety_hold_cap or 0,
        cap_now=campaign.safety_cap,
        held_at=account_time(campaign.safety_held_at),
        reason=campaign.safety_hold_reason,
        raise_cap_url=f"{who_url}#id_safety_cap" if who_url else "",
        narrow_audience_url=f"{who_url}#who-audience" if who_url else "",
    )


def account_time(moment: datetime | None) -> str:
    """A moment as the account reads it: "2026-12-08 10:00 (Europe/Paris)"."""
    if moment is None:
        return ""
    zone = account_timezone()
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


# --- Status and send time, as the list and the campaign page show them -----------------------

STATUS_TONES = {
    CampaignStatus.DRAFT: "",
    CampaignStatus.SCHEDULED: "warn",
    CampaignStatus.RUNNING: "good",
    CampaignStatus.STOPPED: "bad",
    CampaignStatus.COMPLETED: "good",
    CampaignStatus.ARCHIVED: "",
}


@dataclass(frozen=True)
class StatusBadge:
    label: str
    tone: str = ""  # the badge's class: "", "good", "warn" or "bad"
    why: str = ""  # the longer reason, as the badge's tooltip


def campaign_status_badges(campaign: Campaign) -> list[StatusBadge]:
    """The campaign's status as badges: its status, except that a campaign completed
    without sending reads so; then the mark of a run refused (by the safety check, or
    unable to start) that sent it back to draft."""
    status = CampaignStatus(campaign.status)
    if status == CampaignStatus.COMPLETED and campaign.nothing_sent_reason:
        badges = [StatusBadge("Completed — nothing sent", "warn", campaign.nothing_sent_reason)]
    else:
        badges = [StatusBadge(status.label, STATUS_TONES[status])]
    if campaign.is_safety_held:
        badges.append(StatusBadge("Held by safety check", "bad", campaign.safety_hold_reason))
    elif campaign.was_refused:
        badges.append(StatusBadge("Run refused", "bad", campaign.nothing_sent_reason))
    return badges


@dataclass(frozen=True)
class SendTime:
    label: str  # what the time is: "Next send", "Last run"…
    at: datetime | None  # None: the label says it all ("Live: on each trigger")


def campaign_send_time(campaign: Campaign, *, now: datetime) -> SendTime | None:
    """When the campaign sends, for the list: the next occurrence while it is scheduled or
    running (next_run_at, which the schedule and the engine's tick keep), the run in
    progress once none is left, else when its latest run was (`last_run_at`, annotated by
    campaign_list). None: nothing planned nor sent."""
    last_run_at = getattr(campaign, "last_run_at", None)
    if campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        if campaign.is_live:
            if campaign.next_run_at and campaign.next_run_at > now:
                return SendTime("Live from", campaign.next_run_at)
            return SendTime("Live: sends on each trigger", None)
        if campaign.next_run_at:
            if campaign.next_run_at <= now:
                return SendTime("Starting", campaign.next_run_at)
            return SendTime("Next send", campaign.next_run_at)
        if last_run_at:
            return SendTime("Sending since", last_run_at)
        return None
    if last_run_at:
        return SendTime("Last run", last_run_at)
    return None
