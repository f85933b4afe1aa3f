"""The baseline bench/fanout.py compares Herald with: how fast a bare asyncio + aiohttp loop
sends the same number of FCM v1 requests to the same sandbox — no database, no Celery, no
rendering, no routing, nothing but the requests.

Every body is built before the clock starts: the JSON Herald's FCM adapter sends for an
Android device (FcmAdapter.payload of the message campaigns.messages.push_message makes,
with the run identity the engine adds), encoded as Herald encodes it, one per token. The
access token is fetched once from the sandbox's /token. Then `concurrency` coroutines pull
the next body off one shared iterator and POST it over one pooled
`aiohttp.TCPConnector(limit=64)`; only the sends are timed. The sandbox records them under
a label of their own (BASELINE_LABEL), so they never mix with Herald's counts."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator

import aiohttp
import httpx

from bench.fanout_routes import PROJECT_ID
from bench.fanout_seed import FCM_TOKEN_PREFIX
from bench.sandbox_process import Sandbox, log

BASELINE_LABEL = "bench-baseline"
CONNECTIONS = 64


def baseline_bodies(count: int) -> list[bytes]:
    """One encoded FCM v1 request body per token, exactly as Herald writes it for the bench
    campaign's Android devices (title "Hi Bench <n>", body "Sale today")."""
    from dataclasses import replace

    from apps.campaigns.messages import push_message
    from apps.providers.adapters.base import ProviderConfig
    from apps.providers.kinds.fcm.adapter import FcmAdapter

    adapter = FcmAdapter(
        ProviderConfig(kind="fcm", nickname="baseline", base_url="", credentials={}, settings={})
    )
    bodies = []
    for n in range(1, count + 1):
        message = push_message(
            f"{FCM_TOKEN_PREFIX}{n:012d}",
            "android",
            {"title": f"Hi Bench {n}", "body": "Sale today"},
        )
        identity = {"wzrk_id": "1_1", "wzrk_pivot": "A", "herald_mid": str(n)}
        message = replace(message, data={**message.data, **identity})
        # What apps.providers.http.wire_request writes for a `json=` body.
        bodies.append(
            json.dumps(
                adapter.payload(message), ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
        )
    return bodies


def _access_token(base_url: str) -> str:
    from apps.providers.kinds.fcm.adapter import JWT_BEARER, signed_assertion
    from apps.providers.services import throwaway_fcm_service_account

    account = json.loads(
        throwaway_fcm_service_account(token_uri=base_url + "/token", project_id=PROJECT_ID)
    )
    answer = httpx.post(
        base_url + "/token",
        data={"grant_type": JWT_BEARER, "assertion": signed_assertion(account)},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


async def _send_all(
    url: str, token: str, bodies: list[bytes], concurrency: int
) -> tuple[float, Counter]:
    """Seconds to send every body, and the answers' statuses (exceptions by class name)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    statuses: Counter = Counter()
    connector = aiohttp.TCPConnector(limit=CONNECTIONS, keepalive_timeout=30)
    timeout = aiohttp.ClientTimeout(total=None, connect=3, sock_read=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        queue: Iterator[bytes] = iter(bodies)

        async def sender() -> None:
            # One event loop: next() on the shared iterator is never interleaved.
            for body in queue:
                try:
                    async with session.post(url, data=body, headers=headers) as answer:
                        await answer.read()
                        statuses[answer.status] += 1
                except (aiohttp.ClientError, OSError) as error:
                    statuses[type(error).__name__] += 1

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return time.perf_counter() - started, statuses


def run_baseline(sandbox: Sandbox, *, count: int, concurrency: int = CONNECTIONS) -> dict:
    """Send `count` ready-made FCM requests to the sandbox's BASELINE_LABEL and check it
    recorded each token exactly once."""
    base_url = sandbox.client.url_for(BASELINE_LABEL)
    started = time.monotonic()
    bodies = baseline_bodies(count)
    token = _access_token(base_url)
    log(f"baseline: {count:,} FCM bodies built in {time.monotonic() - started:.1f} s")
    url = f"{base_url}/v1/projects/{PROJECT_ID}/messages:send"
    seconds, statuses = asyncio.run(_send_all(url, token, bodies, concurrency))
    del bodies
    recorded = sandbox.client.counts().get(BASELINE_LABEL, 0)
    tokens = Counter(
        message["recipient"]
        for message in sandbox.client.messages(BASELINE_LABEL, limit=2 * count + 1000)
    )
    result = {
        # Requests the sandbox accepted, per second of sending.
        "baseline_messages_per_s": round(statuses[200] / seconds) if seconds else 0,
        "baseline_s": round(seconds, 2),
        "baseline_concurrency": concurrency,
        "baseline_recorded": recorded,
        "baseline_duplicates": sum(n - 1 for n in tokens.values() if n > 1),
        "baseline_answers": {str(status): n for status, n in sorted(statuses.items(), key=str)},
    }
    log(
        f"baseline: {count:,} sends in {seconds:.2f} s ({result['baseline_messages_per_s']}/s), "
        f"sandbox recorded {recorded:,}"
    )
    if recorded != count or result["baseline_duplicates"]:
        log(f"baseline: the sandbox recorded {recorded:,} messages for {count:,} sends")
    return result
