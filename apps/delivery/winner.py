"""The A/B winner: when a run's test window has passed, measure each variant on the test
share, record the winner with the numbers behind it, and give the waiting rest the winner.

`choose_winners(now)` is beat's job (tasks.py wraps it, every 30 s). A run is due when it is
TESTING and its waiting rest (WAITING rows with no variant yet, whose release_at the snapshot
set to the end of the test window) is due. Per run, ONE SQL query measures every variant
(GROUP BY variant); then, in one transaction, a conditional UPDATE moves the run TESTING →
SENDING with `winner_variant` and `winner_details`, and one UPDATE gives the rest the winner
and `release_at = now`, which the engine's release job turns into send batches. Run twice, the
second call finds the run no longer TESTING and changes nothing.

Metrics (rates are metric / sent, both counted in people, not devices, so a push to all of a
profile's devices is one person reached and one person who clicked):
- "clicks": the profile uploaded a "Notification Clicked" event for this campaign after its
  message was sent; "opens": a "Notification Viewed" event (the same system events CleverTap
  raises for push taps/impressions and for email link clicks/opens, so one rule serves every
  channel; the stats app's click and open tracking records them for SMS and email links).
- "conversions": the profile did the campaign's conversion goal event (content.py's
  {"event", "filters", "window"}), its property filters holding, within the goal's window
  after its message was sent.
Only events up to `now` count, so the decision is reproducible at a given instant.

Decisions where the spec is silent:
- An event names its campaign by its properties: {"campaign_id": "<campaign pk>"} (a number
  or a string), or CleverTap's push keys echoed back by the SDKs: {"wzrk_id": "<pk>_<suffix>"}.
  If it also names a variant ("variant", or "wzrk_pivot"), it must be the variant this
  profile was sent — a click on an earlier run's other variant of a recurring campaign does
  not count for this one. Conversion goal events need not name the campaign (a purchase
  doesn't).
- Ties (including all zeros and variants with nothing sent) go to the lowest key: "A" is the
  campaign's first, default message.
- A "conversions" test whose goal was removed after scheduling falls back to clicks; the
  details say which metric decided.
- If the campaign was stopped meanwhile, the winner is still recorded (the numbers are worth
  keeping) but the rest is skipped as "stopped" and the run ends STOPPED: nothing leaves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.campaigns.models import Campaign, CampaignStatus
from apps.segments.compiler import json_property_sql  # the segments format's semantics

from .models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason

CLICK_EVENT = "Notification Clicked"
VIEW_EVENT = "Notification Viewed"
METRIC_EVENTS = {"clicks": CLICK_EVENT, "opens": VIEW_EVENT}
METRIC_LABELS = {"clicks": "Clicks", "opens": "Opens", "conversions": "Conversions"}
_GOAL_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([DH])$")
_CAMPAIGN_STOPPED = (CampaignStatus.STOPPED, CampaignStatus.ARCHIVED)


@dataclass(frozen=True)
class VariantResult:
    variant: str
    sent: int
    metric: int

    @property
    def rate(self) -> Fraction:
        return Fraction(self.metric, self.sent) if self.sent else Fraction(0)


def _goal_window(goal: dict) -> timedelta | None:
    match = _GOAL_WINDOW.match(str(goal.get("window") or ""))
    if match is None:
        return None
    amount = int(match[1])
    return timedelta(days=amount) if match[2] == "D" else timedelta(hours=amount)


def deciding_metric(campaign: Campaign) -> str:
    """The metric that decides this campaign's test: its A/B "metric", clicks by default, and
    clicks when "conversions" has no usable goal left."""
    ab = (campaign.content or {}).get("ab") or {}
    metric = ab.get("metric") if ab.get("metric") in METRIC_LABELS else "clicks"
    if metric == "conversions":
        goal = campaign.conversion_goal
        if not (isinstance(goal, dict) and goal.get("event") and _goal_window(goal)):
            return "clicks"
    return metric


def variant_keys(campaign: Campaign) -> list[str]:
    variants = (campaign.content or {}).get("variants") or []
    return [str(v["key"]) for v in variants if isinstance(v, dict) and v.get("key")] or ["A"]


def _metric_condition(campaign: Campaign, metric: str, now: datetime) -> tuple[str, list[Any]]:
    """EXISTS over the profile's events (the (profile_id, name, ts) index) meaning "this sent
    row counts for the metric"; correlated on the message row `m`."""
    where = ["e.profile_id = m.profile_id", "e.name = %s", "e.ts >= m.sent_at", "e.ts <= %s"]
    if metric == "conversions":
        goal = campaign.conversion_goal
        params: list[Any] = [goal["event"], now]
        where.append("e.ts <= m.sent_at + %s")
        params.append(_goal_window(goal))
        for condition in goal.get("filters") or []:
            sql, condition_params = json_property_sql("e.properties", condition)
            where.append(sql)
            params.extend(condition_params)
    else:
        params = [METRIC_EVENTS[metric], now]
        # The event names this campaign (our key, or CleverTap's wzrk_id "<id>_<suffix>") and,
        # if it names a variant, the one this profile was sent.
        where.append(
            "(e.properties ->> 'campaign_id' = %s "
            "OR split_part(e.properties ->> 'wzrk_id', '_', 1) = %s)"
        )
        params += [str(campaign.pk), str(campaign.pk)]
        where.append(
            "COALESCE(e.properties ->> 'variant', e.properties ->> 'wzrk_pivot', m.variant) "
            "= m.variant"
        )
    return "EXISTS (SELECT 1 FROM audience_event e WHERE " + " AND ".join(where) + ")", params


def measure_variants(
    run: CampaignRun, campaign: Campaign, metric: str, *, now: datetime
) -> dict[str, VariantResult]:
    """Every variant's people sent and people counted by the metric, in ONE query. Only rows
    with a variant are the test share while the run is testing (the rest has none yet)."""
    exists_sql, exists_params = _metric_condition(campaign, metric, now)
    sql = (
        "SELECT m.variant, count(DISTINCT m.profile_id), "
        f"count(DISTINCT m.profile_id) FILTER (WHERE {exists_sql}) "
        "FROM delivery_message m "
        "WHERE m.run_id = %s AND m.status = %s AND m.variant <> '' AND m.sent_at IS NOT NULL "
        "GROUP BY m.variant"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*exists_params, run.pk, MessageStatus.SENT])
        measured = {variant: (sent, hits) for variant, sent, hits in cursor.fetchall()}
    keys = variant_keys(campaign)
    keys += sorted(k for k in measured if k not in keys)  # a key edited away still counts
    return {key: VariantResult(key, *measured.get(key, (0, 0))) for key in keys}


def pick_winner(results: dict[str, VariantResult]) -> str:
    """The highest rate; a tie goes to the lowest key."""
    return min(results.values(), key=lambda r: (-r.rate, r.variant)).variant


def winner_details(
    results: dict[str, VariantResult], metric: str, *, now: datetime
) -> dict[str, Any]:
    return {
        "metric": metric,
        "decided_at": now.isoformat(),
        "variants": {
            key: {"sent": r.sent, "metric": r.metric, "rate": round(float(r.rate), 6)}
            for key, r in results.items()
        },
    }


def decide_winner(run: CampaignRun, *, now: datetime) -> bool:
    """Decide one run's test. False when another worker (or an earlier call) already did."""
    campaign = Campaign.objects.get(pk=run.campaign_id)
    metric = deciding_metric(campaign)
    results = measure_variants(run, campaign, metric, now=now)
    winner = pick_winner(results)
    stopped = campaign.status in _CAMPAIGN_STOPPED
    rest = Message.objects.filter(run=run, status=MessageStatus.WAITING, variant="")
    with transaction.atomic():
        # The run's status is the lock: only the call that moves it out of TESTING goes on,
        # and the rest's update commits with it (a crash between them cannot strand it).
        decided = CampaignRun.objects.filter(pk=run.pk, status=RunStatus.TESTING).update(
            status=RunStatus.STOPPED if stopped else RunStatus.SENDING,
            winner_variant=winner,
            winner_details=winner_details(results, metric, now=now),
            **({"finished_at": now} if stopped else {}),
        )
        if not decided:
            return False
        if stopped:
            rest.update(
                status=MessageStatus.SKIPPED,
                reason=SkipReason.STOPPED,
                variant=winner,
                release_at=None,
            )
        else:
            rest.update(variant=winner, release_at=now)
    return True


def due_runs(now: datetime):
    """TESTING runs whose waiting rest is due (the test window has passed)."""
    rest_due = Message.objects.filter(
        run=OuterRef("pk"), status=MessageStatus.WAITING, variant="", release_at__lte=now
    )
    return CampaignRun.objects.filter(status=RunStatus.TESTING).filter(Exists(rest_due))


def choose_winners(now: datetime | None = None) -> int:
    """Beat's job: decide every due A/B test. Returns how many runs it decided."""
    now = now or timezone.now()
    return sum(decide_winner(run, now=now) for run in due_runs(now).order_by("pk"))
