"""What the sandbox has received and what it was told to do wrong, kept in memory.

One asyncio process owns it, so plain containers need no locks. The message log is bounded
(a deque) so a long benchmark cannot exhaust memory; the per-label counts are never
truncated, so a benchmark can still check every message arrived exactly once."""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from dataclasses import asdict
from typing import Any

from django.conf import settings

from apps.providers.sandbox.wire import Delivery, FaultPlan

FAULT_FIELDS = ("error_rate", "error_status", "timeout_rate", "latency_ms", "reject_recipients")


class SandboxState:
    def __init__(self, max_messages: int | None = None) -> None:
        # A benchmark sending more than HERALD_SANDBOX_MAX_MESSAGES raises it.
        if max_messages is None:
            max_messages = settings.HERALD_SANDBOX_MAX_MESSAGES
        self.messages: deque[dict[str, Any]] = deque(maxlen=max_messages)
        self.counts: Counter[str] = Counter()
        self.faults: dict[str, FaultPlan] = {}
        self.requests: Counter[str] = Counter()
        # (label, Idempotency-Key) -> the reply that delivered it; bounded like the log.
        self.replies: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.max_replies = max_messages

    # -- idempotency --------------------------------------------------------------------
    def replay(self, label: str, key: str) -> Any | None:
        return self.replies.get((label, key))

    def remember(self, label: str, key: str, reply: Any) -> None:
        self.replies[(label, key)] = reply
        if len(self.replies) > self.max_replies:
            self.replies.popitem(last=False)

    # -- deliveries ---------------------------------------------------------------------
    def record(self, *, label: str, kind: str, delivery: Delivery) -> dict[str, Any]:
        message = {
            "label": label,
            "kind": kind,
            "recipient": delivery.recipient,
            "subject": delivery.subject,
            "body": delivery.body,
            "provider_message_id": delivery.provider_message_id,
            "received_at": time.time(),
            "extra": delivery.extra,
        }
        self.messages.append(message)
        self.counts[label] += 1
        return message

    def list_messages(
        self, *, label: str | None = None, limit: int = 100, newest_first: bool = True
    ) -> list[dict[str, Any]]:
        source = reversed(self.messages) if newest_first else iter(self.messages)
        found = []
        for message in source:
            if label is None or message["label"] == label:
                found.append(message)
                if len(found) >= limit:
                    break
        return found

    def clear(self) -> None:
        self.messages.clear()
        self.counts.clear()
        self.replies.clear()
        self.requests.clear()

    # -- faults -------------------------------------------------------------------------
    def faults_for(self, label: str) -> FaultPlan:
        return self.faults.get(label) or _NO_FAULTS

    def set_faults(self, label: str, plan: FaultPlan) -> None:
        self.faults[label] = plan

    def reset_faults(self) -> None:
        self.faults.clear()

    def describe_faults(self) -> dict[str, dict[str, Any]]:
        return {label: fault_plan_as_dict(plan) for label, plan in self.faults.items()}


_NO_FAULTS = FaultPlan()


def fault_plan_from_dict(raw: dict[str, Any]) -> FaultPlan:
    """A FaultPlan from the control API's JSON; raises ValueError naming the bad field."""
    unknown = set(raw) - set(FAULT_FIELDS)
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in ("error_rate", "timeout_rate"):
        if name in raw:
            try:
                rate = float(raw[name])
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number between 0 and 1") from None
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
            values[name] = rate
    for name, low, high in (("error_status", 100, 599), ("latency_ms", 0, 600_000)):
        if name in raw:
            try:
                number = int(raw[name])
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be an integer") from None
            if not low <= number <= high:
                raise ValueError(f"{name} must be between {low} and {high}")
            values[name] = number
    if "reject_recipients" in raw:
        recipients = raw["reject_recipients"] or []
        if isinstance(recipients, str) or not isinstance(recipients, list | tuple):
            raise ValueError("reject_recipients must be a list of recipients")
        values["reject_recipients"] = frozenset(str(r) for r in recipients)
    return FaultPlan(**values)


def fault_plan_as_dict(plan: FaultPlan) -> dict[str, Any]:
    described = asdict(plan)
    described["reject_recipients"] = sorted(plan.reject_recipients)
    return described
