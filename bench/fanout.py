"""Fan-out benchmark: a push campaign to N profiles through the provider sandbox, end to end
through real Celery workers, each device through its platform's provider; then the same
number of bare FCM requests from a plain asyncio + aiohttp loop, for comparison.

    .venv/bin/python bench/fanout.py --profiles 1000000 --platforms android=70,ios=25,web=5
    make bench-fanout PROFILES=1000000 PLATFORMS=android=70,ios=25,web=5
    .venv/bin/python bench/fanout.py --profiles 200000 --baseline-only   (the baseline alone)

1. Makes sure the database (default `herald_bench_fanout` on 127.0.0.1:5432) exists and is
   migrated, and seeds it ONCE with N profiles with one push device each, the platform by
   --platforms (default android=100: the runs before it, unchanged): Android devices hold FCM
   tokens, iOS devices APNs tokens, web devices Web Push subscriptions on the sandbox
   (bench/fanout_seed.py). Set-based SQL for everything but the web subscriptions' keys
   (computed in Python, ~45 µs each, and copied in). A marker on the database (a COMMENT)
   records the size and mix; a later run with the same ones reuses the data (--reseed forces
   a fresh seed).
2. Starts the provider sandbox on free loopback ports and creates, for each platform of the
   mix, its provider on a sandbox label of its own, chosen as that platform's push route —
   FCM (bench-fcm) for Android, APNs (bench-apns) for iOS, Web Push (bench-webpush) for the
   web (bench/fanout_routes.py) — and points the web devices' endpoints at this sandbox (one
   UPDATE; its port changes per run). Then a scheduled one-time "now" push campaign to
   everyone (ad-hoc definition {"version": 1}), one message per profile.
3. Starts --workers `celery worker` processes (bulk queue, --pool=solo: one batch at a time per
   process, the production setting: prefetch 1, acks_late) and waits until they answer a ping,
   so their start-up is not timed.
4. snapshot_s: `snapshot.run_start` of the run alone (one INSERT … SELECT of its Message
   rows), in this process. Then `runs.fan_out` does what the run task does next (ANALYZE
   after a large snapshot, publish the send_batch tasks) and the clock runs until the engine
   completes the run. messages_per_s is SENT rows over the seconds from the start of
   run_start to that moment (snapshot included: end to end). cpu_s: CPU seconds of the
   workers, the sandbox, this process and PostgreSQL over the same time.
5. peak_rss_mb: the highest VmHWM of the worker processes (/proc/<pid>/status; the solo pool
   sends in the worker's main process). The check reads every run row's device and what the
   sandbox recorded under each provider's label: lost = rows not SENT + devices their
   platform's provider did not record; duplicates = tokens recorded more than once;
   by_platform = per platform its devices, SENT rows, what its provider's label recorded
   (must equal the devices) and when its last message arrived (done_after_s, from the start).
6. The baseline (bench/fanout_baseline.py), once the workers are stopped: as many FCM v1
   requests as the run had recipients, each the body Herald's FCM adapter writes for an
   Android device, built beforehand, sent by 64 coroutines over one pooled
   aiohttp.TCPConnector(limit=64) to the sandbox's FCM wire under the label bench-baseline,
   one access token for all; only the sends are timed. baseline_messages_per_s = accepted
   requests / seconds; ratio = messages_per_s / baseline_messages_per_s: the share of a bare
   HTTP loop's speed Herald reaches with its database, queue and workers in the way. The
   sandbox must record exactly that many baseline messages, each token once.

With --profile-workers (py-spy must be on PATH or in .venv/bin; it is not a requirement) each
worker is recorded with `py-spy record --format raw` and the top functions (own and total
samples) go to stderr and var/bench-fanout-profile-<pid>.txt (bench/fanout_processes.py).

Measured here (2 cores, 1,000,000 profiles, Android only, 2 workers, 2026-11-23 20:20):
snapshot_s 4.21, 3,177 messages/s end to end, peak RSS 121 MB per worker, 0 lost,
0 duplicates; CPU: workers 344 s, sandbox 152 s. `--snapshot-only` five times: 4.22, 3.45,
3.61, 3.62, 3.94 s (the INSERT of a million rows is bound by PostgreSQL writing its WAL,
~280 MB per snapshot). 200,000 profiles, android=70,ios=25,web=5 (2026-12-08): 2,696
messages/s end to end, baseline 5,243/s, ratio 0.514, 0 lost, 0 duplicates. The baseline
is bound by the sandbox (one Python process; CPU shared with the client) and varies from
run to run (20,000 requests: 5,000 to 9,700/s on this machine): compare ratios of one run,
or several runs.

With --snapshot-only the snapshot is timed alone (no workers, no baseline); with
--baseline-only only the baseline runs (no database). Each run TRUNCATEs the previous run's
rows first: the bench's database holds only bench runs.

Progress goes to stderr; the LAST line on stdout is one JSON object with snapshot_s,
messages_per_s, peak_rss_mb, lost, duplicates, by_platform, baseline_messages_per_s and ratio
(and context). Exit code 1 when anything was lost or duplicated, a platform's devices did
not all go through its provider, or the sandbox did not record the baseline exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import database_ensure, database_name  # noqa: E402  (needs ROOT on the path)
from bench.fanout_baseline import CONNECTIONS, run_baseline  # noqa: E402
from bench.fanout_check import run_check  # noqa: E402
from bench.fanout_processes import (  # noqa: E402
    cpu_seconds,
    peak_rss_mb,
    start_spies,
    start_workers,
    stop,
    stop_spies,
)
from bench.fanout_routes import providers_create, web_endpoints_point_at  # noqa: E402
from bench.fanout_seed import DEFAULT_PLATFORMS, ensure_seeded, mix_text, platform_mix  # noqa: E402
from bench.sandbox_process import Sandbox, log  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/herald_bench_fanout"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
CAMPAIGN_NAME = "Bench fan-out"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument(
        "--platforms",
        type=platform_mix,
        default=platform_mix(DEFAULT_PLATFORMS),
        help=f"device platform mix in percent, summing to 100 (default {DEFAULT_PLATFORMS}), "
        "e.g. android=70,ios=25,web=5",
    )
    # Not read from DATABASE_URL: the seed TRUNCATEs the audience tables, so the database is
    # named explicitly (or is the bench's own).
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes")
    parser.add_argument("--batch-size", type=int, default=None, help="HERALD_BATCH_SIZE")
    parser.add_argument("--reseed", action="store_true", help="seed again even if seeded")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after (s)")
    parser.add_argument(
        "--settings", default=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local")
    )
    parser.add_argument("--profile-workers", action="store_true", help="py-spy the workers")
    parser.add_argument(
        "--snapshot-only",
        action="store_true",
        help="time the snapshot alone (no workers, no sending) and print snapshot_s",
    )
    parser.add_argument(
        "--baseline-only",
        action="store_true",
        help="only the bare aiohttp baseline of --profiles FCM requests (no database)",
    )
    parser.add_argument(
        "--baseline-concurrency",
        type=int,
        default=CONNECTIONS,
        help=f"baseline requests in flight (default {CONNECTIONS}, the connector's limit)",
    )
    args = parser.parse_args()
    if args.profiles < 1 or args.workers < 1 or args.baseline_concurrency < 1:
        parser.error("--profiles, --workers and --baseline-concurrency must be at least 1")
    if args.snapshot_only and args.baseline_only:
        parser.error("--snapshot-only and --baseline-only exclude each other")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database_url, redis_url = args.database_url, args.redis_url
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": args.settings,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "HERALD_CACHE_PREFIX": "herald-bench-fanout",
        }
    )
    os.environ.setdefault("HERALD_LOG_LEVEL", "WARNING")
    if args.batch_size:
        os.environ["HERALD_BATCH_SIZE"] = str(args.batch_size)
    if args.baseline_only:
        return _baseline_only(args.profiles, concurrency=args.baseline_concurrency)
    database_ensure(database_url)

    import django

    django.setup()
    from django.core.management import call_command

    log(f"migrating {database_name(database_url)}")
    call_command("migrate", "--noinput", verbosity=0)
    seeded = ensure_seeded(
        database_url, profiles=args.profiles, mix=args.platforms, reseed=args.reseed
    )

    from apps.delivery import release

    result: dict = {
        "profiles": args.profiles,
        "platforms": mix_text(args.platforms),
        "seeded_at": seeded["seeded_at"],
        "seed_seconds": seeded["seed_seconds"],
        "workers": args.workers,
        "batch_size": release.batch_size(),
        "cpus": os.cpu_count(),
        "load_average_at_start": _load_average(),
    }
    sandbox = Sandbox.start(max_messages=2 * args.profiles + 1000, client_timeout=300)
    workers: list[subprocess.Popen] = []
    spies: list[tuple[subprocess.Popen, Path]] = []
    try:
        run, routes = _create_run(sandbox, list(args.platforms), result)
        if args.snapshot_only:
            snapshot = _snapshot(run)
            snapshot.pop("run")
            result.update(snapshot)
            print(json.dumps(result), flush=True)
            return 0
        workers = start_workers(args.workers)
        if args.profile_workers:
            spies = start_spies(workers)
        cpu_before = cpu_seconds(workers, sandbox)
        started_at = time.time()
        result.update(_fan_out(run, timeout=args.timeout))
        run.refresh_from_db()
        cpu_after = cpu_seconds(workers, sandbox)
        # Where the CPU went while the run was sent: the machine's two cores are shared by
        # the workers, the sandbox (the providers' side) and PostgreSQL.
        result["cpu_s"] = {k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_after}
        result["peak_rss_mb"] = max(peak_rss_mb(w.pid) for w in workers)
        result.update(run_check(sandbox, run, routes, started_at=started_at))
        # The baseline gets the machine to itself: no workers, no spies, an empty sandbox.
        stop_spies(spies)
        spies = []
        stop(workers)
        sandbox.client.clear()
        result.update(
            run_baseline(sandbox, count=run.recipients, concurrency=args.baseline_concurrency)
        )
    finally:
        stop_spies(spies)
        stop(workers)
        sandbox.stop()
    baseline = result["baseline_messages_per_s"]
    result["ratio"] = round(result["messages_per_s"] / baseline, 3) if baseline else None
    result["load_average_at_end"] = _load_average()
    log(
        f"snapshot {result['snapshot_s']} s; {result['messages_per_s']} messages/s end to end "
        f"(baseline {baseline}/s, ratio {result['ratio']}); peak RSS {result['peak_rss_mb']} "
        f"MB; lost {result['lost']}, duplicates {result['duplicates']}"
    )
    print(json.dumps(result), flush=True)
    routed = all(p["recorded"] == p["devices"] for p in result["by_platform"].values())
    baseline_exact = (
        result["baseline_recorded"] == run.recipients and not result["baseline_duplicates"]
    )
    ok = result["lost"] == 0 and result["duplicates"] == 0 and routed and baseline_exact
    return 0 if ok else 1


def _baseline_only(count: int, *, concurrency: int) -> int:
    import django

    django.setup()
    result: dict = {"profiles": count, "cpus": os.cpu_count()}
    result["load_average_at_start"] = _load_average()
    sandbox = Sandbox.start(max_messages=count + 1000, client_timeout=300)
    try:
        result.update(run_baseline(sandbox, count=count, concurrency=concurrency))
    finally:
        sandbox.stop()
    result["load_average_at_end"] = _load_average()
    print(json.dumps(result), flush=True)
    return 0 if result["baseline_recorded"] == count and not result["baseline_duplicates"] else 1


def _create_run(sandbox: Sandbox, platforms: list[str], result: dict):
    """A fresh campaign (earlier bench campaigns and their rows are deleted) and its run,
    with a fresh provider per platform and the web devices pointed at this sandbox."""
    from django.db import connection
    from django.utils import timezone

    from apps.campaigns.models import Campaign, CampaignStatus
    from apps.delivery.models import CampaignRun

    old = list(Campaign.objects.filter(name=CAMPAIGN_NAME).values_list("pk", flat=True))
    if old:
        # The bench's own database holds only bench runs: TRUNCATE, not DELETE, so every
        # run's snapshot writes into an empty table, as the first did. Deleted rows would
        # leave free space in old pages, and (autovacuum being off on this server) bloat;
        # either way the next snapshot's timing would depend on how many ran before it.
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE delivery_message")
        CampaignRun.objects.filter(campaign_id__in=old).delete()
        Campaign.objects.filter(pk__in=old).delete()
    routes = providers_create(sandbox, platforms)
    if "web" in platforms:
        result.update(web_endpoints_point_at(sandbox))
    now = timezone.now()
    # No provider: push follows the account's push routes, one per platform.
    campaign = Campaign.objects.create(
        name=CAMPAIGN_NAME,
        channel="push",
        campaign_type="one_time",
        status=CampaignStatus.RUNNING,
        audience_definition={"version": 1},
        content={
            "mode": "single",
            "variants": [
                {
                    "key": "A",
                    "name": "A",
                    "match": "",
                    "message": {"title": "Hi {{ Profile.Name }}", "body": "Sale today"},
                }
            ],
        },
        when={"type": "now"},
        next_run_at=None,
    )
    sandbox.client.clear()
    return CampaignRun.objects.create(campaign=campaign, scheduled_for=now), routes


def _snapshot(run) -> dict:
    """run_start alone: the one INSERT … SELECT of the run's rows, timed."""
    from apps.delivery.snapshot import run_start

    started = time.perf_counter()
    run = run_start(run)
    snapshot_s = time.perf_counter() - started
    log(f"snapshot: {run.recipients:,} recipients in {snapshot_s:.2f} s")
    return {"run": run, "recipients": run.recipients, "snapshot_s": round(snapshot_s, 2)}


def _fan_out(run, *, timeout: float) -> dict:

    from apps.delivery import runs
    from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus

    started = time.perf_counter()
    snapshot = _snapshot(run)
    run, snapshot_s = snapshot.pop("run"), snapshot["snapshot_s"]
    # What the run task does next (runs.run_start_and_fan_out): refresh the planner's
    # statistics after a large snapshot, then publish the batches (autocommit: at once).
    batches = runs.fan_out(run)
    log(f"{batches} send batches published in {time.perf_counter() - started - snapshot_s:.2f} s")
    last_log = 0.0
    # The clock stops when the engine completes the run (its last batch finds nothing left
    # to send): one primary-key read every half second, so the poll takes no CPU from the
    # workers it times; a count only every 30 s.
    while True:
        status = CampaignRun.objects.filter(pk=run.pk).values_list("status", flat=True)[0]
        elapsed = time.perf_counter() - started
        if status not in (RunStatus.SENDING, RunStatus.TESTING):
            break
        if elapsed > timeout:
            raise SystemExit(f"the run is still {status} after {timeout} s")
        if elapsed - last_log >= 30:
            sent = Message.objects.filter(run=run, status=MessageStatus.SENT).count()
            log(f"{sent:,} sent after {elapsed:.0f} s ({sent / elapsed:.0f}/s)")
            last_log = elapsed
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    sent = Message.objects.filter(run=run, status=MessageStatus.SENT).count()
    return {
        "recipients": run.recipients,
        "snapshot_s": round(snapshot_s, 2),
        "batches": batches,
        "end_to_end_s": round(seconds, 2),
        "sent": sent,
        "messages_per_s": round(sent / seconds),
    }


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


if __name__ == "__main__":
    sys.exit(main())
