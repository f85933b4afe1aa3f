"""Segment benchmark: how fast a reach estimate answers on a big audience.

    .venv/bin/python bench/segments.py --profiles 1000000      (what `make bench-segments` runs)

1. Makes sure the database (default `herald_bench_segments` on 127.0.0.1:5432) exists and is
   migrated, and seeds it with `seed_demo --profiles N --events-per-profile 10 --seed 1`
   (about ten events per profile) — ONCE: a marker on the database records what was seeded
   and when, and a later run with the same size reuses the data (pass --reseed to force a
   fresh seed; the seed is also redone when it is older than --max-seed-age-days, since "in
   the last 30 days" drifts as the seeded history ages).
2. Times `segment_estimate(definition=..., use_cache=False)` for five reference definitions:
   - cold: before each run the Django connection is closed (the next one is a new PostgreSQL
     backend with empty catalog and plan caches, on which `DISCARD ALL` is also issued),
     and — when the container allows it (`--cold auto`, the default) — the kernel's page
     cache is dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`), so table and index pages
     come from disk. PostgreSQL's own shared_buffers are NOT emptied: that needs a server
     restart, which would break the other users of this shared server; how much of the
     bench database sat in shared_buffers at each cold start is reported (pg_buffercache).
   - warm: right after, one untimed run, then the timed runs (PostgreSQL's caches warm,
     Herald's estimate cache bypassed).
   Each figure is the median of --runs runs (default 5).
3. cached_ms: the builder's estimate endpoint (`segments:estimate`, POST with the form field
   `definition` as JSON) through Django's test Client in-process, logged in as a marketer:
   one request fills Herald's cache, then the median of --runs repeated requests per
   definition (all definitions pooled).
4. With --explain: EXPLAIN (ANALYZE, BUFFERS) of every SQL statement an estimate runs; the
   key lines (plan nodes, index conditions, timings) go to stderr and the full plans to
   var/bench-segments-explain.txt.

Progress goes to stderr; the LAST line on stdout is one JSON object:
{"definitions": {name: {"count", "cold_ms", "warm_ms"}}, "cached_ms", ...context}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import (  # noqa: E402  (needs ROOT on the path)
    database_ensure,
    seed_marker_read,
    seed_marker_write,
)
from bench.sandbox_process import log  # noqa: E402

PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/herald_bench_segments"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
EVENTS_PER_PROFILE = 10
SEED = 1
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
EXPLAIN_FILE = ROOT / "var" / "bench-segments-explain.txt"

# The five reference definitions of issue 5, in the segment definition format v1. They are
# what a marketer of the demo shop would build, not shapes picked to suit an index.
DEFINITIONS: dict[str, dict] = {
    # Profile-only: premium-plan customers in Germany (a built-in column and a custom
    # property), about 0.4% of the audience.
    "profile_only": {
        "version": 1,
        "kind": "past",
        "profile": [
            {"name": "Country", "operator": "equals", "value": "Germany"},
            {"name": "plan", "operator": "equals", "value": "premium"},
        ],
    },
    # Recency: big spenders of the last month.
    "recent_big_spenders": {
        "version": 1,
        "kind": "past",
        "behaviour": {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "did": True,
                    "event": "Charged",
                    "period": {"type": "last_days", "days": 30},
                    "properties": [{"name": "Amount", "operator": "greater_than", "value": 100}],
                }
            ],
        },
    },
    # Abandoned cart: "did Added To Cart and not Charged within 1 day" — carts of the last
    # week not followed by a purchase within a day, with the `not_followed_by` extension
    # of format v1 (only carts whose day has fully elapsed are judged: a cart younger than a
    # day is not abandoned yet).
    "abandoned_cart": {
        "version": 1,
        "kind": "past",
        "behaviour": {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "did": True,
                    "event": "Added To Cart",
                    "period": {"type": "last_days", "days": 7},
                    "not_followed_by": {"event": "Charged", "within_minutes": 1440},
                }
            ],
        },
    },
    # Geography radius: French speakers within 25 km of Paris or Montreal.
    "radius_language": {
        "version": 1,
        "kind": "past",
        "radius": [
            {"label": "Paris, France", "latitude": 48.8566, "longitude": 2.3522, "radius_km": 25},
            {
                "label": "Montreal, Canada",
                "latitude": 45.5019,
                "longitude": -73.5674,
                "radius_km": 25,
            },
        ],
        "profile": [{"name": "Language", "operator": "equals", "value": "fr"}],
    },
    # A three-condition mix: US shoppers aged 25-40 who bought shoes at least twice in
    # the last 60 days (behaviour with a count and a nested list property, demographics,
    # geography).
    "mix": {
        "version": 1,
        "kind": "past",
        "behaviour": {
            "match": "all",
            "conditions": [
                {
                    "type": "event",
                    "did": True,
                    "event": "Charged",
                    "period": {"type": "last_days", "days": 60},
                    "count": {"min": 2, "max": None},
                    "properties": [
                        {"name": "Items|Category", "operator": "equals", "value": "Shoes"}
                    ],
                }
            ],
        },
        "demographics": {"age": {"min": 25, "max": 40}},
        "geography": {"countries": ["United States"]},
    },
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--reseed", action="store_true", help="seed again even if seeded")
    parser.add_argument("--max-seed-age-days", type=float, default=3)
    parser.add_argument(
        "--cold",
        choices=["auto", "drop-caches", "connection"],
        default="auto",
        help="'drop-caches': also drop the kernel page cache before each cold run; "
        "'connection': only a fresh connection; 'auto': drop-caches when permitted",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS)")
    parser.add_argument(
        "--only", action="append", choices=sorted(DEFINITIONS), help="time only these"
    )
    args = parser.parse_args()
    if args.profiles < 1 or args.runs < 1:
        parser.error("--profiles and --runs must be at least 1")

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "HERALD_LOG_FORMAT": "console",
        "HERALD_LOG_LEVEL": "WARNING",
    }
    cold_method = args.cold
    if cold_method == "auto":
        cold_method = "drop-caches" if _can_drop_caches() else "connection"
    elif cold_method == "drop-caches" and not _can_drop_caches():
        raise SystemExit("--cold drop-caches: /proc/sys/vm/drop_caches is not writable here")

    database_ensure(args.database_url)
    _manage(env, "migrate", "--noinput", "-v", "0")
    seeded = _ensure_seeded(
        env, args.database_url, profiles=args.profiles, reseed=args.reseed,
        max_age_days=args.max_seed_age_days,
    )  # fmt: skip
    # Planner statistics for indexes a migration may just have added (expression indexes
    # carry their own); autovacuum's analyze would do this on a production server.
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("ANALYZE audience_profile, audience_device, audience_event")

    # Django in this process, against the bench database, for the estimates themselves.
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL")})
    os.environ.setdefault("HERALD_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    names = args.only or list(DEFINITIONS)
    result: dict = {
        "profiles": seeded["profiles"],
        "events": seeded["events"],
        "seeded_at": seeded["seeded_at"],
        "runs": args.runs,
        "cold": _cold_description(cold_method),
        "cpus": os.cpu_count(),
        "load_average_at_start": _load_average(),
        "definitions": {},
    }
    buffers_at_cold_start: list[float] = []
    result["counted_at"] = {}
    for name in names:
        definition = _validated(name, DEFINITIONS[name])
        timings = _time_definition(name, definition, runs=args.runs, cold_method=cold_method)
        buffers_at_cold_start += timings.pop("buffers_mb")
        result["counted_at"][name] = timings.pop("counted_at")
        result["definitions"][name] = timings
    if buffers_at_cold_start:
        result["cold"]["bench_db_in_shared_buffers_mb_median"] = round(
            statistics.median(buffers_at_cold_start), 1
        )
    result["cached_ms"], result["cached_note"] = _time_endpoint(
        [DEFINITIONS[name] for name in names], runs=args.runs
    )
    if args.explain:
        _explain_all({name: DEFINITIONS[name] for name in names})
    result["load_average_at_end"] = _load_average()
    print(json.dumps(result), flush=True)
    return 0


# --- the database and its seed ---------------------------------------------------------------


def _manage(env: dict, *arguments: str) -> list[str]:
    """Run a manage.py command; its output lines are returned (and echoed to stderr)."""
    process = subprocess.Popen(
        [PYTHON, "manage.py", *arguments], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            print(f"  {line}", end="", file=sys.stderr, flush=True)
    finally:
        if process.poll() is None and sys.exc_info()[0] is not None:
            process.terminate()  # interrupted: don't leave the command running
    if process.wait() != 0:
        raise SystemExit(f"manage.py {arguments[0]} failed with exit code {process.returncode}")
    return lines


def _ensure_seeded(
    env: dict, database_url: str, *, profiles: int, reseed: bool, max_age_days: float
) -> dict:
    """Seed unless the database already holds exactly this seed (marker and row count)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        marker = seed_marker_read(conn)
        profile_count = conn.execute("SELECT count(*) FROM audience_profile").fetchone()[0]
    wanted = {"profiles": profiles, "events_per_profile": EVENTS_PER_PROFILE, "seed": SEED}
    age_days = (time.time() - marker.get("seeded_at_epoch", 0)) / 86400
    if (
        not reseed
        and all(marker.get(key) == value for key, value in wanted.items())
        and profile_count == profiles
        and age_days <= max_age_days
    ):
        log(f"reusing the seed of {marker['seeded_at']} ({profiles:,} profiles)")
        return marker
    log(f"seed_demo --reset --profiles {profiles} --events-per-profile {EVENTS_PER_PROFILE}")
    started = time.monotonic()
    lines = _manage(
        env, "seed_demo", "--reset", "--profiles", str(profiles),
        "--events-per-profile", str(EVENTS_PER_PROFILE), "--seed", str(SEED), "--json",
    )  # fmt: skip
    summary = json.loads(lines[-1])
    # seed_demo ANALYZEs but does not VACUUM. A production server's autovacuum sets the
    # visibility map soon after a bulk load (this shared server runs with autovacuum off), and
    # index-only scans need it, so do what autovacuum would have done.
    log("VACUUM (ANALYZE) of the audience tables")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) audience_profile, audience_device, audience_event")
    now = time.time()
    marker = {
        **wanted,
        "events": summary["events"],
        "devices": summary["devices"],
        "seed_seconds": round(time.monotonic() - started, 1),
        "seeded_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "seeded_at_epoch": int(now),
    }
    seed_marker_write(database_url, marker)
    return marker


# --- timing -------------------------------------------------------------------------------------


def _can_drop_caches() -> bool:
    return os.access(DROP_CACHES, os.W_OK)


def _cold_description(method: str) -> dict:
    description = {
        "method": method,
        "means": "each cold run starts on a new PostgreSQL backend (DISCARD ALL issued) with"
        + (
            " the kernel page cache dropped (sync; echo 3 > /proc/sys/vm/drop_caches)"
            if method == "drop-caches"
            else " the kernel page cache left as it is"
        )
        + "; PostgreSQL shared_buffers are not emptied (that needs a restart of the shared "
        "server)",
    }
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_buffers")
        description["shared_buffers"] = cursor.fetchone()[0]
    return description


def _validated(name: str, definition: dict) -> dict:
    from apps.segments.definitions import DefinitionError, definition_validate

    try:
        return definition_validate(definition)
    except DefinitionError as error:
        raise SystemExit(f"reference definition {name!r} is invalid: {error.errors}") from error


def _make_cold(method: str) -> float | None:
    """Close the connection (and drop the page cache); returns the MB of the bench database
    still in shared_buffers, when pg_buffercache can tell."""
    from django.db import connection

    connection.close()
    if method == "drop-caches":
        os.sync()
        DROP_CACHES.write_text("3\n")
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("DISCARD ALL")
    return _bench_db_buffers_mb()


def _bench_db_buffers_mb() -> float | None:
    from django.db import connection, transaction

    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_buffercache")
            cursor.execute(
                "SELECT count(*) * current_setting('block_size')::int / 1048576.0"
                " FROM pg_buffercache WHERE reldatabase ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            return float(cursor.fetchone()[0])
    except Exception:  # no such extension or no privilege: the figure is only informative
        return None


def _estimate_ms(definition: dict) -> tuple[float, int, str]:
    """(milliseconds, total, the clock reading the estimate was computed at)."""
    from apps.segments.estimates import segment_estimate

    started = time.perf_counter()
    estimate = segment_estimate(definition=definition, use_cache=False)
    return (time.perf_counter() - started) * 1000, estimate.total, estimate.computed_at


def _time_definition(name: str, definition: dict, *, runs: int, cold_method: str) -> dict:
    cold, warm, counts, buffers = [], [], [], []
    for _ in range(runs):
        resident = _make_cold(cold_method)
        if resident is not None:
            buffers.append(resident)
        ms, count, _ = _estimate_ms(definition)
        cold.append(ms)
        counts.append(count)
    _estimate_ms(definition)  # warm-up, untimed
    for _ in range(runs):
        ms, count, computed_at = _estimate_ms(definition)
        warm.append(ms)
        counts.append(count)
    timings = {
        # "In the last N days" moves with the clock, so a count may drift by the odd event
        # crossing the window's edge between runs: report the last one, and when.
        "count": counts[-1],
        "cold_ms": round(statistics.median(cold), 1),
        "warm_ms": round(statistics.median(warm), 1),
    }
    drift = f" (counts over the runs: {min(counts)}..{max(counts)})" if len(set(counts)) > 1 else ""
    log(
        f"{name}: {timings['count']:,} profiles{drift}; cold {timings['cold_ms']} ms "
        f"(runs {_fmt(cold)}), warm {timings['warm_ms']} ms (runs {_fmt(warm)})"
    )
    return {**timings, "buffers_mb": buffers, "counted_at": computed_at.isoformat()}


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def _time_endpoint(definitions: list[dict], *, runs: int) -> tuple[float | None, str]:
    """Median time of the estimate endpoint answering a definition it has answered before."""
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from apps.accounts.models import User
    from apps.core.roles import Role

    try:
        url = reverse("segments:estimate")
    except NoReverseMatch:
        return None, "the segments:estimate endpoint does not exist yet"
    marketer, _ = User.objects.get_or_create(
        username="bench-segments-marketer", defaults={"role": Role.MARKETER}
    )
    if marketer.role != Role.MARKETER:
        User.objects.filter(pk=marketer.pk).update(role=Role.MARKETER)
        marketer.refresh_from_db()
    client = Client(HTTP_HOST="localhost")
    client.force_login(marketer)
    timings = []
    for definition in definitions:
        body = {"definition": json.dumps(definition)}
        first = client.post(url, body)  # computes (or finds) the estimate and caches it
        if first.status_code != 200:
            raise SystemExit(f"{url} answered {first.status_code}: {first.content[:300]!r}")
        for _ in range(runs):
            started = time.perf_counter()
            response = client.post(url, body)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code} on a repeat")
    cached = round(statistics.median(timings), 1)
    log(f"estimate endpoint, repeated definition: median {cached} ms (runs {_fmt(timings)})")
    return cached, (
        f"POST {url} through django.test.Client in-process as a marketer, "
        f"{len(definitions)} definitions x {runs} repeats after one priming request each"
    )


# --- EXPLAIN -----------------------------------------------------------------------------------

KEY_WORDS = (
    "->", "Index Cond", "Recheck Cond", "Hash Cond", "Filter:", "Rows Removed", "SubPlan",
    "InitPlan", "Buffers:", "Planning Time", "Execution Time", "Workers", "JIT", "Timing:",
)  # fmt: skip


def _captured_statements(definition: dict) -> list[tuple[str, tuple]]:
    """The statements an estimate runs, in order (its SET LOCALs included)."""
    from django.db import connection

    from apps.segments.estimates import segment_estimate

    statements: list[tuple[str, tuple]] = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        segment_estimate(definition=definition, use_cache=False)
    # The estimate and the settings it changes for itself; not the account-settings lookup.
    return [
        (sql, params) for sql, params in statements if "audience_profile" in sql or _is_set(sql)
    ]


def _explain_all(definitions: dict[str, dict]) -> None:
    from django.db import connection, transaction

    EXPLAIN_FILE.parent.mkdir(parents=True, exist_ok=True)
    with EXPLAIN_FILE.open("w") as full:
        for name, definition in definitions.items():
            statements = _captured_statements(definition)
            queries = [(sql, params) for sql, params in statements if not _is_set(sql)]
            for number, (sql, params) in enumerate(queries, start=1):
                # Replayed in one transaction with the estimate's own SET LOCALs (jit = off…).
                with transaction.atomic(), connection.cursor() as cursor:
                    for setting, setting_params in statements:
                        if _is_set(setting):
                            cursor.execute(setting, setting_params)
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    plan = [row[0] for row in cursor.fetchall()]
                full.write(f"=== {name} #{number}\n{sql}\n{params!r}\n\n" + "\n".join(plan))
                full.write("\n\n")
                print(f"--- EXPLAIN {name} #{number}", file=sys.stderr)
                for index, line in enumerate(plan):
                    if index == 0 or any(word in line for word in KEY_WORDS):
                        print(f"  {line}", file=sys.stderr)
    log(f"full plans in {EXPLAIN_FILE}")


def _is_set(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SET ")


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


if __name__ == "__main__":
    sys.exit(main())
