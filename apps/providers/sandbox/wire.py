"""The contract between the sandbox server and the per-provider wire formats it answers.

The sandbox serves every provider under a label prefix: a provider configured with base URL
`http://127.0.0.1:<port>/p/<label>` reaches `/p/<label>/<the provider's real path>`. The
core (apps/providers/sandbox/server.py) strips the prefix, applies the faults injected for
that label (added latency, timeouts, a share of 5xx answers) and hands the request to the
first Wire whose route matches. The Wire checks the request the way the real provider would
(auth header, required fields), and answers in the provider's own success or error format,
listing the messages it accepted so the core records them for the inbox.

Each provider kind's wire is its package's wire.py (apps/providers/kinds/<kind>/wire.py), a
module-level `WIRE = SomeWire()`; `apps.providers.kinds.sandbox_wires()` lists them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs


@dataclass(frozen=True)
class FaultPlan:
    """What a label was told to do wrong. The core handles latency, timeouts and 5xx;
    the Wire handles rejections, because only it knows the provider's error format."""

    error_rate: float = 0.0  # share of requests answered with `error_status`
    error_status: int = 500
    timeout_rate: float = 0.0  # share of requests that hang past any client timeout
    latency_ms: int = 0
    reject_recipients: frozenset[str] = frozenset()  # answered as permanently invalid

    def rejects(self, recipient: str) -> bool:
        return recipient in self.reject_recipients


@dataclass(frozen=True)
class SandboxRequest:
    label: str
    method: str
    path: str  # after the /p/<label> prefix, starting with "/"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The JSON body; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)


@dataclass(frozen=True)
class Delivery:
    """One message the sandbox accepted, as the inbox shows it."""

    recipient: str
    body: str
    provider_message_id: str
    subject: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class WireReply:
    status: int
    body: Any  # dict/list → JSON; str/bytes → sent as is with `content_type`
    content_type: str = "application/json"
    deliveries: list[Delivery] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


class Wire:
    """A provider's wire format. `routes` are (method, regex over the path)."""

    kind: ClassVar[str]
    routes: ClassVar[list[tuple[str, str]]]

    def matches(self, method: str, path: str) -> re.Match | None:
        for route_method, pattern in self.routes:
            if route_method == method:
                match = re.fullmatch(pattern, path)
                if match:
                    return match
        return None

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        raise NotImplementedError
