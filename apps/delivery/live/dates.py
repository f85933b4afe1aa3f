"""On a date/time: the daily job that finds the profiles whose event date comes up."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.accounts.selectors import account_timezone
from apps.audience.models import Event
from apps.campaigns.models import Campaign, CampaignType
from apps.campaigns.when import OFFSET_UNITS, parse_wall

from .constants import _CLEVERTAP_DATE, _DATE_PREFIX, ACTIVE_STATUSES, CLEVERTAP_DATE_SQL
from .index import audience_definition
from .rows import _insert_waiting
from .timing import _inside, _live_when, _minutes, _window

# --------------------------------------------------------------------------- on a date/time


def _offset_minutes(campaign: Campaign, live: dict) -> int:
    """Minutes to add to the event's date: negative before it, 0 on it."""
    offset = _live_when(campaign).get("date_offset") or live.get("offset") or {}
    direction = offset.get("direction", "on")
    amount = _minutes(offset.get("amount")) * OFFSET_UNITS.get(offset.get("unit") or "days", 1)
    if direction == "before":
        return -amount
    if direction == "after":
        return amount
    return 0


def _utc_span(first: date, last: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time.min, tzinfo=UTC),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _date_moment(value: Any, *, send_time: time, tz: ZoneInfo) -> datetime | None:
    """The instant a date property names: a date at the send time in the account zone, a
    date and time as itself (naive ones in the account zone), CleverTap's "$D_<epoch>" as
    that instant; None when it is none of these."""
    epoch = _CLEVERTAP_DATE.match(value) if isinstance(value, str) else None
    if epoch:
        return datetime.fromtimestamp(int(epoch.group(1)), tz=UTC)
    if not isinstance(value, str) or not _DATE_PREFIX.match(value):
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), send_time, tzinfo=tz)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def live_date_due(now: datetime | None = None) -> int:
    """Profiles whose event date, shifted by the campaign's offset, falls today (account
    zone) get a WAITING row released at that moment. Idempotent per day: the rows go to the
    day's run, once per profile. Returns how many rows now wait."""
    now = now or timezone.now()
    tz = account_timezone()
    today = now.astimezone(tz).date()
    day_start = datetime.combine(today, time.min, tzinfo=tz)
    day_end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    waiting = 0
    campaigns = Campaign.objects.filter(
        campaign_type=CampaignType.LIVE_DATE, status__in=ACTIVE_STATUSES
    ).select_related("segment")
    for campaign in campaigns:
        definition = audience_definition(campaign)
        live = (definition or {}).get("live")
        if not live or live["type"] != "date_property":
            continue
        shift = timedelta(minutes=_offset_minutes(campaign, live))
        window = _window(campaign, tz)
        start_wall = parse_wall(_live_when(campaign).get("start"))
        send_time = start_wall.time() if start_wall else time(10, 0)
        # The event dates that can land today, as text: a prefix range the database
        # compares without casting (a malformed date in one event must not fail the job).
        first = (day_start - shift).date() - timedelta(days=1)
        last = (day_end - shift).date() + timedelta(days=1)
        prop = live["property"]
        candidates = (
            Event.objects.filter(name=live["event"])
            .alias(
                can_be_today=RawSQL(
                    "left(properties ->> %s, 10) BETWEEN %s AND %s "
                    # CleverTap's "$D_<epoch>": CASE, so only digits are ever cast.
                    f"OR CASE WHEN (properties ->> %s) ~ '{CLEVERTAP_DATE_SQL}' "
                    "THEN to_timestamp(substr(properties ->> %s, 4)::bigint) END "
                    "BETWEEN %s AND %s",
                    [
                        prop,
                        first.isoformat(),
                        last.isoformat(),
                        prop,
                        prop,
                        *_utc_span(first, last),
                    ],
                    BooleanField(),
                )
            )
            .filter(can_be_today=True)
        )
        chosen: dict[int, tuple[datetime, Any]] = {}
        for profile_id, properties in candidates.values_list("profile_id", "properties"):
            value = properties.get(live["property"]) if isinstance(properties, dict) else None
            moment = _date_moment(value, send_time=send_time, tz=tz)
            if moment is None:
                continue
            moment = (moment + shift).astimezone(UTC)
            if not (day_start <= moment < day_end) or not _inside(moment, window):
                continue
            if profile_id not in chosen or moment < chosen[profile_id][0]:
                chosen[profile_id] = (moment, properties)
        rows = [
            {"profile_id": pid, "release_at": moment.isoformat(), "event_properties": props}
            for pid, (moment, props) in chosen.items()
        ]
        waiting += _insert_waiting(campaign, definition, today, rows, tz=tz, now=now)
    return waiting
