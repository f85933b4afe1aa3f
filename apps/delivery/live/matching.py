"""Stored events against the index: the Upload API's hook, triggers that make WAITING rows
and follow-ups that cancel them."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from apps.accounts.selectors import account_timezone
from apps.audience.models import Event
from apps.campaigns.models import LIVE_TYPES, Campaign
from config.celery_app import app as celery_app

from .constants import ACTIVE_STATUSES, TRIGGER, logger
from .index import audience_definition, live_index
from .properties import properties_match
from .rows import _insert_waiting
from .timing import _inside, _live_when, _minutes, _window

# --------------------------------------------------------------------------- the ingest hook


def events_uploaded(stored_events: list[tuple[int, str]]) -> None:
    """Called by the Upload API once its events are committed: hand the ones some live
    campaign listens to over to the triggers queue (nothing is enqueued for the others).
    Never raises: the events are stored, and an error here must not make the client send
    them again."""
    if not stored_events:
        return
    try:
        index = live_index()
        ids = [event_id for event_id, name in stored_events if name in index]
        if ids:
            # By name: the tasks module imports this package.
            celery_app.tasks["delivery.live_events_stored"].delay(ids)
    except Exception:
        logger.exception("could not offer %d events to live campaigns", len(stored_events))


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class _StoredEvent:
    id: int
    profile_id: int
    name: str
    ts: datetime
    properties: Any


def events_stored(event_ids: list[int], *, now: datetime | None = None) -> int:
    """Match stored events against the live campaigns; returns how many rows now wait to be
    sent. Safe to run twice (the rows are unique per run and profile)."""
    if not event_ids:
        return 0
    index = live_index()
    if not index:
        return 0
    events = [
        _StoredEvent(*row)
        for row in Event.objects.filter(pk__in=list(event_ids), name__in=list(index))
        .order_by("ts", "id")
        .values_list("id", "profile_id", "name", "ts", "properties")
    ]
    triggers: dict[int, list[_StoredEvent]] = defaultdict(list)
    follow_ups: dict[int, list[_StoredEvent]] = defaultdict(list)
    for event in events:
        for matcher in index.get(event.name, ()):
            if properties_match(matcher.properties, event.properties):
                target = triggers if matcher.role == TRIGGER else follow_ups
                target[matcher.campaign_id].append(event)
    wanted = set(triggers) | set(follow_ups)
    if not wanted:
        return 0
    # Re-read: the index may be a moment older than a Stop.
    campaigns = {
        c.pk: c
        for c in Campaign.objects.filter(
            pk__in=wanted, campaign_type__in=LIVE_TYPES, status__in=ACTIVE_STATUSES
        ).select_related("segment")
    }
    tz = account_timezone()
    now = now or timezone.now()
    waiting = 0
    for campaign_id, matched in triggers.items():
        campaign = campaigns.get(campaign_id)
        if campaign is not None:
            waiting += _trigger(campaign, matched, tz=tz, now=now)
    # After the triggers: a follow-up in the same batch cancels a trigger that preceded it.
    for campaign_id, matched in follow_ups.items():
        campaign = campaigns.get(campaign_id)
        if campaign is not None:
            _cancel(campaign, matched)
    return waiting


def _trigger(campaign: Campaign, events: list[_StoredEvent], *, tz: ZoneInfo, now) -> int:
    definition = audience_definition(campaign)
    if not definition or not definition.get("live"):
        return 0
    live_when = _live_when(campaign)
    wait = _minutes(live_when.get("delay_minutes"))
    if definition["live"]["type"] == "inaction":
        wait += _minutes(live_when.get("inaction_minutes")) or _minutes(
            definition["live"].get("within_minutes")
        )
    window = _window(campaign, tz)
    by_day: dict[date, dict[int, _StoredEvent]] = defaultdict(dict)
    for event in events:  # in ts order: a profile's first trigger of the day wins
        if _inside(event.ts, window):
            by_day[event.ts.astimezone(tz).date()].setdefault(event.profile_id, event)
    waiting = 0
    for day, chosen in by_day.items():
        rows = [
            {
                "profile_id": event.profile_id,
                "release_at": (event.ts + timedelta(minutes=wait)).isoformat(),
                "event_properties": event.properties,
            }
            for event in chosen.values()
        ]
        waiting += _insert_waiting(campaign, definition, day, rows, tz=tz, now=now)
    return waiting


def _cancel(campaign: Campaign, events: list[_StoredEvent]) -> int:
    """The follow-up arrived: the profile's pending inaction rows whose window was still open
    at the follow-up's time become SKIPPED trigger_cancelled."""
    live_when = _live_when(campaign)
    delay = _minutes(live_when.get("delay_minutes"))
    definition = audience_definition(campaign) or {}
    inaction = _minutes(live_when.get("inaction_minutes")) or _minutes(
        (definition.get("live") or {}).get("within_minutes")
    )
    follow = [{"profile_id": e.profile_id, "ts": e.ts.isoformat()} for e in events]
    with connection.cursor() as cursor:
        # The trigger's time is release_at - (window + delay); the window closed at
        # release_at - delay.
        cursor.execute(
            "UPDATE delivery_message m SET status = 'skipped', reason = 'trigger_cancelled' "
            "FROM jsonb_to_recordset(%s::jsonb) AS f(profile_id bigint, ts timestamptz), "
            "delivery_campaignrun r "
            "WHERE r.id = m.run_id AND r.campaign_id = %s AND m.profile_id = f.profile_id "
            "AND m.status = 'waiting' "
            "AND m.release_at - make_interval(mins => %s) <= f.ts "
            "AND f.ts <= m.release_at - make_interval(mins => %s)",
            [json.dumps(follow), campaign.pk, inaction + delay, delay],
        )
        return cursor.rowcount
