"""Celery tasks of the delivery engine: thin wrappers over plain functions (runs.py,
release.py, batch.py and the other delivery modules), which the tests call directly with an
explicit `now`.

Every task is safe to run twice (acks_late + reject_on_worker_lost redeliver after a crash):
see batch.py's docstring. None of them waits with a countdown or an ETA."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.utils import timezone

from . import batch, live, release, runs, winner


def _routed(queue: str) -> type[Task]:
    """A task base whose default queue is `queue` (the `queue` task attribute is deprecated
    in Celery 5; an explicit apply_async(queue=…) still wins)."""

    class Routed(Task):
        def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any):
            options.setdefault("queue", queue)
            return super().apply_async(args, kwargs, **options)

    Routed.__name__ = f"RoutedTo{queue.title()}"
    return Routed


DEFAULT, BULK, TRIGGERS = _routed("default"), _routed("bulk"), _routed("triggers")


@shared_task(name="delivery.tick", base=DEFAULT)
def tick() -> int:
    """Beat, every 10 s: start due occurrences."""
    return runs.tick()


@shared_task(name="delivery.release_due", base=DEFAULT)
def release_due() -> int:
    """Beat, every 5 s: waiting rows whose time came (and expired send claims) → queued."""
    return release.release_due()


@shared_task(name="delivery.run_campaign", base=BULK)
def run_campaign(run_id: int) -> int:
    """A run: snapshot, then its send batches."""
    return runs.run_start_and_fan_out(run_id)


@shared_task(name="delivery.send_batch", base=BULK)
def send_batch(run_id: int, message_ids: list[int]) -> dict:
    report = batch.send_batch(run_id, message_ids)
    return {"claimed": report.claimed, **report.counts}


@shared_task(name="delivery.choose_winners", base=DEFAULT)
def choose_winners() -> int:
    """Beat, every 30 s: A/B runs whose test window passed get their winner."""
    return winner.choose_winners(timezone.now())


@shared_task(name="delivery.live_date_due", base=TRIGGERS)
def live_date_due() -> int:
    """Beat, every 15 min: "on a date/time" live campaigns (idempotent per day)."""
    return live.live_date_due(timezone.now())


@shared_task(name="delivery.live_events_stored", base=TRIGGERS)
def live_events_stored(event_ids: list[int]) -> None:
    """Called by the Upload API's ingest after commit: match stored events to live
    campaigns."""
    live.events_stored(event_ids)
