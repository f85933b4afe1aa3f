"""Provider benchmark: SMS through a two-provider group with failover, against the local
sandbox, counting every message the sandbox accepted.

    .venv/bin/python bench/providers.py --messages 20000      (what `make bench-providers` runs)

1. Starts the provider sandbox (`manage.py provider_sandbox`) on free loopback ports.
2. In the database from DATABASE_URL (default `herald_bench_providers` on 127.0.0.1, created
   and migrated when missing) re-creates two Twilio providers on the sandbox labels
   `bench-a` and `bench-b` and a group with them at priorities 1 and 2. `bench-a` is told to
   answer 30% of its requests with HTTP 500.
3. Sends N messages, each to its own number with a body that carries its serial, through
   `group_send_sms` — the code path the delivery engine uses — in batches, the way Celery
   batch tasks would: `--processes` worker processes each run `--concurrency` threads, and
   every thread takes the next batch of `--batch-size` messages. A message no provider took
   is sent again (up to three more times, as a retried task would).
4. Asks the sandbox what it recorded and checks each serial was accepted exactly once:
   `lost` (never accepted anywhere) and `duplicates` (accepted more than once) must be 0.

`messages_per_s` is N over the wall time of the sending phase (step 3) only. Progress goes
to stderr; the LAST line on stdout is one JSON object. Installs nothing.

Twilio is the provider kind because it is the most common one and its wire format is the
fullest (Basic auth, form body, a 20-field JSON answer): of the kinds measured (Twilio,
Netcore, Vonage one by one over httpx: about 490, 720 and 840 requests/s) it is the most
work per message, so the figure is not flattered by a cheap format.

`--client` picks the adapters' pooled HTTP client (HERALD_PROVIDER_HTTP_CLIENT). Measured
here at 20,000 messages: aiohttp, which has a batch's requests in flight together over one
session, used 7.8 CPU-seconds in the sending processes (2,205 messages/s); httpx, one request
at a time per batch thread, used 17.0 (1,178 messages/s). So aiohttp is the default."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import re
import resource
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.database import (  # noqa: E402  (needs ROOT on the path)
    database_ensure,
    database_name,
)
from bench.sandbox_process import Sandbox, log  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/herald_bench_providers"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
LABELS = ("bench-a", "bench-b")
NICKNAMES = ("Bench Twilio A", "Bench Twilio B")
GROUP_NAME = "Bench SMS group"
ACCOUNT_SID = "AC" + "b" * 32
EXTRA_ATTEMPTS = 3  # a message no provider took is sent again, like a retried batch task
SERIAL = re.compile(r"#(\d+)$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages to send")
    parser.add_argument(
        "--batch-size", type=int, default=250, help="messages per group_send_sms call"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--concurrency", type=int, default=2, help="threads per worker process (batch tasks)"
    )
    parser.add_argument(
        "--client",
        choices=["aiohttp", "httpx"],
        default=os.environ.get("HERALD_PROVIDER_HTTP_CLIENT") or "aiohttp",
        help="the pooled HTTP client the adapters use",
    )
    parser.add_argument(
        "--http-concurrency",
        type=int,
        default=16,
        help="requests of one batch in flight at once (aiohttp client; default 16)",
    )
    parser.add_argument("--error-rate", type=float, default=0.3, help="5xx share on bench-a")
    args = parser.parse_args()
    for name in ("messages", "batch_size", "processes", "concurrency", "http_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.error_rate <= 1:
        parser.error("--error-rate must be between 0 and 1")
    if args.messages > 9_999_999:
        parser.error("--messages must be at most 9999999 (one phone number each)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    # Circuit-breaker keys of this run stay apart from an app sharing the Redis database.
    os.environ.setdefault("HERALD_CACHE_PREFIX", "herald-bench-providers")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["HERALD_PROVIDER_HTTP_CLIENT"] = args.client
    os.environ["HERALD_PROVIDER_HTTP_CONCURRENCY"] = str(args.http_concurrency)
    os.environ.setdefault("HERALD_LOG_LEVEL", "WARNING")
    database_ensure(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command

    log(f"migrating {database_name(os.environ['DATABASE_URL'])}")
    call_command("migrate", "--noinput", verbosity=0)

    result: dict = {
        "messages": args.messages,
        "batch_size": args.batch_size,
        "processes": args.processes,
        "concurrency": args.concurrency,
        "client": args.client,
        "http_concurrency": args.http_concurrency if args.client == "aiohttp" else 1,
        "provider_kind": "twilio",
        "first_provider_error_rate": args.error_rate,
        "cpus": os.cpu_count(),
        "load_average_at_start": _load_average(),
    }
    sandbox = Sandbox.start(max_messages=max(200_000, 2 * args.messages))
    try:
        group_id, nicknames = _create_group(sandbox)
        sandbox.client.clear()
        sandbox.client.set_faults(LABELS[0], error_rate=args.error_rate, error_status=500)
        run = uuid.uuid4().hex[:8]
        sandbox_cpu_before = sandbox.cpu_seconds()
        sent = _send_all(args, group_id=group_id, run=run)
        sent["cpu_seconds"]["sandbox"] = round(sandbox.cpu_seconds() - sandbox_cpu_before, 2)
        result.update(sent)
        result.update(_check(sandbox, run=run, total=args.messages, nicknames=nicknames))
    finally:
        sandbox.stop()
    result["load_average_at_end"] = _load_average()
    log(
        f"{result['messages_per_s']} messages/s; by provider {result['by_provider']}; "
        f"lost {result['lost']}, duplicates {result['duplicates']}"
    )
    print(json.dumps(result), flush=True)
    return 0 if result["lost"] == 0 and result["duplicates"] == 0 else 1


# --- database ---------------------------------------------------------------------------------


def _create_group(sandbox: Sandbox) -> tuple[int, dict[str, str]]:
    """Fresh providers and group for this run (new ids, so no circuit state carries over)."""
    from apps.providers.models import Provider, ProviderGroup
    from apps.providers.services import provider_create, provider_group_save

    ProviderGroup.objects.filter(name=GROUP_NAME).delete()
    Provider.objects.filter(channel="sms", nickname__in=NICKNAMES).delete()
    providers = [
        provider_create(
            channel="sms",
            kind="twilio",
            nickname=nickname,
            base_url=sandbox.client.url_for(label),
            credentials={"account_sid": ACCOUNT_SID, "auth_token": "bench-token"},
            settings={"from_number": "+15005550006"},
        )
        for label, nickname in zip(LABELS, NICKNAMES, strict=True)
    ]
    group = provider_group_save(name=GROUP_NAME, providers=providers)
    log(f"group {GROUP_NAME!r}: {NICKNAMES[0]} on /p/{LABELS[0]}, {NICKNAMES[1]} on /p/{LABELS[1]}")
    return group.pk, dict(zip(LABELS, NICKNAMES, strict=True))


# --- sending ----------------------------------------------------------------------------------


def _message(run: str, serial: int):
    from apps.providers.adapters.base import SmsMessage

    return SmsMessage(
        to=f"+1555{serial:07d}",
        body=f"Herald bench {run} #{serial}",
        idempotency_key=f"bench-{run}-{serial}",
    )


def _worker(
    *, group_id: int, run: str, threads: int, batches, results, ready, start
) -> None:  # runs in a forked worker process
    from django.core.cache import cache
    from django.db import connections

    from apps.providers.groups import group_send_sms
    from apps.providers.http import send_concurrently
    from apps.providers.models import ProviderGroup

    group = ProviderGroup.objects.get(pk=group_id)
    # A Celery worker is long-lived: the cache client and the HTTP session exist before its
    # first batch, so they are set up here, before the clock starts.
    cache.get("bench-providers-warm-up")
    send_concurrently([])
    connections.close_all()  # each thread opens its own connection

    def task() -> None:
        try:
            while True:
                batch = batches.get()
                if batch is None:
                    return
                results.put(_send_batch(group_send_sms, group, run, batch))
        finally:
            connections.close_all()

    ready.put(os.getpid())
    start.wait()
    pool = [threading.Thread(target=task) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def _send_batch(group_send_sms, group, run: str, batch: tuple[int, int]) -> dict:
    """One batch task: send, then send again what no provider took (the retried task)."""
    from apps.providers.adapters.base import SendStatus

    serials = list(range(*batch))
    by_provider: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    resent = 0
    for attempt in range(1 + EXTRA_ATTEMPTS):
        if not serials:
            break
        if attempt:
            resent += len(serials)
        outcome = group_send_sms(group=group, messages=[_message(run, s) for s in serials])
        retry = []
        for serial, (result, nickname) in zip(serials, outcome, strict=True):
            if result.status is SendStatus.ACCEPTED:
                by_provider[nickname] += 1
            elif result.status is SendStatus.RETRYABLE:
                retry.append(serial)
            else:
                statuses[f"permanent: {result.error}"] += 1
        serials = retry
    return {
        "accepted": dict(by_provider),
        "not_accepted": len(serials),
        "resent": resent,
        "permanent": dict(statuses),
    }


def _send_all(args, *, group_id: int, run: str) -> dict:
    from django.core.cache import cache
    from django.db import connections

    context = multiprocessing.get_context("fork")
    batches, results, ready = context.Queue(), context.Queue(), context.Queue()
    start = context.Event()
    ranges = [
        (low, min(low + args.batch_size, args.messages))
        for low in range(0, args.messages, args.batch_size)
    ]
    for batch in ranges:
        batches.put(batch)
    threads = args.concurrency
    for _ in range(args.processes * threads):
        batches.put(None)  # one stop mark per thread
    # Import the cache client once here rather than in each worker (its connections are
    # per process: redis-py opens new ones after fork).
    cache.get("bench-providers-warm-up")
    connections.close_all()  # never share a database connection across fork
    workers = [
        context.Process(
            target=_worker,
            kwargs={
                "group_id": group_id,
                "run": run,
                "threads": threads,
                "batches": batches,
                "results": results,
                "ready": ready,
                "start": start,
            },
            daemon=True,
        )
        for _ in range(args.processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=60)
    children_before = _children_cpu_seconds()
    log(
        f"sending {args.messages} messages in {len(ranges)} batches of {args.batch_size}: "
        f"{args.processes} processes x {threads} threads, {args.client} client"
    )
    started = time.perf_counter()
    start.set()
    accepted: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    permanent: Counter[str] = Counter()
    for done in range(1, len(ranges) + 1):
        try:
            summary = results.get(timeout=300)
        except queue.Empty:
            raise SystemExit("no batch finished within 300 s; is the sandbox up?") from None
        accepted.update(summary["accepted"])
        permanent.update(summary["permanent"])
        totals.update(not_accepted=summary["not_accepted"], resent=summary["resent"])
        if done % max(1, len(ranges) // 10) == 0:
            elapsed = time.perf_counter() - started
            log(f"{done}/{len(ranges)} batches, {sum(accepted.values()) / elapsed:.0f} msg/s")
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=30)
    return {
        # CPU the sending processes used (their start-up is before the clock, but counted
        # here): together with the sandbox's, a figure that does not depend on how busy the
        # machine was.
        "cpu_seconds": {"senders": round(_children_cpu_seconds() - children_before, 2)},
        "send_seconds": round(seconds, 3),
        "messages_per_s": round(args.messages / seconds),
        "accepted_reported": dict(accepted),
        "not_accepted": totals["not_accepted"],
        "resent": totals["resent"],
        "permanent": dict(permanent),
    }


# --- checking ---------------------------------------------------------------------------------


def _check(sandbox: Sandbox, *, run: str, total: int, nicknames: dict[str, str]) -> dict:
    """What the sandbox recorded, per serial: each must have been accepted exactly once."""
    health = sandbox.client.health()
    recorded = sandbox.client.messages(limit=max(1, 2 * total), order="asc")
    seen: Counter[int] = Counter()
    by_label: Counter[str] = Counter()
    foreign = 0
    for message in recorded:
        match = SERIAL.search(message["body"])
        if message["label"] not in nicknames or not match or f" {run} " not in message["body"]:
            foreign += 1
            continue
        seen[int(match[1])] += 1
        by_label[message["label"]] += 1
    if len(recorded) < sum(health["counts"].values()):
        raise SystemExit(
            "the sandbox dropped messages from its log; raise HERALD_SANDBOX_MAX_MESSAGES"
        )
    requests = {label: health["requests"].get(label, 0) for label in nicknames}
    first, second = LABELS
    failed_at_first = requests[first] - health["counts"].get(first, 0)
    return {
        "by_provider": {nicknames[label]: by_label[label] for label in nicknames},
        "lost": sum(1 for serial in range(total) if serial not in seen),
        "duplicates": sum(count - 1 for count in seen.values() if count > 1),
        "unexpected_recorded": foreign,
        # Requests the first provider answered without taking the message (its 5xx).
        "retryable_first_provider": failed_at_first,
        # Messages that went straight to the second provider: the first one's circuit was
        # open (the second never fails, so everything else it took had failed at the first).
        "skipped_first_provider": max(0, by_label[second] - failed_at_first),
        "http_requests": sum(requests.values()),
        "http_requests_by_provider": {nicknames[label]: n for label, n in requests.items()},
    }


# --- the sandbox ------------------------------------------------------------------------------


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


if __name__ == "__main__":
    sys.exit(main())
