"""Reach estimates: how many profiles a definition qualifies and how many each channel reaches.

One SQL statement per estimate: COUNT(*) FILTER (...) aggregates over the compiled queryset,
run with JIT off and cheaper parallel costs (REACH_SETTINGS).

Push reach by platform reads the profile's push_android / push_ios / push_web flags, which
PostgreSQL triggers on audience_device keep (audience migration 0009), and which
profile_reach_idx carries (0010). It used to be a LATERAL probe of each matching profile's
devices, which PostgreSQL 15 cannot run in parallel workers (a subquery with an outer
reference is parallel-restricted): ~300 ms of the recency estimate's ~530 ms on the
1M-profile bench (107k matches). Alternatives measured then (warm, ms, recency / profile-only):
LATERAL 425-600 / 42-63; a hash join to all push devices grouped by profile 1,100 / 380;
a MATERIALIZED CTE of the matches semi-joined to devices 550-680 / 44; a LEFT JOIN of devices
with count(DISTINCT) 440-550 / 54; a LEFT JOIN grouped by profile 550-900 / 68-75.

Results are cached in Django's cache (Redis) under a sha256 of the normalised definition's
canonical JSON for ESTIMATE_TTL_SECONDS, so the builder's debounced re-estimates of an
unchanged definition cost no SQL at all. The key does not include the clock or the account
timezone: a cached figure may lag a moving "last N days" window or a timezone change by up to
the TTL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.audience.models import Profile
from apps.segments.compiler import profiles_matching
from apps.segments.definitions import definition_validate

# Ten minutes: long enough that a marketer's edits back and forth hit the cache, short enough
# that a reach figure is never much older than the data behind it ("in the last N days"
# windows move with the clock, and new events arrive all the time).
ESTIMATE_TTL_SECONDS = 600
CACHE_PREFIX = "segments:estimate:v1:"


@dataclasses.dataclass(frozen=True)
class ReachEstimate:
    total: int
    push_android: int
    push_ios: int
    push_web: int
    push: int  # distinct profiles reachable by any push platform
    sms: int
    email: int
    computed_at: dt.datetime

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["computed_at"] = self.computed_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ReachEstimate:
        values = dict(data)
        values["computed_at"] = dt.datetime.fromisoformat(values["computed_at"])
        return cls(**values)


def definition_cache_key(definition: dict) -> str:
    """Cache key of a NORMALISED definition: sha256 of its canonical JSON."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return CACHE_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


REACH_SQL = """
SELECT
    count(*),
    count(*) FILTER (WHERE m.push_android AND NOT m.push_opt_out),
    count(*) FILTER (WHERE m.push_ios AND NOT m.push_opt_out),
    count(*) FILTER (WHERE m.push_web AND NOT m.push_opt_out),
    count(*) FILTER (WHERE (m.push_android OR m.push_ios OR m.push_web) AND NOT m.push_opt_out),
    count(*) FILTER (WHERE m.phone <> '' AND NOT m.sms_unsubscribed),
    count(*) FILTER (WHERE m.email <> '' AND NOT m.email_unsubscribed)
FROM ({matching}) AS m
"""
# Run per estimate transaction (SET LOCAL). jit: see reach_counts. The parallel costs: for a
# recency segment (107k of 1M profiles) the default costs keep the plan serial or flip it from
# one ANALYZE to the next, while the parallel plan (events and profiles scanned by two
# workers) measured 405-590 ms warm against 645-690 ms serial on the bench; the others stay
# within noise (profile-only 45-63 ms either way).
REACH_SETTINGS = (
    "SET LOCAL jit = off",
    "SET LOCAL parallel_setup_cost = 100",
    "SET LOCAL parallel_tuple_cost = 0.01",
)
REACH_FIELDS = ("total", "push_android", "push_ios", "push_web", "push", "sms", "email")


def reach_counts(profiles: QuerySet[Profile]) -> dict[str, int]:
    """Total and per-channel reachable counts of a profile queryset, in one SQL statement."""
    matching = profiles.order_by().values(
        "id",
        "phone",
        "email",
        "sms_unsubscribed",
        "email_unsubscribed",
        "push_opt_out",
        "push_android",
        "push_ios",
        "push_web",
    )
    sql, params = matching.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner's cost for per-profile EXISTS subplans is far above jit_above_cost, and
        # JIT-compiling such a query costs 100-300 ms on this machine, more than most of
        # these queries take to run: switch it off for this transaction only.
        for setting in REACH_SETTINGS:
            cursor.execute(setting)
        cursor.execute(REACH_SQL.format(matching=sql), params)
        row = cursor.fetchone()
    return dict(zip(REACH_FIELDS, row, strict=True))


def segment_estimate(*, definition: dict, use_cache: bool = True) -> ReachEstimate:
    """Reach of a definition (raw or normalised; DefinitionError when invalid).

    With use_cache, a definition estimated in the last ESTIMATE_TTL_SECONDS is answered from the
    cache without touching the database. use_cache=False always computes (and refreshes the
    cache), e.g. for the detail page's Refresh button and the bench."""
    normalised = definition_validate(definition)
    if use_cache and (cached := estimate_cached(normalised)) is not None:
        return cached
    counts = reach_counts(profiles_matching(normalised))
    estimate = ReachEstimate(computed_at=timezone.now(), **counts)
    cache.set(definition_cache_key(normalised), estimate.as_dict(), ESTIMATE_TTL_SECONDS)
    return estimate


def estimate_cached(definition: dict) -> ReachEstimate | None:
    """The estimate of a NORMALISED definition made in the last ESTIMATE_TTL_SECONDS, if any
    (no SQL)."""
    cached = cache.get(definition_cache_key(definition))
    return None if cached is None else ReachEstimate.from_dict(cached)


def segment_sample(*, definition: dict, limit: int = 10) -> list[Profile]:
    """A few matching profiles for the builder's preview (most recently seen first)."""
    normalised = definition_validate(definition)
    return list(
        profiles_matching(normalised)
        .order_by("-last_seen", "-id")
        .only("id", "identity", "name", "email", "phone", "city", "country", "last_seen")[:limit]
    )
