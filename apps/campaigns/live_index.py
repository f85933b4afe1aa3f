"""The version of the live-campaign index. Every process that matches events against live
campaigns (delivery.live) keeps an index of them and rebuilds it when this version moves; any
write that may change which live campaign listens to which event bumps it. The campaign domain
owns the number because its writes are what change it."""

import time
from typing import Any

from django.core.cache import cache

INDEX_VERSION_KEY = "delivery:live-index:version"


def live_index_bump() -> None:
    """Tell every process its index is stale (any live campaign may have changed)."""
    if cache.add(INDEX_VERSION_KEY, _fresh_version(), timeout=None):
        return
    try:
        cache.incr(INDEX_VERSION_KEY)
    except ValueError:  # evicted between add and incr
        cache.set(INDEX_VERSION_KEY, _fresh_version(), timeout=None)


def live_index_version() -> Any:
    version = cache.get(INDEX_VERSION_KEY)
    if version is None:
        cache.add(INDEX_VERSION_KEY, _fresh_version(), timeout=None)
        version = cache.get(INDEX_VERSION_KEY)
    return version


def _fresh_version() -> int:
    # Never a small number a process may still hold from before the key was lost.
    return time.time_ns()
