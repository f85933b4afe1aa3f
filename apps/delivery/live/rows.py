"""The WAITING rows a trigger makes: per-user limits, the campaign's limits, the variant,
in one INSERT per day's run."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from apps.campaigns.models import Campaign
from apps.campaigns.services import campaign_live_started
from apps.providers.models import Channel
from apps.segments.compiler import PROFILE_ALIAS, definition_sql

from ..models import CampaignRun, MessageStatus
from ..runs import live_run_for
from ..snapshot import CONTROL_SEED, bucket_sql, device_join_sql, reachable_sql, variant_sql
from .constants import COUNTED_STATUSES, VARIANT_SEED
from .timing import _live_when

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
    run = live_run_for(campaign, day)
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
        campaign_live_started(campaign_id=campaign.pk)  # its first message: running
    return waiting
