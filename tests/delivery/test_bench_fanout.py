"""bench/fanout.py end to end on a small run: its own seed, two real Celery workers, the
real sandbox and its exactly-once check. No speed is asserted (the machine is shared)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.delivery.models import Message, MessageStatus
from tests.database import url_of_test_database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"snapshot_s", "messages_per_s", "peak_rss_mb", "lost", "duplicates"}


def test_bench_fanout_sends_one_push_per_profile_through_celery_workers(transactional_db):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    command = [
        *(sys.executable, "bench/fanout.py", "--profiles", "300", "--batch-size", "50"),
        *("--database-url", url_of_test_database(), "--settings", "config.settings.test"),
        *("--redis-url", os.environ["REDIS_URL"]),
        *("--timeout", "180"),
    ]

    finished = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report.keys() >= KEYS
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["recipients"] == 300
    assert report["sent"] == 300
    assert report["sandbox_recorded"] == 300
    assert report["unexpected_recorded"] == 0
    assert report["batches"] == 6  # 300 rows in send batches of 50
    assert report["messages_per_s"] > 0
    assert report["peak_rss_mb"] > 0
    # The bench's rows are really there: one SENT push per seeded device.
    sent = Message.objects.filter(status=MessageStatus.SENT)
    assert sent.count() == 300
    assert sent.values("device_id").distinct().count() == 300
