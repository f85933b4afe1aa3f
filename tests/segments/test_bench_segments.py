"""bench/segments.py end to end on a tiny audience: it seeds the test database through
seed_demo, times the five reference definitions and reports counts that agree with
segment_estimate. No speed is asserted — only the shape of the report and its counts."""

import importlib.util
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from apps.audience.models import Event, Profile
from apps.segments.compiler import profiles_matching
from apps.segments.estimates import segment_estimate
from tests.database import url_of_test_database

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "segments.py"

# The subprocess writes committed rows that this test must see, and seed_demo --reset
# truncates the audience tables: no test transaction may hold them.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_segments", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_bench(*arguments: str) -> dict:
    completed = subprocess.run(
        [sys.executable, str(BENCH), *arguments],
        cwd=ROOT,
        env={**os.environ, "HERALD_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_bench_reports_every_reference_definition_with_counts_equal_to_segment_estimate():
    report = _run_bench(
        "--profiles", "300", "--runs", "1", "--reseed", "--cold", "connection",
        "--database-url", url_of_test_database(), "--redis-url", os.environ["REDIS_URL"],
    )  # fmt: skip

    # The bench seeded this database: 300 profiles, about ten events each.
    assert Profile.objects.count() == 300
    assert 1500 <= Event.objects.count() <= 6000
    assert report["profiles"] == 300

    bench = _bench_module()
    assert set(report["definitions"]) == set(bench.DEFINITIONS) == {
        "profile_only", "recent_big_spenders", "abandoned_cart", "radius_language", "mix",
    }  # fmt: skip
    for name, figures in report["definitions"].items():
        assert set(figures) == {"count", "cold_ms", "warm_ms"}, name
        assert isinstance(figures["cold_ms"], float) and figures["cold_ms"] > 0, name
        assert isinstance(figures["warm_ms"], float) and figures["warm_ms"] > 0, name
        expected = segment_estimate(definition=bench.DEFINITIONS[name], use_cache=False).total
        if figures["count"] != expected:
            # "In the last N days" moves with the clock: an event may have crossed a window's
            # edge since the bench counted. Then the count must be the one at its clock.
            counted_at = datetime.fromisoformat(report["counted_at"][name])
            expected = profiles_matching(bench.DEFINITIONS[name], now=counted_at).count()
        assert figures["count"] == expected, name
    # The tiny audience still has people in some of the segments, so equal counts mean
    # something.
    assert any(figures["count"] > 0 for figures in report["definitions"].values())
    assert report["cached_ms"] is None or report["cached_ms"] > 0
    assert report["cold"]["method"] == "connection"


def test_bench_reuses_its_seed_when_the_database_already_holds_it():
    url = url_of_test_database()
    _run_bench(
        "--profiles", "120", "--runs", "1", "--reseed", "--cold", "connection",
        "--database-url", url, "--redis-url", os.environ["REDIS_URL"], "--only", "profile_only",
    )  # fmt: skip
    marker_profile = Profile.objects.order_by("id").first()
    Profile.objects.filter(pk=marker_profile.pk).update(name="Kept Between Runs")

    report = _run_bench(
        "--profiles", "120", "--runs", "1", "--cold", "connection",
        "--database-url", url, "--redis-url", os.environ["REDIS_URL"], "--only", "profile_only",
    )  # fmt: skip

    assert Profile.objects.count() == 120
    assert Profile.objects.get(pk=marker_profile.pk).name == "Kept Between Runs"
    assert set(report["definitions"]) == {"profile_only"}
