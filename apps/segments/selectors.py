"""Reads for the segment pages."""

from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet

from apps.audience.models import Event

from .definitions import definition_validate
from .estimates import ESTIMATE_TTL_SECONDS, definition_cache_key, segment_sample
from .models import Segment

EVENT_NAMES_CACHE_KEY = "segments:event-names:v1"
# The datalist only suggests names; a new event type showing up five minutes late is fine.
EVENT_NAMES_TTL_SECONDS = 300
EVENT_NAMES_LIMIT = 500


def segment_list(*, q: str = "") -> QuerySet[Segment]:
    # created_by in the same query: the list shows who made each segment (no N+1).
    segments = Segment.objects.select_related("created_by")
    if q.strip():
        segments = segments.filter(name__icontains=q.strip())
    return segments.order_by("-updated_at", "-id")


def segment_exists() -> bool:
    return Segment.objects.exists()


def event_names() -> list[str]:
    """Known event names for the builder's datalist, cached in Redis.

    A loose index scan over event_name_ts_idx (name, ts): one index probe per distinct name,
    so ten million events with forty names cost forty probes, not a scan."""
    names = cache.get(EVENT_NAMES_CACHE_KEY)
    if names is not None:
        return names
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE names(name) AS (
                (SELECT name FROM {table} ORDER BY name LIMIT 1)
                UNION ALL
                SELECT (SELECT e.name FROM {table} e WHERE e.name > n.name
                        ORDER BY e.name LIMIT 1)
                FROM names n WHERE n.name IS NOT NULL
            )
            SELECT name FROM names WHERE name IS NOT NULL LIMIT %s
            """,
            [EVENT_NAMES_LIMIT],
        )
        names = [row[0] for row in cursor.fetchall()]
    cache.set(EVENT_NAMES_CACHE_KEY, names, EVENT_NAMES_TTL_SECONDS)
    return names


def segment_sample_cached(*, definition: dict, limit: int = 10) -> list[dict]:
    """A few matching profiles ({pk, label, country}) for the previews, cached beside the
    estimate (same key, same TTL) so a repeated definition costs the builder no query."""
    normalised = definition_validate(definition)
    key = f"{definition_cache_key(normalised)}:sample:{limit}"
    sample = cache.get(key)
    if sample is None:
        sample = [
            {"pk": profile.pk, "label": str(profile), "country": profile.country}
            for profile in segment_sample(definition=normalised, limit=limit)
        ]
        cache.set(key, sample, ESTIMATE_TTL_SECONDS)
    return sample
