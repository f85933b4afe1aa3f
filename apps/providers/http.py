"""Pooled HTTP clients for every provider call: connections to a provider are reused across
messages and batches (TLS and TCP set-up dominate small requests).

Two clients, one contract (an `httpx.Response` per request, or the transport exception):
- `http_client()`: one shared `httpx.Client`, one request at a time per calling thread.
  Used for single calls (test sends, token fetches) and for adapters that send one by one.
- `send_concurrently()`: a whole batch of requests in flight at once over one shared
  aiohttp session whose event loop runs in a daemon thread of its own. SMS adapters send a
  batch this way when HERALD_PROVIDER_HTTP_CLIENT is "aiohttp" (the default): per request
  it costs about a quarter of the client CPU of httpx (a C HTTP parser, no thread per
  request in flight), which bench/providers.py measures with `--client httpx|aiohttp`.
  The usual requests (a JSON or form body, headers) are encoded by `wire_request` exactly as
  httpx encodes them — same body bytes, same headers — without building an httpx.Request
  per message, which cost the fan-out as much CPU as rendering the messages; anything else
  is built by httpx. The answer to a wire request is a WireResponse, which offers what the
  adapters read of an httpx.Response (status, reason, headers, text, json) for less than
  the httpx.Response did."""

from __future__ import annotations

import asyncio
import atexit
import base64
import json as jsonlib
import os
import re
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from django.conf import settings

# Timeouts: connecting should be quick; a provider that has not answered in 10 s is treated
# as a retryable failure by the adapters.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30)
PROVIDER_HTTP_CLIENTS = ("aiohttp", "httpx")

_client: httpx.Client | None = None
_http2_client: httpx.Client | None = None
_lock = threading.Lock()


def http_client() -> httpx.Client:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = httpx.Client(timeout=DEFAULT_TIMEOUT, limits=_LIMITS)
    return _client


def http2_client() -> httpx.Client:
    """A pooled client that speaks HTTP/2 where the server offers it over TLS (ALPN), as APNs
    requires, and HTTP/1.1 otherwise (the plain-HTTP sandbox). One HTTP/2 connection carries
    many requests at once, which is how Apple expects a sender to use it."""
    global _http2_client
    if _http2_client is None:
        with _lock:
            if _http2_client is None:
                _http2_client = httpx.Client(timeout=DEFAULT_TIMEOUT, limits=_LIMITS, http2=True)
    return _http2_client


def provider_http_client_name() -> str:
    """Which client sends an adapter's batch (settings.HERALD_PROVIDER_HTTP_CLIENT)."""
    name = settings.HERALD_PROVIDER_HTTP_CLIENT
    if name not in PROVIDER_HTTP_CLIENTS:
        raise ValueError(
            f"HERALD_PROVIDER_HTTP_CLIENT must be one of {', '.join(PROVIDER_HTTP_CLIENTS)}, "
            f"not {name!r}"
        )
    return name


def provider_http_concurrency() -> int:
    concurrency = settings.HERALD_PROVIDER_HTTP_CONCURRENCY
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(
            f"HERALD_PROVIDER_HTTP_CONCURRENCY must be a positive integer: {concurrency!r}"
        )
    return concurrency


def basic_auth_header(username: str, password: str) -> str:
    """What httpx sends for auth=(username, password)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


@dataclass(frozen=True, slots=True)
class WireRequest:
    """A request as it goes on the wire: what send_concurrently needs, and no more."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None


class WireResponse:
    """The answer to a WireRequest: what adapters read of a response (status_code,
    reason_phrase, headers, content, text, json()) without an httpx.Response per message.
    The body is decoded (gzip, deflate) and read as text the way httpx reads it."""

    __slots__ = ("_headers", "_raw_headers", "content", "status_code")

    def __init__(self, status: int, raw_headers: Sequence[tuple[bytes, bytes]], body: bytes):
        self.status_code = status
        self._raw_headers = raw_headers
        self._headers: httpx.Headers | None = None
        encoding = next(
            (
                v.decode("latin-1").lower()
                for k, v in raw_headers
                if k.lower() == b"content-encoding"
            ),
            "",
        )
        if body and encoding in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif body and encoding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        self.content = body

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(list(self._raw_headers))
        return self._headers

    @property
    def reason_phrase(self) -> str:
        return httpx.codes.get_reason_phrase(self.status_code)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        charset = self.headers.get("content-type", "")
        match = re.search(r"charset=([\w.:-]+)", charset, re.IGNORECASE)
        try:
            return self.content.decode(match[1] if match else "utf-8", errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self, **kwargs: Any) -> Any:
        return jsonlib.loads(self.content, **kwargs)


_default_headers: tuple[tuple[str, str], ...] | None = None


def _form_value(value: Any) -> str:
    """httpx's primitive_value_to_str."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def wire_request(method: str, url: str, options: dict[str, Any]) -> WireRequest | None:
    """The request httpx would build for `options` (headers plus a json, data or content
    body), or None when the options need httpx itself (params, files, …)."""
    global _default_headers
    if not options.keys() <= {"headers", "json", "data", "content"}:
        return None
    if _default_headers is None:
        _default_headers = tuple(http_client().headers.multi_items())
    headers = {name.lower(): (name, str(value)) for name, value in _default_headers}
    for name, value in (options.get("headers") or {}).items():
        headers[name.lower()] = (name, str(value))
    body: bytes | None = None
    content_type = ""
    if options.get("json") is not None:
        body = jsonlib.dumps(
            options["json"], ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
        content_type = "application/json"
    elif options.get("data"):
        data = options["data"]
        if not isinstance(data, dict):
            return None
        pairs = []
        for key, value in data.items():
            items = value if isinstance(value, list | tuple) else [value]
            pairs.extend((key, _form_value(item)) for item in items)
        body = urlencode(pairs, doseq=True).encode("utf-8")
        content_type = "application/x-www-form-urlencoded"
    elif options.get("content") is not None:
        content = options["content"]
        if not isinstance(content, bytes | str):
            return None
        body = content.encode("utf-8") if isinstance(content, str) else content
    if body is not None:
        headers.setdefault("content-length", ("Content-Length", str(len(body))))
        if content_type:
            headers.setdefault("content-type", ("Content-Type", content_type))
    return WireRequest(method.upper(), url, tuple(headers.values()), body)


class _AiohttpSender:
    """One asyncio loop in a daemon thread owning one aiohttp session (its connection pool),
    shared by every thread of the process. Created per process: a forked worker (Celery
    prefork) gets its own, because threads do not survive fork."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="provider-http", daemon=True
        )
        self.thread.start()
        self.session: aiohttp.ClientSession = self._run(self._open())

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=30)
        # Bodies are passed on still encoded: httpx decodes them, exactly as when it sends.
        return aiohttp.ClientSession(connector=connector, auto_decompress=False)

    def send(
        self,
        requests: Sequence[httpx.Request | WireRequest],
        timeout: httpx.Timeout,
        concurrency: int,
    ) -> list[httpx.Response | WireResponse | Exception]:
        return self._run(self._send_all(requests, timeout, concurrency))

    async def _send_all(self, requests, timeout: httpx.Timeout, concurrency: int):
        limit = asyncio.Semaphore(concurrency)
        client_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=(timeout.pool or 0) + (timeout.connect or 0) or None,
            sock_connect=timeout.connect,
            sock_read=timeout.read,
        )

        async def one(
            request: httpx.Request | WireRequest,
        ) -> httpx.Response | WireResponse | Exception:
            if isinstance(request, WireRequest):
                url, items, payload = request.url, request.headers, request.body
            else:
                url, payload = str(request.url), request.content
                items = request.headers.multi_items()
            headers = [
                (name, value)
                for name, value in items
                # aiohttp writes its own
                if name.lower() not in ("host", "content-length")
            ]
            async with limit:
                try:
                    async with self.session.request(
                        request.method,
                        url,
                        headers=headers,
                        data=payload or None,
                        timeout=client_timeout,
                        allow_redirects=False,
                    ) as answer:
                        body = await answer.read()
                        raw_headers = answer.raw_headers
                        status = answer.status
                except (aiohttp.ClientError, OSError, ValueError) as error:
                    # TimeoutError is an OSError; the caller tells the two apart.
                    return error
            if isinstance(request, WireRequest):
                return WireResponse(status, raw_headers, body)
            return httpx.Response(status, headers=raw_headers, content=body, request=request)

        return await asyncio.gather(*(one(request) for request in requests))

    def close(self) -> None:
        if not self.loop.is_running():
            return
        try:
            self._run(self.session.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            if not self.thread.is_alive():
                self.loop.close()


_sender: _AiohttpSender | None = None


def send_concurrently(
    requests: Sequence[httpx.Request | WireRequest],
    *,
    timeout: httpx.Timeout | None = None,
    concurrency: int | None = None,
) -> list[httpx.Response | WireResponse | Exception]:
    """Send every request, up to `concurrency` at a time, over the shared aiohttp session.
    One entry per request, in order: its response (any status; a WireResponse for a
    WireRequest, an httpx.Response for an httpx.Request), or the exception that
    stopped it (a TimeoutError for a timeout, else an aiohttp.ClientError or OSError)."""
    global _sender
    if _sender is None or _sender.pid != os.getpid():
        with _lock:
            if _sender is None or _sender.pid != os.getpid():
                _sender = _AiohttpSender()
    return _sender.send(
        requests, timeout or DEFAULT_TIMEOUT, concurrency or provider_http_concurrency()
    )


@atexit.register
def _close_sender() -> None:
    global _sender
    sender, _sender = _sender, None
    if sender is not None and sender.pid == os.getpid():
        sender.close()


# A forked child must not inherit a live session: its sockets and the loop's epoll instance
# would be shared with the parent, and the child's copy closing them would unregister the
# parent's connections from that epoll (the parent's reads then hang until they time out).
# So the parent closes its session just before forking; the next batch on either side opens
# a new one. Workers fork when they start, not per batch, so the pool is rarely lost.
os.register_at_fork(before=_close_sender)
