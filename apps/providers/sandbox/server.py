"""The local provider sandbox: one aiohttp application answering every provider's wire
format under `/p/<label>/…`, plus a control API under `/_sandbox/`.

It runs as a single asyncio process and keeps everything in memory: the benchmark pushes
well over a thousand requests a second through it, so a request costs a dict lookup, a
regex match and an append — no disk, no database, no access log."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from apps.providers.kinds import sandbox_wires
from apps.providers.sandbox.state import SandboxState, fault_plan_as_dict, fault_plan_from_dict
from apps.providers.sandbox.wire import FaultPlan, SandboxRequest, Wire, WireReply

log = logging.getLogger(__name__)

# A "timed out" request hangs this long: far past any client timeout (ours is 10 s), yet
# each hang is only a sleeping coroutine, so other requests are served meanwhile.
TIMEOUT_HANG_S = 60.0

STATE_KEY = web.AppKey("sandbox_state", SandboxState)
WIRES_KEY = web.AppKey("sandbox_wires", list)
ROUTES_KEY = web.AppKey("sandbox_routes", dict)
ROUTE_CACHE_SIZE = 4096
SMTP_PORT_KEY = web.AppKey("sandbox_smtp_port", int)

_random = random.Random()


def create_app(*, state: SandboxState | None = None, wires: list[Wire] | None = None):
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[STATE_KEY] = state if state is not None else SandboxState()
    app[WIRES_KEY] = wires if wires is not None else sandbox_wires()
    app[ROUTES_KEY] = {}
    app.router.add_get("/_sandbox/health", health)
    app.router.add_get("/_sandbox/messages", messages_list)
    app.router.add_delete("/_sandbox/messages", messages_clear)
    app.router.add_get("/_sandbox/faults", faults_list)
    app.router.add_put("/_sandbox/faults/{label}", faults_set)
    app.router.add_delete("/_sandbox/faults/{label}", faults_reset_one)
    app.router.add_delete("/_sandbox/faults", faults_reset)
    app.router.add_route("*", "/p/{label}/{tail:.*}", provider_request)
    app.router.add_route("*", "/p/{label}", provider_request)
    return app


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, default=str).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


# -- provider traffic ---------------------------------------------------------------------
async def provider_request(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    label = request.match_info["label"]
    path = "/" + request.match_info.get("tail", "")
    state.requests[label] += 1
    faults = state.faults_for(label)

    if faults.latency_ms or faults.timeout_rate or faults.error_rate:
        injected = await apply_faults(faults)
        if injected is not None:
            return injected

    body = await request.read()
    query_string = request.query_string
    sandbox_request = SandboxRequest(
        label=label,
        method=request.method,
        path=path,
        query=parse_qs(query_string, keep_blank_values=True) if query_string else {},
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
    )
    found = _route(request.app, request.method, path)
    if found is not None:
        # An idempotent provider: a request repeating an Idempotency-Key it already accepted
        # gets the first answer again and delivers nothing new (IETF draft
        # "The Idempotency-Key HTTP Header Field"; Herald sends it with every per-message
        # request, so a send retried after a worker crash cannot reach a person twice here).
        idempotency_key = sandbox_request.headers.get("idempotency-key", "")
        if idempotency_key and (earlier := state.replay(label, idempotency_key)) is not None:
            return _reply_response(earlier)
        wire, match = found
        try:
            reply = wire.handle(sandbox_request, match, faults)
        except Exception as error:  # a wire bug must show up as an answer, not a hang
            log.exception("sandbox wire %s failed on %s %s", wire.kind, request.method, path)
            return _json({"error": f"sandbox wire {wire.kind} failed: {error!r}"}, status=500)
        for delivery in reply.deliveries:
            state.record(label=label, kind=wire.kind, delivery=delivery)
        if idempotency_key and reply.deliveries:
            state.remember(label, idempotency_key, reply)
        return _reply_response(reply)
    return _json(
        {"error": f"the sandbox has no wire format for {request.method} {path}", "path": path},
        status=404,
    )


def _route(app: web.Application, method: str, path: str) -> tuple[Wire, re.Match] | None:
    """The first wire whose route matches. A benchmark sends thousands of requests to the
    same path, so answers are remembered (bounded: push paths carry a device token)."""
    routes = app[ROUTES_KEY]
    key = (method, path)
    if key in routes:
        return routes[key]
    found = None
    for wire in app[WIRES_KEY]:
        match = wire.matches(method, path)
        if match is not None:
            found = (wire, match)
            break
    if len(routes) >= ROUTE_CACHE_SIZE:
        routes.clear()
    routes[key] = found
    return found


async def apply_faults(faults: FaultPlan) -> web.Response | None:
    """Latency first (it applies to every request), then a hang or an injected error."""
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.timeout_rate and _random.random() < faults.timeout_rate:
        await asyncio.sleep(TIMEOUT_HANG_S)
        return _json({"error": "sandbox injected timeout"}, status=504)
    if faults.error_rate and _random.random() < faults.error_rate:
        return _json({"error": "sandbox injected fault"}, status=faults.error_status)
    return None


def _reply_response(reply: WireReply) -> web.Response:
    if isinstance(reply.body, dict | list):
        payload = json.dumps(reply.body).encode()
        content_type = "application/json"
    else:
        payload = reply.body.encode() if isinstance(reply.body, str) else (reply.body or b"")
        content_type = reply.content_type
    headers = {"Content-Type": content_type, **reply.headers}
    return web.Response(body=payload, status=reply.status, headers=headers)


# -- control API --------------------------------------------------------------------------
async def health(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return _json(
        {
            "ok": True,
            "wires": sorted(wire.kind for wire in request.app[WIRES_KEY]),
            "stored": len(state.messages),
            "counts": dict(state.counts),
            "requests": dict(state.requests),
            "smtp_port": request.app.get(SMTP_PORT_KEY),
        }
    )


async def messages_list(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    label = request.query.get("label") or None
    try:
        limit = int(request.query.get("limit", "1000"))
        if limit < 1:
            raise ValueError
    except ValueError:
        return _json({"error": "limit must be a positive integer"}, status=400)
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        return _json({"error": "order must be asc or desc"}, status=400)
    found = state.list_messages(label=label, limit=limit, newest_first=order == "desc")
    return _json({"messages": found, "counts": dict(state.counts), "stored": len(state.messages)})


async def messages_clear(request: web.Request) -> web.Response:
    request.app[STATE_KEY].clear()
    return _json({"cleared": True})


async def faults_list(request: web.Request) -> web.Response:
    return _json({"faults": request.app[STATE_KEY].describe_faults()})


async def faults_set(request: web.Request) -> web.Response:
    label = request.match_info["label"]
    try:
        raw = await request.json()
        if not isinstance(raw, dict):
            raise ValueError("the body must be a JSON object of FaultPlan fields")
        plan = fault_plan_from_dict(raw)
    except ValueError as error:
        return _json({"error": str(error)}, status=400)
    request.app[STATE_KEY].set_faults(label, plan)
    return _json({"label": label, "faults": fault_plan_as_dict(plan)})


async def faults_reset_one(request: web.Request) -> web.Response:
    request.app[STATE_KEY].faults.pop(request.match_info["label"], None)
    return _json({"reset": request.match_info["label"]})


async def faults_reset(request: web.Request) -> web.Response:
    request.app[STATE_KEY].reset_faults()
    return _json({"reset": True})


# -- running ------------------------------------------------------------------------------
async def start_http(app: web.Application, *, host: str, port: int) -> web.AppRunner:
    # No access log: at benchmark rates it would cost more than answering. A short shutdown
    # timeout, because injected timeouts leave requests sleeping for a minute.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    return runner
