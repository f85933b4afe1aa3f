"""bench/fanout.py's check: every run row against what the sandbox recorded under its
platform's provider label — nothing lost, nothing twice, each device through its own
platform's provider."""

from __future__ import annotations

from collections import Counter

from bench.fanout_routes import PlatformRoute
from bench.sandbox_process import Sandbox


def run_check(
    sandbox: Sandbox, run, routes: dict[str, PlatformRoute], *, started_at: float
) -> dict:
    """Every run row against what the sandbox recorded under its platform's provider label."""
    from apps.delivery.models import Message, MessageStatus

    counts = sandbox.client.health()["counts"]
    seen: dict[str, Counter[str]] = {}
    last_at: dict[str, float] = {}
    for route in routes.values():
        recorded = sandbox.client.messages(route.label, limit=2 * max(run.recipients, 1) + 1000)
        if len(recorded) < counts.get(route.label, 0):
            raise SystemExit("the sandbox dropped records; raise HERALD_SANDBOX_MAX_MESSAGES")
        seen[route.label] = Counter(message["recipient"] for message in recorded)
        last_at[route.label] = max((m["received_at"] for m in recorded), default=started_at)
        del recorded
    rows = (
        Message.objects.filter(run=run)
        .exclude(status=MessageStatus.CONTROL)
        .values_list("device__platform", "device__push_token", "status")
        .iterator(chunk_size=20_000)
    )
    expected: dict[str, set[str]] = {route.label: set() for route in routes.values()}
    devices: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    not_sent = missing = lost = 0
    for platform, token, status in rows:
        route = routes.get(platform)
        label_seen = seen[route.label] if route else Counter()
        if route and token:
            expected[route.label].add(token)
        devices[platform] += 1
        sent[platform] += status == MessageStatus.SENT
        row_not_sent, token_missing = status != MessageStatus.SENT, token not in label_seen
        not_sent += row_not_sent
        missing += token_missing
        lost += row_not_sent or token_missing  # a recipient counts once, whichever shows it
    by_platform = {
        platform: {
            "devices": devices[platform],
            "sent": sent[platform],
            "recorded": counts.get(route.label, 0),
            "provider_kind": route.kind,
            "provider_label": route.label,
            "done_after_s": round(last_at[route.label] - started_at, 2),
        }
        for platform, route in routes.items()
    }
    duplicates = sum(n - 1 for tokens in seen.values() for n in tokens.values() if n > 1)
    unexpected = sum(
        1 for label, tokens in seen.items() for token in tokens if token not in expected[label]
    )
    return {
        "sandbox_recorded": sum(counts.values()),
        "not_sent": not_sent,
        "missing_at_sandbox": missing,
        "lost": lost,
        "duplicates": duplicates,
        # Recorded tokens that are no run device of the label's platform, and deliveries
        # under any other label: a device that went through the wrong provider shows here.
        "unexpected_recorded": unexpected
        + sum(n for label, n in counts.items() if label not in expected),
        "by_platform": by_platform,
    }
