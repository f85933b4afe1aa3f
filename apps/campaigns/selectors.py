"""Reads for the campaign pages."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from .models import Campaign

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
    campaigns = Campaign.objects.select_related(
        "created_by", "provider", "provider_group", "segment"
    ).defer(*LIST_DEFERRED)
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
