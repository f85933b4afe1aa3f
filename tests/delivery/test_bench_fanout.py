"""bench/fanout.py end to end on small runs: its own seed, two real Celery workers, the
real sandbox and its exactly-once check, each platform through its own provider, then the
bare aiohttp baseline. No speed is asserted (the machine is shared)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db.models import Count

from apps.audience.models import Device
from apps.delivery.models import Message, MessageStatus
from tests.database import url_of_test_database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "snapshot_s",
    "messages_per_s",
    "peak_rss_mb",
    "lost",
    "duplicates",
    "by_platform",
    "baseline_messages_per_s",
    "ratio",
}


def _bench(*options: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    command = [
        *(sys.executable, "bench/fanout.py", "--profiles", "300", "--batch-size", "50"),
        *("--database-url", url_of_test_database(), "--settings", "config.settings.test"),
        *("--redis-url", os.environ["REDIS_URL"]),
        *("--timeout", "180", *options),
    ]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _report(finished: subprocess.CompletedProcess) -> dict:
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_bench_fanout_sends_one_push_per_profile_through_celery_workers(transactional_db):
    report = _report(_bench())

    assert report.keys() >= KEYS
    assert report["platforms"] == "android=100"
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["recipients"] == 300
    assert report["sent"] == 300
    assert report["sandbox_recorded"] == 300
    assert report["unexpected_recorded"] == 0
    assert report["batches"] == 6  # 300 rows in send batches of 50
    assert report["messages_per_s"] > 0
    assert report["peak_rss_mb"] > 0
    assert report["by_platform"] == {
        "android": {
            "devices": 300,
            "sent": 300,
            "recorded": 300,
            "provider_kind": "fcm",
            "provider_label": "bench-fcm",
            "done_after_s": report["by_platform"]["android"]["done_after_s"],
        }
    }
    # The baseline sent as many bare FCM requests, each recorded once.
    assert report["baseline_recorded"] == 300
    assert report["baseline_duplicates"] == 0
    assert report["baseline_answers"] == {"200": 300}
    assert report["baseline_messages_per_s"] > 0
    assert report["ratio"] > 0
    # The bench's rows are really there: one SENT push per seeded device.
    sent = Message.objects.filter(status=MessageStatus.SENT)
    assert sent.count() == 300
    assert sent.values("device_id").distinct().count() == 300


def test_bench_fanout_sends_each_platform_through_its_own_provider(transactional_db):
    report = _report(_bench("--platforms", "android=70,ios=25,web=5"))

    assert report.keys() >= KEYS
    assert report["platforms"] == "android=70,ios=25,web=5"
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["unexpected_recorded"] == 0
    assert report["sent"] == report["sandbox_recorded"] == 300
    by_platform = {
        platform: (row["devices"], row["sent"], row["recorded"], row["provider_kind"])
        for platform, row in report["by_platform"].items()
    }
    assert by_platform == {
        "android": (210, 210, 210, "fcm"),
        "ios": (75, 75, 75, "apns"),
        "web": (15, 15, 15, "webpush"),
    }
    assert report["web_endpoints_updated"] == 15
    assert report["baseline_recorded"] == 300
    assert report["baseline_messages_per_s"] > 0
    assert isinstance(report["ratio"], float)
    # The seed: one device per profile by the mix, each holding its platform's address.
    per_platform = Device.objects.values_list("platform").annotate(n=Count("id")).order_by()
    assert dict(per_platform) == {"android": 210, "ios": 75, "web": 15}
    devices = Device.objects.order_by("profile_id")
    ios = devices.filter(platform="ios").first()
    assert len(ios.push_token) == 64 and int(ios.push_token, 16)
    web = devices.filter(platform="web").first()
    assert web.push_token.endswith(f"/p/bench-webpush/wp/bench-web-{web.profile_id}")
    assert set(web.push_keys) == {"p256dh", "auth"}
    sent = Message.objects.filter(status=MessageStatus.SENT)
    assert sent.values("device_id").distinct().count() == 300
