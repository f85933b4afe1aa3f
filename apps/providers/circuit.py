"""A circuit breaker per provider, kept in the shared cache (Redis in tests and production),
so every worker process skips a provider that keeps failing.

closed    → requests flow; consecutive retryable failures are counted.
open      → after `HERALD_CIRCUIT_FAILURE_THRESHOLD` consecutive retryable failures the
            provider is skipped for `HERALD_CIRCUIT_COOLDOWN_S` seconds.
half-open → once the cool-down has passed one caller at a time gets a probe through (an
            atomic add on the probe key); an accepted probe closes the circuit, a failed one
            opens it for another cool-down.
A permanent failure (bad number) says nothing about the provider's health and is ignored."""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

from apps.providers.adapters.base import SendResult, SendStatus

# How long a forgotten counter or open mark may linger (keys must not live forever).
_STATE_TTL_S = 3600


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def _threshold() -> int:
    return int(settings.HERALD_CIRCUIT_FAILURE_THRESHOLD)


def _cooldown_s() -> float:
    return float(settings.HERALD_CIRCUIT_COOLDOWN_S)


def _keys(provider_id: int) -> tuple[str, str, str]:
    base = f"provider-circuit:{provider_id}"
    return f"{base}:failures", f"{base}:opened_at", f"{base}:probe"


def circuit_state(*, provider_id: int) -> CircuitState:
    _, opened_key, _ = _keys(provider_id)
    opened_at = cache.get(opened_key)
    if opened_at is None:
        return CircuitState.CLOSED
    if time.time() < opened_at + _cooldown_s():
        return CircuitState.OPEN
    return CircuitState.HALF_OPEN


def circuit_states(*, provider_ids: Iterable[int]) -> dict[int, CircuitState]:
    """One cache round trip for a page of providers."""
    ids = list(provider_ids)
    opened = cache.get_many([_keys(pk)[1] for pk in ids])
    now, cooldown = time.time(), _cooldown_s()
    states = {}
    for pk in ids:
        opened_at = opened.get(_keys(pk)[1])
        if opened_at is None:
            states[pk] = CircuitState.CLOSED
        elif now < opened_at + cooldown:
            states[pk] = CircuitState.OPEN
        else:
            states[pk] = CircuitState.HALF_OPEN
    return states


def circuit_acquire(*, provider_id: int) -> CircuitState | None:
    """May a send go to this provider now? CLOSED: yes; HALF_OPEN: yes, as the one probe
    (send a single message); None: no, skip it."""
    state = circuit_state(provider_id=provider_id)
    if state is CircuitState.CLOSED:
        return state
    if state is CircuitState.HALF_OPEN:
        _, _, probe_key = _keys(provider_id)
        # The probe key expires after a cool-down, so a crashed prober cannot wedge it.
        if cache.add(probe_key, 1, timeout=max(1, int(_cooldown_s()))):
            return state
    return None


def circuit_record(*, provider_id: int, results: list[SendResult]) -> None:
    """Feed the results of one adapter call (in send order) into the breaker."""
    failures_key, opened_key, probe_key = _keys(provider_id)
    trailing_failures = 0
    any_accepted = False
    for result in results:
        if result.status is SendStatus.ACCEPTED:
            any_accepted = True
            trailing_failures = 0
        elif result.status is SendStatus.RETRYABLE:
            trailing_failures += 1
    if any_accepted:
        # An accepted message closes the circuit. Deleting keys that may not exist costs
        # the same one round trip as asking first, and this runs once per batch call.
        if trailing_failures:
            cache.set(failures_key, trailing_failures, timeout=_STATE_TTL_S)
            cache.delete_many([opened_key, probe_key])
        else:
            cache.delete_many([failures_key, opened_key, probe_key])
        if trailing_failures < _threshold():
            return
        count = trailing_failures
    elif trailing_failures:
        cache.add(failures_key, 0, timeout=_STATE_TTL_S)
        try:
            count = cache.incr(failures_key, trailing_failures)
        except ValueError:  # expired between add and incr
            cache.set(failures_key, trailing_failures, timeout=_STATE_TTL_S)
            count = trailing_failures
    else:
        return
    if count >= _threshold() or circuit_state(provider_id=provider_id) is CircuitState.HALF_OPEN:
        # Open (or re-open after a failed probe) and start counting afresh.
        cache.set(opened_key, time.time(), timeout=_STATE_TTL_S)
        cache.delete_many([failures_key, probe_key])
