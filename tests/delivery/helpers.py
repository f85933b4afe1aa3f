"""Waiting and looking helpers shared by the delivery tests (test data is in factories.py)."""

import time

import redis
from django.conf import settings

from apps.delivery.models import Message, MessageStatus


def queued_ids(run) -> list[int]:
    """The ids of the run's QUEUED rows, in id order (what a batch is given)."""
    return list(
        Message.objects.filter(run=run, status=MessageStatus.QUEUED)
        .order_by("id")
        .values_list("id", flat=True)
    )


def wait_for(predicate, *, timeout: float = 60, what: str = "the condition"):
    """`predicate()`'s first truthy value, polled every 0.1 s; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def queue_length(name: str) -> int:
    """Messages waiting in the broker's queue `name`."""
    return redis.Redis.from_url(settings.REDIS_URL).llen(name)
