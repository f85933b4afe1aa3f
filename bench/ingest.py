"""Ingest benchmark: how fast seed_demo fills a database, and how fast the Upload API takes
records in while storing each exactly once.

    .venv/bin/python bench/ingest.py --profiles 1000000      (what `make bench` runs)

1. Drops and re-creates the database `herald_bench` on 127.0.0.1:5432, migrates it and runs
   `seed_demo --profiles N` (wall clock of the whole command, index rebuild included).
2. Starts gunicorn on a free loopback port against that database, creates API credentials,
   and has 2 client threads POST /1/upload with 1,000-record bodies: mostly events for
   seeded and for new identities, some profile updates. Every record carries a unique
   `bench_id`, and afterwards the database is asked whether each one is stored exactly once
   (and on the right profile).

Progress goes to stderr; the LAST line on stdout is one JSON object. Installs nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sandbox_process import free_port, log  # noqa: E402  (needs ROOT on the path)

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
BENCH_DB = "herald_bench"
REDIS_URL = "redis://127.0.0.1:6379/3"
BATCH = 1000  # records per request: the Upload API's maximum
CLIENTS = 2
# Two cores: one sync-style worker process per core keeps both busy while PostgreSQL takes
# its share; two threads per worker (gthread) let a request that waits on the database not
# hold up the other client, and gthread keeps HTTP connections alive between requests.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 2

EVENT_SHAPES = (
    ("App Launched", 30, lambda r: {"Source": r.choice(["direct", "push", "deep_link"])}),
    (
        "Product Viewed",
        40,
        lambda r: {
            "Product": r.choice(["Running Shoes (Blue)", "Smartwatch (Black)", "Yoga Mat (Red)"]),
            "Category": r.choice(["Shoes", "Electronics", "Sports"]),
            "Price": round(r.uniform(5, 300), 2),
            "Currency": "USD",
        },
    ),
    (
        "Added To Cart",
        15,
        lambda r: {"Product": "Canvas Sneakers (White)", "Price": 55.0, "Quantity": 1},
    ),
    (
        "Charged",
        5,
        lambda r: {
            "Amount": 110.0,
            "Currency": "USD",
            "Payment mode": r.choice(["Credit card", "PayPal"]),
            "Items": [
                {
                    "Category": "Shoes",
                    "Name": "Canvas Sneakers (White)",
                    "Price": 55.0,
                    "Quantity": 2,
                }
            ],
        },
    ),
    ("Searched", 10, lambda r: {"Query": r.choice(["shoes", "gift", "sale", "watch"])}),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument(
        "--events-per-profile",
        type=float,
        default=40,
        help="average events per seeded profile (default 40, like a busy shopping app)",
    )
    parser.add_argument(
        "--upload-records",
        type=int,
        default=None,
        help="records to upload (default: min(profiles, 200000), at least 2000)",
    )
    args = parser.parse_args()
    upload_total = args.upload_records or max(2 * BATCH, min(args.profiles, 200_000))

    # `make bench` may be interrupted; SIGTERM should still stop gunicorn (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{BENCH_DB}",
        "REDIS_URL": REDIS_URL,
        "HERALD_LOG_FORMAT": "console",
        "HERALD_LOG_LEVEL": "WARNING",
    }
    result: dict = {
        "profiles": args.profiles,
        "events_per_profile": args.events_per_profile,
        "cpus": os.cpu_count(),
        "load_average_at_start": _load_average(),
    }

    _recreate_database()
    _manage(env, "migrate", "--noinput", "-v", "0")
    result.update(_seed(env, profiles=args.profiles, events_per_profile=args.events_per_profile))
    credentials = json.loads(
        _manage(env, "create_api_credentials", "--name", "bench", "--json", echo=False)[-1]
    )
    identities = _sample_identities(upload_total)

    server = _start_gunicorn(env)
    try:
        result.update(_upload(server.base_url, credentials, identities, total=upload_total))
    finally:
        server.stop()
    result["load_average_at_end"] = _load_average()
    print(json.dumps(result), flush=True)
    return 0


# --- database and Django commands -----------------------------------------------------------


def _recreate_database() -> None:
    log(f"re-creating database {BENCH_DB}")
    with psycopg.connect(**PG, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")


def _bench_connection() -> psycopg.Connection:
    return psycopg.connect(**PG, dbname=BENCH_DB, autocommit=True)


def _manage(env: dict, *arguments: str, echo: bool = True) -> list[str]:
    """Run a manage.py command; its output lines are returned (and echoed to stderr)."""
    process = subprocess.Popen(
        [PYTHON, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if echo:
                print(f"  {line}", end="", file=sys.stderr, flush=True)
    finally:
        if process.poll() is None and sys.exc_info()[0] is not None:
            process.terminate()  # interrupted: don't leave the command running
    if process.wait() != 0:
        raise SystemExit(f"manage.py {arguments[0]} failed with exit code {process.returncode}")
    return lines


def _seed(env: dict, *, profiles: int, events_per_profile: float) -> dict:
    log(f"seed_demo --profiles {profiles} --events-per-profile {events_per_profile:g}")
    started = time.monotonic()
    lines = _manage(
        env,
        "seed_demo",
        "--profiles",
        str(profiles),
        "--events-per-profile",
        f"{events_per_profile:g}",
        "--seed",
        "1",
        "--json",
    )
    seconds = time.monotonic() - started  # the whole command, Django start-up included
    summary = json.loads(lines[-1])
    return {
        "seed_profiles": summary["profiles"],
        "seed_devices": summary["devices"],
        "seed_events": summary["events"],
        "seed_rows": summary["rows"],
        "seed_seconds": round(seconds, 1),
        "seed_index_rebuild_seconds": summary["index_rebuild_seconds"],
        "seed_rows_per_s": round(summary["rows"] / seconds),
    }


def _sample_identities(count: int) -> list[str]:
    with _bench_connection() as conn:
        rows = conn.execute(
            "SELECT identity FROM audience_profile WHERE identity IS NOT NULL"
            " ORDER BY random() LIMIT %s",
            (count,),
        ).fetchall()
    return [row[0] for row in rows]


# --- gunicorn ---------------------------------------------------------------------------------


class Server:
    def __init__(self, process: subprocess.Popen, base_url: str, log_path: Path):
        self.process, self.base_url, self.log_path = process, base_url, log_path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: gunicorn finishes requests in flight, exits
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        log(f"gunicorn stopped (exit code {self.process.returncode}; log {self.log_path})")


def _start_gunicorn(env: dict) -> Server:
    port = free_port()
    log_path = ROOT / "var" / "bench-gunicorn.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_path.open("w")
    command = [GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(GUNICORN_WORKERS), "--worker-class", "gthread"]
    command += ["--threads", str(GUNICORN_THREADS), "--timeout", "120", "--error-logfile", "-"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with code {process.returncode}; see {log_path}")
        try:
            # Any answer will do (405 here). Not /healthz: it waits for Celery, which the
            # benchmark does not run.
            httpx.get(f"{server.base_url}/1/upload", timeout=5)
            break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise SystemExit(f"gunicorn did not answer within 60 s; see {log_path}")
        time.sleep(0.3)
    log(f"gunicorn up on {server.base_url}, {GUNICORN_WORKERS}x{GUNICORN_THREADS} (gthread)")
    return server


# --- the upload ---------------------------------------------------------------------------------


def _build_requests(identities: list[str], *, total: int, run: str):
    """Request bodies and, per marker, the identity it must end up on.

    Mix: 75% events for seeded people, 10% events for new people (each new identity shows up
    in several requests, so both clients race to create it), 15% profile updates — each on
    a different profile, since a later update of the same custom key would overwrite an
    earlier marker."""
    rng = random.Random(1)
    shapes = [(name, make) for name, _, make in EVENT_SHAPES]
    weights = [weight for _, weight, _ in EVENT_SHAPES]
    new_people = [f"bench-{run}-new-{i}" for i in range(max(1, total // 50))]
    updatable = iter(identities)
    now = int(time.time())
    expected: dict[str, str] = {}
    kinds = Counter()
    bodies = []
    for start in range(0, total, BATCH):
        records = []
        for serial in range(start, min(total, start + BATCH)):
            marker = f"{run}-{serial}"
            roll = rng.random()
            if roll < 0.85:
                identity = rng.choice(identities) if roll < 0.75 else rng.choice(new_people)
                name, make = rng.choices(shapes, weights)[0]
                data = {**make(rng), "bench_id": marker, "bench_run": run}
                records.append(
                    {
                        "type": "event",
                        "identity": identity,
                        "ts": now - rng.randrange(3600),
                        "evtName": name,
                        "evtData": data,
                    }
                )
                kinds["event"] += 1
            else:
                identity = next(updatable, None) if roll < 0.95 else None
                identity = identity or f"bench-{run}-profile-{serial}"
                records.append(
                    {
                        "type": "profile",
                        "identity": identity,
                        "ts": now - rng.randrange(3600),
                        "profileData": {
                            "Name": f"Bench Person {serial}",
                            "Email": f"bench.{serial}@example.com",
                            "Customer Type": rng.choice(["Silver", "Gold", "Platinum"]),
                            "bench_id": marker,
                            "bench_run": run,
                        },
                    }
                )
                kinds["profile"] += 1
            expected[marker] = identity
        bodies.append((len(records), json.dumps({"d": records}).encode()))
    return bodies, expected, kinds


def _upload(base_url: str, credentials: dict, identities: list[str], *, total: int) -> dict:
    run = uuid.uuid4().hex[:8]
    bodies, expected, kinds = _build_requests(identities, total=total, run=run)
    log(f"uploading {total:,} records in {len(bodies)} requests with {CLIENTS} clients")
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    outcome = Counter()
    lock = threading.Lock()
    headers = {
        "X-CleverTap-Account-Id": credentials["account_id"],
        "X-CleverTap-Passcode": credentials["passcode"],
        "Content-Type": "application/json; charset=utf-8",
    }

    def client() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
            while True:
                try:
                    count, body = work.get_nowait()
                except queue.Empty:
                    return
                tally = Counter()
                try:
                    response = http.post("/1/upload", content=body)
                    answer = response.json()
                    if response.status_code == 200 and answer.get("status") == "success":
                        tally["processed"] += answer.get("processed", 0)
                        tally["unprocessed"] += len(answer.get("unprocessed", []))
                    else:
                        tally["failed_requests"] += 1
                        tally["failed_records"] += count
                        log(f"upload failed: HTTP {response.status_code} {response.text[:300]}")
                except (httpx.HTTPError, ValueError) as problem:
                    tally["failed_requests"] += 1
                    tally["failed_records"] += count
                    log(f"upload failed: {problem!r}")
                with lock:
                    outcome.update(tally)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    log(f"uploaded in {seconds:.1f} s; verifying every bench_id in the database")
    stored = _stored_markers(run)
    counts = Counter(marker for marker, _ in stored)
    owner = dict(stored)
    lost = sum(1 for marker in expected if marker not in counts)
    return {
        "upload_records": total,
        "upload_events": kinds["event"],
        "upload_profile_updates": kinds["profile"],
        "upload_requests": len(bodies),
        "upload_clients": CLIENTS,
        "upload_seconds": round(seconds, 2),
        "upload_records_per_s": round(total / seconds),
        "upload_processed": outcome["processed"],
        "upload_unprocessed": outcome["unprocessed"],
        "upload_failed_requests": outcome["failed_requests"],
        "upload_lost": lost,
        "upload_duplicated": sum(n - 1 for n in counts.values() if n > 1),
        "upload_misattributed": sum(
            1
            for marker, identity in expected.items()
            if marker in owner and owner[marker] != identity
        ),
        "gunicorn": f"{GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads (gthread)",
    }


def _stored_markers(run: str) -> list[tuple[str, str]]:
    """(bench_id, identity of the profile it is stored on) for every stored event and every
    profile carrying this run's marker; the containment test uses the GIN indexes."""
    needle = json.dumps({"bench_run": run})
    with _bench_connection() as conn:
        events = conn.execute(
            "SELECT e.properties->>'bench_id', p.identity FROM audience_event e"
            " JOIN audience_profile p ON p.id = e.profile_id WHERE e.properties @> %s::jsonb",
            (needle,),
        ).fetchall()
        profiles = conn.execute(
            "SELECT properties->>'bench_id', identity FROM audience_profile"
            " WHERE properties @> %s::jsonb",
            (needle,),
        ).fetchall()
    return events + profiles


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


if __name__ == "__main__":
    sys.exit(main())
