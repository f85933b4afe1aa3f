"""A run's bookkeeping in the cache (Redis): when a batch last made progress, and how many of
its batches are in flight. Kept a week, far longer than any run sends. Losing it costs a
check, never a message: a missing batch count makes the next batch check whether the run is
finished, a missing progress time falls back to the run's start."""

from __future__ import annotations

from datetime import datetime

from django.core.cache import cache

PROGRESS_KEY_PREFIX = "delivery:run-progress:"
BATCHES_KEY_PREFIX = "delivery:run-batches:"
RUN_BOOKKEEPING_TTL_S = 7 * 24 * 3600


def _progress_key(run_id: int) -> str:
    return f"{PROGRESS_KEY_PREFIX}{run_id}"


def _batches_key(run_id: int) -> str:
    return f"{BATCHES_KEY_PREFIX}{run_id}"


def note_progress(run_id: int, now: datetime) -> None:
    cache.set(_progress_key(run_id), now.timestamp(), timeout=RUN_BOOKKEEPING_TTL_S)


def last_progress(run_id: int) -> float | None:
    """When a batch of the run last made progress (a timestamp); None when not known."""
    last = cache.get(_progress_key(run_id))
    return None if last is None else float(last)


def batches_published(run_id: int, count: int) -> None:
    """Count a run's batches in flight (Redis, atomic): a batch that brings the count to zero
    is the run's last and checks whether the run is finished."""
    key = _batches_key(run_id)
    cache.add(key, 0, timeout=RUN_BOOKKEEPING_TTL_S)
    cache.incr(key, count)


def batch_was_last(run_id: int) -> bool:
    """One batch of the run is done; True when no other is known to be in flight (the count
    reached zero, or it is gone: a batch run twice or a lost cache only costs a check)."""
    try:
        return cache.decr(_batches_key(run_id)) <= 0
    except ValueError:
        return True


def run_bookkeeping_forget() -> int:
    """Delete every run's progress time and batch count from the cache (Redis): for a
    database that starts over — a test database, a restore — whose new runs would reuse the
    ids of the old entries. Returns how many keys went."""
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is None:
        return 0
    client = client_of(None, write=True)
    deleted = 0
    for prefix in (PROGRESS_KEY_PREFIX, BATCHES_KEY_PREFIX):
        keys = list(client.scan_iter(match=cache.make_key(prefix) + "*", count=1000))
        if keys:
            deleted += client.delete(*keys)
    return deleted
