"""bench/providers.py end to end on a small run: the real group path, the real sandbox, and
its exactly-once check. No speed is asserted (the machine is shared)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.database import url_of_test_database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_bench_providers_sends_each_message_once_and_fails_over_to_the_second_provider(
    transactional_db,
):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url_of_test_database(),
        "REDIS_URL": os.environ["REDIS_URL"],
    }
    env.pop("HERALD_PROVIDER_HTTP_CLIENT", None)
    command = [sys.executable, "bench/providers.py", "--messages", "300"]
    command += ["--batch-size", "50", "--processes", "2", "--concurrency", "2"]

    finished = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["messages"] == 300
    assert report["lost"] == 0
    assert report["duplicates"] == 0
    assert report["unexpected_recorded"] == 0
    by_provider = report["by_provider"]
    assert sum(by_provider.values()) == 300
    first, second = by_provider["Bench Twilio A"], by_provider["Bench Twilio B"]
    # 30% of the first provider's answers are 5xx, so both carry a share.
    assert first > 0
    assert second > 0
    # The second provider never fails: each message it took had failed at the first one,
    # or skipped it while its circuit was open; every failed request was at the first.
    assert report["retryable_first_provider"] <= second
    assert report["http_requests"] == 300 + report["retryable_first_provider"]
    assert report["client"] == "aiohttp"
    assert report["messages_per_s"] > 0
