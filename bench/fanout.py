"""Fan-out benchmark: a push campaign to N profiles through the provider sandbox, end to end
through real Celery workers.

    .venv/bin/python bench/fanout.py --profiles 1000000      (what `make bench-fanout` runs)

1. Makes sure the database (default `herald_bench_fanout` on 127.0.0.1:5432) exists and is
   migrated, and seeds it ONCE with N profiles, each with one Android device holding an FCM
   token, by two INSERT … SELECT generate_series statements (no Python loop). A marker on the
   database (a COMMENT, as bench/segments.py does) records the size; a later run with the same
   size reuses the data (--reseed forces a fresh seed).
2. Starts the provider sandbox on free loopback ports and creates an FCM push provider pointed
   at it, and a scheduled one-time "now" push campaign to everyone (ad-hoc definition
   {"version": 1}), one message per profile (the last active device).
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
   sends in the worker's main process). lost: rows not SENT + run recipients the sandbox did not
   record; duplicates: recipient tokens the sandbox recorded more than once.

With --profile-workers (py-spy must be on PATH or in .venv/bin; it is not a requirement) each
worker is recorded with `py-spy record --format raw` and the top functions (own and total
samples) go to stderr and var/bench-fanout-profile-<pid>.txt.

Measured here (2 cores, 1,000,000 profiles, 2 workers, 2026-11-23 20:20): snapshot_s 4.21,
3,177 messages/s end to end, peak RSS 121 MB per worker, 0 lost, 0 duplicates; CPU: workers
344 s, sandbox 152 s. `--snapshot-only` five times: 4.22, 3.45, 3.61, 3.62, 3.94 s (the
INSERT of a million rows is bound by PostgreSQL writing its WAL, ~280 MB per snapshot).

With --snapshot-only the snapshot is timed alone (no workers). Each run TRUNCATEs the
previous run's rows first: the bench's database holds only bench runs.

Progress goes to stderr; the LAST line on stdout is one JSON object with snapshot_s,
messages_per_s, peak_rss_mb, lost and duplicates (and context). Exit code 1 when anything was
lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import (  # noqa: E402  (needs ROOT on the path)
    database_ensure,
    database_name,
    seed_marker_read,
    seed_marker_write,
)
from bench.sandbox_process import Sandbox, log  # noqa: E402

PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/herald_bench_fanout"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
SANDBOX_LABEL = "bench-fcm"
PROVIDER_NICKNAME = "Bench FCM"
CAMPAIGN_NAME = "Bench fan-out"
TOKEN_PREFIX = "bench-fcm-token-"  # + the device id on 12 digits: FCM wants 20+ characters
SEED_FORMAT = 2  # bump when the seeded rows change shape, so an old seed is not reused
PROFILE_DIR = ROOT / "var"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
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
    args = parser.parse_args()
    if args.profiles < 1 or args.workers < 1:
        parser.error("--profiles and --workers must be at least 1")

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
    database_ensure(database_url)

    import django

    django.setup()
    from django.core.management import call_command

    log(f"migrating {database_name(database_url)}")
    call_command("migrate", "--noinput", verbosity=0)
    seeded = _ensure_seeded(database_url, profiles=args.profiles, reseed=args.reseed)

    from apps.delivery import release

    result: dict = {
        "profiles": args.profiles,
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
        run = _create_run(sandbox)
        if args.snapshot_only:
            snapshot = _snapshot(run)
            snapshot.pop("run")
            result.update(snapshot)
            print(json.dumps(result), flush=True)
            return 0
        workers = _start_workers(args.workers)
        if args.profile_workers:
            spies = _start_spies(workers)
        cpu_before = _cpu_seconds(workers, sandbox)
        result.update(_fan_out(run, timeout=args.timeout))
        cpu_after = _cpu_seconds(workers, sandbox)
        # Where the CPU went while the run was sent: the machine's two cores are shared by
        # the workers, the sandbox (the providers' side) and PostgreSQL.
        result["cpu_s"] = {k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_after}
        result["peak_rss_mb"] = max(_peak_rss_mb(w.pid) for w in workers)
        result.update(_check(sandbox, run))
    finally:
        _stop_spies(spies)
        _stop(workers)
        sandbox.stop()
    result["load_average_at_end"] = _load_average()
    log(
        f"snapshot {result['snapshot_s']} s; {result['messages_per_s']} messages/s end to end; "
        f"peak RSS {result['peak_rss_mb']} MB; lost {result['lost']}, "
        f"duplicates {result['duplicates']}"
    )
    print(json.dumps(result), flush=True)
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1


# --- database and seed ----------------------------------------------------------------------


def _ensure_seeded(database_url: str, *, profiles: int, reseed: bool) -> dict:
    """N profiles with one Android FCM device each, unless the database already holds them."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        marker = seed_marker_read(conn)
        count = conn.execute("SELECT count(*) FROM audience_profile").fetchone()[0]
        if (
            not reseed
            and marker.get("profiles") == profiles
            and marker.get("format") == SEED_FORMAT
            and count == profiles
        ):
            log(f"reusing the seed of {marker['seeded_at']} ({profiles:,} profiles)")
            return marker
        if count and "profiles" not in marker and not reseed:
            raise SystemExit(
                f"the database holds {count:,} profiles this bench did not seed; "
                "pass --reseed to replace them"
            )
        log(f"seeding {profiles:,} profiles with one FCM device each")
        started = time.monotonic()
        conn.execute(
            "TRUNCATE audience_event, audience_device, audience_profile RESTART IDENTITY CASCADE"
        )
        with conn.transaction():
            # Plain set-based INSERTs: PostgreSQL generates the rows itself, which is as fast as
            # COPY here and needs no data through the client.
            conn.execute(
                """
                INSERT INTO audience_profile (
                    identity, object_id, email, phone, name, gender, country, region, city,
                    timezone, language, properties, email_unsubscribed, sms_unsubscribed,
                    push_opt_out, is_test, created_at, updated_at)
                SELECT 'bench-' || g, md5(g::text), '', '', 'Bench ' || g, '', 'France', '', '',
                       '', 'fr', '{}'::jsonb, false, false, false, false, now(), now()
                FROM generate_series(1, %s) AS g
                """,
                (profiles,),
            )
            # One statement: the statement-level device triggers set push_android once.
            conn.execute(
                """
                INSERT INTO audience_device (
                    profile_id, platform, push_token, app_version, make, model, os_version,
                    sdk_version, last_active, created_at)
                SELECT id, 'android', %s || lpad(id::text, 12, '0'), '1.0', 'Google', 'Pixel',
                       '14', '6.0', now(), now()
                FROM audience_profile
                """,
                (TOKEN_PREFIX,),
            )
        # This shared server runs without autovacuum: do what it would do after a bulk load.
        conn.execute("VACUUM (ANALYZE) audience_profile, audience_device")
        now = time.time()
        marker = {
            "profiles": profiles,
            "format": SEED_FORMAT,
            "seed_seconds": round(time.monotonic() - started, 1),
            "seeded_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        }
        seed_marker_write(database_url, marker)
        log(f"seeded in {marker['seed_seconds']} s")
        return marker


def _fcm_provider(base_url: str):
    from apps.providers.models import Provider
    from apps.providers.services import provider_create, throwaway_fcm_service_account

    Provider.objects.filter(channel="push", nickname=PROVIDER_NICKNAME).delete()
    account = throwaway_fcm_service_account(
        token_uri=base_url + "/token", project_id="herald-bench"
    )
    return provider_create(
        channel="push",
        kind="fcm",
        nickname=PROVIDER_NICKNAME,
        base_url=base_url,
        credentials={"service_account": account},
        settings={"project_id": "herald-bench"},
    )


def _create_run(sandbox: Sandbox):
    """A fresh campaign (earlier bench campaigns and their rows are deleted) and its run."""
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
    provider = _fcm_provider(sandbox.client.url_for(SANDBOX_LABEL))
    now = timezone.now()
    campaign = Campaign.objects.create(
        name=CAMPAIGN_NAME,
        channel="push",
        campaign_type="one_time",
        status=CampaignStatus.RUNNING,
        audience_definition={"version": 1},
        provider=provider,
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
    return CampaignRun.objects.create(campaign=campaign, scheduled_for=now)


# --- workers -----------------------------------------------------------------------------------


def _start_workers(count: int) -> list[subprocess.Popen]:
    from config.celery_app import app as celery_app

    celery_app.control.purge()
    workers = []
    for number in range(count):
        workers.append(
            subprocess.Popen(
                [
                    *(PYTHON, "-m", "celery", "-A", "config", "--quiet", "worker", "--pool=solo"),
                    *("-Q", "bulk", "--without-heartbeat", "--without-gossip"),
                    *("--without-mingle", "-n", f"bench-fanout-{os.getpid()}-{number}@%h"),
                    "--loglevel=WARNING",
                ],
                cwd=ROOT,
                env=os.environ.copy(),
            )
        )
    deadline = time.monotonic() + 60
    while len(celery_app.control.ping(timeout=1.0)) < count:
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            _stop(workers)
            raise SystemExit("the Celery workers did not start")
    log(f"{count} celery workers up (pids {', '.join(str(w.pid) for w in workers)})")
    return workers


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _cpu_seconds(workers: list[subprocess.Popen], sandbox: Sandbox) -> dict[str, float]:
    """CPU seconds so far of the workers, the sandbox, this process (the snapshot is taken
    here) and every PostgreSQL process (whatever else the server is doing counts too)."""
    return {
        "workers": sum(_process_cpu_seconds(w.pid) for w in workers),
        "sandbox": _process_cpu_seconds(sandbox.process.pid),
        "bench_process": _process_cpu_seconds(os.getpid()),
        "postgres": sum(_process_cpu_seconds(pid) for pid in _postgres_pids()),
    }


def _peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's high-water resident set."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


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


# --- checking ---------------------------------------------------------------------------------


def _check(sandbox: Sandbox, run) -> dict:
    from apps.delivery.models import Message, MessageStatus

    health = sandbox.client.health()
    recorded = sandbox.client.messages(SANDBOX_LABEL, limit=2 * max(run.recipients, 1) + 1000)
    if len(recorded) < health["counts"].get(SANDBOX_LABEL, 0):
        raise SystemExit("the sandbox dropped records; raise HERALD_SANDBOX_MAX_MESSAGES")
    seen = Counter(message["recipient"] for message in recorded)
    rows = (
        Message.objects.filter(run=run)
        .exclude(status=MessageStatus.CONTROL)
        .values_list("device_id", "status")
        .iterator(chunk_size=20_000)
    )
    expected: set[str] = set()
    not_sent = missing = lost = 0
    for device_id, status in rows:
        token = f"{TOKEN_PREFIX}{device_id:012d}"
        expected.add(token)
        row_not_sent, token_missing = status != MessageStatus.SENT, token not in seen
        not_sent += row_not_sent
        missing += token_missing
        lost += row_not_sent or token_missing  # a recipient counts once, whichever shows it
    return {
        "sandbox_recorded": len(recorded),
        "not_sent": not_sent,
        "missing_at_sandbox": missing,
        "lost": lost,
        "duplicates": sum(count - 1 for count in seen.values() if count > 1),
        "unexpected_recorded": sum(1 for token in seen if token not in expected),
    }


# --- profiling (optional) --------------------------------------------------------------------


def _py_spy() -> str | None:
    local = Path(PYTHON).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def _start_spies(workers: list[subprocess.Popen]) -> list[tuple[subprocess.Popen, Path]]:
    binary = _py_spy()
    if not binary:
        log("py-spy not found: --profile-workers ignored")
        return []
    PROFILE_DIR.mkdir(exist_ok=True)
    spies = []
    for worker in workers:
        out = PROFILE_DIR / f"bench-fanout-raw-{worker.pid}.txt"
        spy = subprocess.Popen(
            [
                *(binary, "record", "--nonblocking", "--format", "raw", "-r", "50"),
                *("-o", str(out), "-p", str(worker.pid)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        spies.append((spy, out))
    return spies


def _stop_spies(spies: list[tuple[subprocess.Popen, Path]]) -> None:
    for spy, _ in spies:
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    for spy, out in spies:
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
        if out.exists():
            _summarise(out)


def _summarise(raw: Path, top: int = 25) -> None:
    """Own and total samples per function from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    if not raw.stat().st_size:
        return
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    lines = [f"{raw.name}: {samples} samples", "-- own time"]
    lines += [f"{100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["-- total (inclusive)"]
    # Frames on (nearly) every stack are Celery's loop around the task: left out.
    inclusive = [(f, n) for f, n in total.most_common() if n < 0.985 * samples]
    lines += [f"{100 * n / samples:5.1f}%  {f}" for f, n in inclusive[:top]]
    summary = raw.with_name(raw.name.replace("-raw-", "-profile-"))
    summary.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), file=sys.stderr, flush=True)


# --- the sandbox --------------------------------------------------------------------------------


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


if __name__ == "__main__":
    sys.exit(main())
