"""Live campaigns: events stored by the Upload API trigger Message rows; a daily job finds the
profiles whose event date comes up.

The three live kinds (apps/segments/definitions/live.py `live_normalise`, timing in `when.live`,
apps/campaigns/when/document.py `_clean_live`):
- single action: a matching event makes a WAITING row released at event ts + delay, carrying
  the event's properties for `{{Event.<prop>}}`;
- inaction within time: the event makes a WAITING row released when the window closes
  (ts + inaction window + delay); the "not followed by" event, arriving while the window is
  open, flips that row to SKIPPED trigger_cancelled;
- on a date/time: `live_date_due(now)` (beat, every 15 minutes, idempotent per day) finds the
  events whose date property, shifted by the offset, falls today and makes WAITING rows
  released at that moment.
Nothing waits in Celery: the engine's release job sends WAITING rows when they are due.

Matching is cheap per event: each process keeps an index {event name: [matchers]} of the
active live campaigns, rebuilt only when a version number in the cache moves (every Campaign
save bumps it, see apps.py). A batch of events costs a fixed number of queries: one to load
the events, one to re-read the matched campaigns (so a campaign stopped a moment ago, or an
index made stale by a lost cache, never sends), then per campaign one run lookup and ONE
INSERT … SELECT that checks the profile filters, reachability, the control group, the
per-user limit and the campaign's overall and daily limits in SQL. The first message makes
a scheduled live campaign running.

Decisions where the product documents are silent:
- days are the account time zone's: a live campaign has one CampaignRun per day
  (engine.live_run_for: scheduled_for = that date's UTC midnight, a label), and the
  (run, profile) uniqueness means one message per profile per campaign per day at most —
  a second trigger the same day is ignored, unless the first was cancelled by its follow-up
  (then the new trigger re-arms the row);
- the per-user limit counts the days on which a profile got (or is about to get) a message
  of the campaign: queued, waiting, sending or sent rows; a trigger over the limit is kept as
  SKIPPED per_user_limit so the progress page can show it;
- start/end are checked against the event's time (triggers) or the send moment (dates);
- a date-only property value ("2026-12-01") is sent at the time of day of the campaign's
  start, in the account time zone; a date and time ("2026-12-01T08:30:00Z") at that moment,
  shifted by the offset;
- A/B content on a live campaign splits recipients evenly by a stable hash (there is no
  "rest of the audience" to wait for a winner);
- the overall and daily limits (people) go to the earliest triggers of a batch; triggers
  over them are not recorded. Two batches at the same moment may overshoot by a batch.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time as time_module
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.accounts.selectors import account_timezone
from apps.audience.models import Event
from apps.campaigns.live_index import live_index_bump, live_index_version
from apps.campaigns.models import LIVE_TYPES, Campaign, CampaignStatus, CampaignType
from apps.campaigns.when import OFFSET_UNITS, parse_wall, to_utc
from apps.providers.models import Channel
from apps.segments.compiler import NUMERIC_RE, PROFILE_ALIAS, definition_sql
from apps.segments.definitions import DefinitionError, definition_validate, value_kind

from . import engine
from .models import CampaignRun, MessageStatus
from .snapshot import CONTROL_SEED, bucket_sql, device_join_sql, reachable_sql, variant_sql

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)
# Even if a bump were lost (a cache flush between two saves), no process keeps an index
# older than this.
INDEX_MAX_AGE_S = 300
VARIANT_SEED = 5  # independent of snapshot's control / test-share / order seeds
# Rows that count towards a per-user limit: sent, or on their way.
COUNTED_STATUSES = ("queued", "waiting", "sending", "sent")

TRIGGER = "trigger"
FOLLOW_UP = "follow_up"

_NUMERIC = re.compile(NUMERIC_RE)
_DATE_PREFIX = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Up to 12 digits: any real date, and always a valid bigint and timestamp.
CLEVERTAP_DATE_SQL = r"^\$D_-?[0-9]{1,12}$"
_CLEVERTAP_DATE = re.compile(r"^\$D_(-?[0-9]{1,12})$")


# --------------------------------------------------------------------------- event properties


def _scalar_values(properties: Any, name: str) -> list[Any]:
    """Every value of a property: a list's elements; "a|b" walks nested objects (a list of
    objects on the way is unwrapped, as the SQL compiler's lax jsonpath does)."""
    current = [properties]
    for segment in name.split("|"):
        found = []
        for item in current:
            for obj in item if isinstance(item, list) else [item]:
                if isinstance(obj, dict) and segment in obj:
                    found.append(obj[segment])
        current = found
    values: list[Any] = []
    for item in current:
        values.extend(item if isinstance(item, list) else [item])
    return [v for v in values if v is not None]


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    if isinstance(value, str) and _NUMERIC.match(value):
        return Decimal(value)
    return None


def _compare(left: Any, op: str, right: Any) -> bool:
    return {
        "equals": left == right,
        "greater_than": left > right,
        "greater_than_equals": left >= right,
        "less_than": left < right,
        "less_than_equals": left <= right,
    }[op]


def _value_compare(value: Any, op: str, wanted: Any) -> bool:
    """`value <op> wanted` with the compiler's typing: a number matches numbers and numeric
    strings, a date date-prefixed strings, a boolean booleans (equality only), text text
    (exact equality; code-point order for ranges)."""
    kind = value_kind(wanted)
    if kind == "number":
        number = _number(value)
        return number is not None and _compare(number, op, Decimal(str(wanted)))
    if kind == "bool":
        return op == "equals" and isinstance(value, bool) and value == wanted
    if not isinstance(value, str):
        return False
    if kind == "date":
        return bool(_DATE_PREFIX.match(value)) and _compare(value[:10], op, wanted)
    return _compare(value, op, wanted)


def _positive(values: list[Any], op: str, wanted: Any) -> bool:
    if op == "exists":
        return bool(values)
    if op == "contains":
        needle = str(wanted).lower()
        return any(isinstance(v, str) and needle in v.lower() for v in values)
    if op == "between":
        low, high = wanted
        return any(
            _value_compare(v, "greater_than_equals", low)
            and _value_compare(v, "less_than_equals", high)
            for v in values
        )
    choices = wanted if isinstance(wanted, list) else [wanted]
    return any(_value_compare(v, op, choice) for v in values for choice in choices)


_NEGATED = {"not_equals": "equals", "does_not_contain": "contains", "does_not_exist": "exists"}


def properties_match(conditions: list[dict] | tuple[dict, ...], properties: Any) -> bool:
    """Whether an event's properties satisfy every condition, with the SQL compiler's
    semantics (apps/segments/compiler.py): any value of a list property may match; negative
    operators are NOT of the positive test, so a missing property satisfies them."""
    for cond in conditions:
        op = cond["operator"]
        values = _scalar_values(properties, cond["name"])
        if op in _NEGATED:
            if _positive(values, _NEGATED[op], cond.get("value")):
                return False
        elif not _positive(values, op, cond.get("value")):
            return False
    return True


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class Matcher:
    campaign_id: int
    role: str  # TRIGGER or FOLLOW_UP
    properties: tuple[dict, ...]


@dataclass
class _Index:
    version: Any = None
    loaded_at: float = 0.0
    by_event: dict[str, list[Matcher]] | None = None


_index = _Index()
_index_lock = threading.Lock()


def audience_definition(campaign: Campaign) -> dict | None:
    raw = campaign.segment.definition if campaign.segment_id else campaign.audience_definition
    if not raw:
        return None
    try:
        return definition_validate(raw)
    except DefinitionError:
        logger.warning("live campaign %s has an invalid audience; ignored", campaign.pk)
        return None


def _build_index() -> dict[str, list[Matcher]]:
    by_event: dict[str, list[Matcher]] = defaultdict(list)
    campaigns = Campaign.objects.filter(
        campaign_type__in=LIVE_TYPES, status__in=ACTIVE_STATUSES
    ).select_related("segment")
    for campaign in campaigns:
        definition = audience_definition(campaign)
        live = (definition or {}).get("live")
        if not live or live["type"] == "date_property":
            continue  # date campaigns are found by the daily job, not by events
        by_event[live["event"]].append(
            Matcher(campaign.pk, TRIGGER, tuple(live.get("properties") or ()))
        )
        if live["type"] == "inaction":
            by_event[live["not_event"]].append(
                Matcher(campaign.pk, FOLLOW_UP, tuple(live.get("not_properties") or ()))
            )
    return dict(by_event)


def live_index() -> dict[str, list[Matcher]]:
    """{event name: matchers} of the active live campaigns, rebuilt when the version moved."""
    version = live_index_version()
    fresh = (
        _index.by_event is not None
        and _index.version == version
        and time_module.monotonic() - _index.loaded_at < INDEX_MAX_AGE_S
    )
    if fresh:
        return _index.by_event
    with _index_lock:
        by_event = _build_index()
        _index.by_event, _index.version = by_event, version
        _index.loaded_at = time_module.monotonic()
    return by_event


def index_forget() -> None:
    """Drop this process's index (tests: the database was rolled back under it)."""
    with _index_lock:
        _index.by_event, _index.version, _index.loaded_at = None, None, 0.0


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
            from apps.delivery.tasks import live_events_stored

            live_events_stored.delay(ids)
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


def _live_when(campaign: Campaign) -> dict:
    return (campaign.when or {}).get("live") or {}


def _window(campaign: Campaign, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    live = _live_when(campaign)
    start, end = parse_wall(live.get("start")), parse_wall(live.get("end"))
    return (to_utc(start, tz) if start else None, to_utc(end, tz) if end else None)


def _inside(moment: datetime, window: tuple[datetime | None, datetime | None]) -> bool:
    start, end = window
    return (start is None or moment >= start) and (end is None or moment < end)


def _minutes(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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


# --------------------------------------------------------------------------- rows


def _period(per: str, day: date) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    if per == "day":
        return start, start + timedelta(days=1)
    if per == "week":
        monday = start - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=7)
    return None, None  # the whole campaign


def _limit_sql(campaign: Campaign, day: date) -> tuple[str, list]:
    """Whether profile p already reached the campaign's per-user limit in `day`'s period."""
    per_user = _live_when(campaign).get("per_user")
    if not isinstance(per_user, dict) or not per_user.get("limit"):
        return "FALSE", []
    start, end = _period(per_user.get("per", "campaign"), day)
    statuses = ", ".join(f"'{s}'" for s in COUNTED_STATUSES)
    sql = (
        "(SELECT count(DISTINCT m.run_id) FROM delivery_message m "
        "JOIN delivery_campaignrun r ON r.id = m.run_id "
        f"WHERE r.campaign_id = %s AND m.profile_id = p.id AND m.status IN ({statuses})"
    )
    params: list[Any] = [campaign.pk]
    if start is not None:
        sql += " AND r.scheduled_for >= %s AND r.scheduled_for < %s"
        params += [start, end]
    return sql + ") >= %s", [*params, int(per_user["limit"])]


def _allowance(campaign: Campaign, run: CampaignRun) -> int | None:
    """How many more people the campaign may reach now under its overall limit and its
    daily limit (a live run is one day); None without limits. Concurrent batches may
    overshoot by a batch at most: the limits are a budget, not a lock."""
    if not campaign.limit_overall and not campaign.limit_daily:
        return None
    statuses = ", ".join(f"'{s}'" for s in COUNTED_STATUSES)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT m.profile_id), "
            "count(DISTINCT m.profile_id) FILTER (WHERE m.run_id = %s) "
            "FROM delivery_message m JOIN delivery_campaignrun r ON r.id = m.run_id "
            f"WHERE r.campaign_id = %s AND m.status IN ({statuses})",
            [run.pk, campaign.pk],
        )
        overall, today = cursor.fetchone()
    caps = []
    if campaign.limit_overall:
        caps.append(campaign.limit_overall - overall)
    if campaign.limit_daily:
        caps.append(campaign.limit_daily - today)
    return max(min(caps), 0)


def _live_variant_sql(campaign: Campaign) -> tuple[str, list]:
    content = campaign.content or {}
    keys = [str(v["key"]) for v in content.get("variants", []) if v.get("key")] or ["A"]
    if content.get("mode") == "ab" and len(keys) >= 2:
        array = "ARRAY[" + ", ".join(["%s"] * len(keys)) + "]::text[]"
        k = len(keys)
        return (
            f"({array})[1 + ((hashtextextended(p.id::text, %s) %% {k} + {k}) %% {k})]",
            [*keys, campaign.pk * 16 + VARIANT_SEED],
        )
    return variant_sql(campaign)


def _insert_waiting(
    campaign: Campaign, definition: dict, day: date, rows: list[dict], *, tz: ZoneInfo, now
) -> int:
    """ONE statement: the candidates that pass the profile filters and can be reached become
    WAITING rows (CONTROL for the control group, SKIPPED per_user_limit over the limit) in
    the day's run. Returns how many wait to be sent."""
    if not rows:
        return 0
    run = engine.live_run_for(campaign, day)
    cond, cond_params = definition_sql(definition, now=now, tz_name=str(tz))
    cond = cond.replace(PROFILE_ALIAS, "p")
    limited, limit_params = _limit_sql(campaign, day)
    variant, variant_params = _live_variant_sql(campaign)
    device_join, device_col = device_join_sql(campaign)
    push = campaign.channel == Channel.PUSH
    conflict = (
        "(run_id, profile_id, device_id) WHERE device_id IS NOT NULL"
        if push
        else "(run_id, profile_id) WHERE device_id IS NULL"
    )
    allowance = _allowance(campaign, run)
    if allowance == 0:
        return 0
    sql = (
        "WITH e AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) "
        "AS e(profile_id bigint, release_at timestamptz, event_properties jsonb)), "
        f"c AS (SELECT p.id, e.release_at, e.event_properties, {bucket_sql('p.id')} < %s "
        f"AS is_control, {limited} AS limited, {variant} AS variant "
        "FROM e JOIN audience_profile p ON p.id = e.profile_id "
        f"WHERE ({cond}) AND ({reachable_sql(campaign.channel)})), "
        # Receivers in trigger order, for the campaign's overall and daily limits.
        "v AS (SELECT c.*, row_number() OVER (PARTITION BY c.is_control OR c.limited "
        "ORDER BY c.release_at, c.id) AS rn FROM c) "
        "INSERT INTO delivery_message (run_id, profile_id, device_id, variant, status, reason, "
        "release_at, attempts, provider_message_id, error, event_properties) "
        f"SELECT %s, v.id, {device_col}, v.variant, "
        "CASE WHEN v.limited THEN 'skipped' WHEN v.is_control THEN 'control' "
        "ELSE 'waiting' END, "
        "CASE WHEN v.limited THEN 'per_user_limit' WHEN v.is_control THEN 'control' "
        "ELSE '' END, "
        "CASE WHEN v.limited OR v.is_control THEN NULL ELSE v.release_at END, "
        f"0, '', '', v.event_properties FROM v {device_join} WHERE "
        + ("(v.is_control OR d.id IS NOT NULL) " if push else "TRUE ")
        + ("AND (v.is_control OR v.limited OR v.rn <= %s) " if allowance is not None else "")
        # A trigger cancelled by its follow-up earlier that day is armed again by a new one.
        + f"ON CONFLICT {conflict} DO UPDATE SET status = EXCLUDED.status, "
        "reason = EXCLUDED.reason, release_at = EXCLUDED.release_at, "
        "event_properties = EXCLUDED.event_properties "
        "WHERE delivery_message.status = 'skipped' "
        "AND delivery_message.reason = 'trigger_cancelled' "
        "RETURNING status"
    )
    params = [
        json.dumps(rows),
        campaign.pk * 16 + CONTROL_SEED,
        campaign.control_group_percent or 0,
        *limit_params,
        *variant_params,
        *cond_params,
        run.pk,
        *([allowance] if allowance is not None else []),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        statuses = [status for (status,) in cursor.fetchall()]
    waiting = sum(1 for status in statuses if status == MessageStatus.WAITING)
    if waiting:
        # Its first message makes a live campaign running (a conditional UPDATE: a Stop
        # that came first stays).
        Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.SCHEDULED).update(
            status=CampaignStatus.RUNNING, updated_at=timezone.now()
        )
    return waiting


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


def campaign_changed(sender: type, instance: Campaign, **kwargs: Any) -> None:
    """post_save / post_delete of a Campaign (apps.py): every process rebuilds its index."""
    live_index_bump()
