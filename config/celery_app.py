"""The Celery app. Queues are separated by urgency (ARCHITECTURE.md): `notify` never waits
behind bulk fan-out, `triggers` serves live campaigns, `bulk` scheduled fan-out and
`default` imports and rollups."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("herald")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue has its own exchange and routing key: a bare Queue(name) would bind every queue
# to the "default" exchange with the same key, and one message would reach all four.
QUEUE_NAMES = ("notify", "triggers", "bulk", "default")
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in QUEUE_NAMES]
# Beat: every job that waits or polls lives in the database and is picked up here (never a
# Celery countdown). Each entry is idempotent, so two beats or a missed tick are harmless.
app.conf.beat_schedule = {
    "delivery-tick": {
        "task": "delivery.tick",
        "schedule": 10.0,
        "options": {"queue": "default", "expires": 10},
    },
    "delivery-release-due": {
        "task": "delivery.release_due",
        "schedule": 5.0,
        "options": {"queue": "default", "expires": 5},
    },
    "delivery-choose-winners": {
        "task": "delivery.choose_winners",
        "schedule": 30.0,
        "options": {"queue": "default", "expires": 30},
    },
    "delivery-live-date-due": {
        "task": "delivery.live_date_due",
        "schedule": 15 * 60.0,
        "options": {"queue": "triggers", "expires": 15 * 60},
    },
}
app.autodiscover_tasks()
