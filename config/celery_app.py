"""The Celery app. Queues are separated by urgency (ARCHITECTURE.md): `notify` never waits
behind bulk fan-out, `triggers` serves live campaigns, `bulk` scheduled fan-out and
`default` imports and rollups."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("herald")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("notify", "triggers", "bulk", "default")]
app.conf.beat_schedule = {}
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders to exist before anyone publishes."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)
