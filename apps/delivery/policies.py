"""Who of a send batch goes now, waits, or is skipped: the campaign's cut-off, delivery in the
user's time zone, Do-Not-Disturb hours and the global frequency caps.

`decide(campaign, rows, *, now)` is called by a send batch with the rows it claimed and
returns one Decision per row; the batch writes them back (WAITING rows carry release_at and
beat's release job puts them back in a batch when it comes, where they are decided again —
so every rule here must give "send" for a row re-decided at its own release time).

Rules, in order (the first that holds decides):
1. cut-off: past `when.cutoff` (account time) -> skip "cutoff". A row whose user-time-zone
   send or DND delay would land after the cut-off is skipped "cutoff" too: it would be then.
2. user time zone (`when.user_timezone`, only for "at", "dates" and "recurring"): the same
   wall time in the profile's zone (schedule.user_send_at); dropped -> skip
   "timezone_dropped"; later than now -> wait until it. A profile without a valid zone gets
   the account's.
3. DND at the moment the row would leave (now, or its user-time-zone time), read in the
   user's or the account's zone: "discard" -> skip "dnd_discarded", "delay" -> wait until
   the window ends (schedule.dnd_release_at: the first moment outside every window).
4. frequency caps for the campaign's channel (per profile, rolling 24 hours and 7 days),
   unless `delivery.respect_frequency_caps` is false -> skip "capped".

Decisions where the product documents are silent:
- The global default DND window applies to campaigns that did not turn on their own DND and
  respect the global limits ("Don't apply global campaign limits to this campaign" — our
  respect_frequency_caps=false — is the marketer's way out of every global limit but the
  throttle, which has its own respect_throttle switch). A campaign's own DND replaces it.
- A frequency cap counts *sends* of a campaign run, not devices: a push to all of a
  profile's three devices is one message to that person. It counts SENT messages of the same
  channel in the rolling day/week before `now`, from every campaign, including campaigns that
  override the caps (they did reach the person). The runs of the batch itself are left out,
  so the second device of a push, sent by another batch of the same run, is not capped by the
  first. Two batches of different campaigns deciding the same profile in the same instant
  can both send: caps are checked, not locked (locking every recipient would serialise
  the fan-out for a rare off-by-one).
"""

from __future__ import annotations

import time as monotonic_clock
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q

from apps.accounts.models import GlobalLimits
from apps.accounts.selectors import account_timezone
from apps.accounts.services import global_limits_get
from apps.campaigns.models import LIVE_TYPES, Campaign
from apps.campaigns.when import (
    dnd_release_at,
    parse_wall,
    to_utc,
    user_send_at,
)

from .models import Message, MessageStatus, SkipReason

SEND: Literal["send"] = "send"
SKIP: Literal["skip"] = "skip"
WAIT: Literal["wait"] = "wait"

# Why a row waits (Message.reason while WAITING; the progress page counts them).
WAIT_USER_TIMEZONE = "user_timezone"
WAIT_DND = "dnd_delay"

# User-time-zone delivery is for campaigns with a wall time (see schedule's docstring).
USER_TIMEZONE_WHEN_TYPES = ("at", "dates", "recurring")

# Workers read the settings row at most this often; a saved change reaches them within it.
LIMITS_CACHE_SECONDS = 10.0


class PolicyRow(TypedDict):
    message_id: int
    profile_id: int
    timezone: str  # the profile's IANA zone, "" when unknown
    run_scheduled_for: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    message_id: int
    action: Literal["send", "skip", "wait"]
    reason: str = ""  # a SkipReason for "skip", WAIT_* for "wait", "" for "send"
    release_at: datetime | None = None  # "wait" only


# --- The settings --------------------------------------------------------------------------------

_limits_cache: tuple[float, GlobalLimits] | None = None


def global_limits() -> GlobalLimits:
    """The Settings → Global limits row, read from the database at most once every
    LIMITS_CACHE_SECONDS per process (a batch a second would otherwise each pay a query)."""
    global _limits_cache
    clock = monotonic_clock.monotonic()
    if _limits_cache is not None and clock - _limits_cache[0] < LIMITS_CACHE_SECONDS:
        return _limits_cache[1]
    limits = global_limits_get()
    _limits_cache = (clock, limits)
    return limits


def global_limits_cache_clear() -> None:
    global _limits_cache
    _limits_cache = None


def effective_dnd(campaign: Campaign, limits: GlobalLimits) -> dict | None:
    """The DND document a campaign's messages obey: its own when on, else the global default
    (see the module docstring), else None."""
    delivery = campaign.delivery if isinstance(campaign.delivery, dict) else {}
    own = delivery.get("dnd")
    if isinstance(own, dict) and own.get("enabled"):
        return own
    if not _respects_frequency_caps(delivery):
        return None
    return limits.default_dnd()


def throttle_rates(campaign: Campaign, limits: GlobalLimits) -> list[tuple[str, int]]:
    """The token buckets a send of this campaign draws from, as (throttle key, messages per
    minute): the campaign's own rate if it set one, and its channel's global rate unless the
    campaign does not respect the throttle. For throttle.acquire."""
    delivery = campaign.delivery if isinstance(campaign.delivery, dict) else {}
    rates: list[tuple[str, int]] = []
    own = delivery.get("throttle_per_minute")
    if isinstance(own, int) and not isinstance(own, bool) and own > 0:
        rates.append((f"campaign:{campaign.pk}", own))
    channel_rate = limits.channel_throttle_per_minute(campaign.channel)
    if channel_rate and delivery.get("respect_throttle", True) is not False:
        rates.append((f"channel:{campaign.channel}", channel_rate))
    return rates


def _respects_frequency_caps(delivery: dict) -> bool:
    return delivery.get("respect_frequency_caps", True) is not False


# --- Deciding ------------------------------------------------------------------------------------


def _aware_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _zone(name: Any, fallback: ZoneInfo) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        return fallback
    try:
        return ZoneInfo(name)  # ZoneInfo caches by name: cheap per row
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def decide(
    campaign: Campaign,
    rows: list[PolicyRow],
    *,
    now: datetime,
    limits: GlobalLimits | None = None,
    account_tz: ZoneInfo | None = None,
) -> list[Decision]:
    """One Decision per row, in the rows' order (see the module docstring). At most one SQL
    query (the frequency-cap counts), plus the settings reads when `limits` / `account_tz`
    are not given."""
    if not rows:
        return []
    limits = limits if limits is not None else global_limits()
    account_tz = account_tz or account_timezone()
    now = _aware_utc(now)
    when = campaign.when if isinstance(campaign.when, dict) else {}
    delivery = campaign.delivery if isinstance(campaign.delivery, dict) else {}
    is_live = campaign.campaign_type in LIVE_TYPES or when.get("type") == "live"

    cutoff_wall = None if is_live else parse_wall(when.get("cutoff"))
    cutoff = to_utc(cutoff_wall, account_tz) if cutoff_wall else None
    user_timezone = (
        when.get("type") in USER_TIMEZONE_WHEN_TYPES
        and isinstance(when.get("user_timezone"), dict)
        and bool(when["user_timezone"].get("enabled"))
    )
    dnd = effective_dnd(campaign, limits)
    dnd_delivery = {"dnd": dnd} if dnd else None
    dnd_in_account_tz = bool(dnd) and dnd.get("timezone") == "account"
    dnd_delays = bool(dnd) and dnd.get("action") == "delay"

    decisions: list[Decision | None] = []
    to_cap: list[int] = []  # indexes of rows that would send now, if the caps allow
    for row in rows:
        message_id = row["message_id"]
        if cutoff is not None and now > cutoff:
            decisions.append(Decision(message_id, SKIP, SkipReason.CUTOFF))
            continue
        user_tz = _zone(row.get("timezone"), account_tz)
        leaves_at = now
        if user_timezone:
            target = user_send_at(
                when, row["run_scheduled_for"], account_tz=account_tz, user_tz=user_tz
            )
            if target is None:
                decisions.append(Decision(message_id, SKIP, SkipReason.TIMEZONE_DROPPED))
                continue
            leaves_at = max(target, now)
        if dnd_delivery is not None:
            window_end = dnd_release_at(
                dnd_delivery, leaves_at, account_tz if dnd_in_account_tz else user_tz
            )
            if window_end is not None:
                if not dnd_delays:
                    decisions.append(Decision(message_id, SKIP, SkipReason.DND_DISCARDED))
                    continue
                if cutoff is not None and window_end > cutoff:
                    decisions.append(Decision(message_id, SKIP, SkipReason.CUTOFF))
                    continue
                decisions.append(Decision(message_id, WAIT, WAIT_DND, window_end))
                continue
        if leaves_at > now:
            if cutoff is not None and leaves_at > cutoff:
                decisions.append(Decision(message_id, SKIP, SkipReason.CUTOFF))
            else:
                decisions.append(Decision(message_id, WAIT, WAIT_USER_TIMEZONE, leaves_at))
            continue
        decisions.append(None)
        to_cap.append(len(decisions) - 1)

    per_day, per_week = limits.frequency_caps(campaign.channel)
    capped: set[int] = set()
    if to_cap and (per_day or per_week) and _respects_frequency_caps(delivery):
        counts = sent_counts(
            channel=campaign.channel,
            profile_ids={rows[i]["profile_id"] for i in to_cap},
            batch_message_ids=[row["message_id"] for row in rows],
            now=now,
        )
        for profile_id, (day_count, week_count) in counts.items():
            if (per_day and day_count >= per_day) or (per_week and week_count >= per_week):
                capped.add(profile_id)
    for index in to_cap:
        row = rows[index]
        if row["profile_id"] in capped:
            decisions[index] = Decision(row["message_id"], SKIP, SkipReason.CAPPED)
        else:
            decisions[index] = Decision(row["message_id"], SEND)
    return decisions  # type: ignore[return-value]  # every None was filled above


def sent_counts(
    *, channel: str, profile_ids: set[int], batch_message_ids: list[int], now: datetime
) -> dict[int, tuple[int, int]]:
    """profile id -> (runs that sent them a message of `channel` in the last 24 hours, in the
    last 7 days), leaving out the runs of the batch's own messages. One query, on the
    partial index message_profile_sent_idx (profile, sent_at WHERE status = 'sent')."""
    now = _aware_utc(now)
    day_ago, week_ago = now - timedelta(days=1), now - timedelta(days=7)
    batch_runs = Message.objects.filter(pk__in=batch_message_ids).values("run_id")
    rows = (
        Message.objects.filter(
            status=MessageStatus.SENT,
            profile_id__in=profile_ids,
            sent_at__gt=week_ago,
            sent_at__lte=now,
            run__campaign__channel=channel,
        )
        .exclude(run_id__in=batch_runs)
        .values("profile_id")
        .annotate(
            day=Count("run_id", distinct=True, filter=Q(sent_at__gt=day_ago)),
            week=Count("run_id", distinct=True),
        )
        .values_list("profile_id", "day", "week")
    )
    return {profile_id: (day, week) for profile_id, day, week in rows}
