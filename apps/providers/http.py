"""One pooled HTTP client per process for every provider call: connections to a provider
are reused across messages and batches (TLS and TCP set-up dominate small requests)."""

import threading

import httpx

# Timeouts: connecting should be quick; a provider that has not answered in 10 s is treated
# as a retryable failure by the adapters.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=30)

_client: httpx.Client | None = None
_lock = threading.Lock()


def http_client() -> httpx.Client:
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = httpx.Client(timeout=DEFAULT_TIMEOUT, limits=_LIMITS)
    return _client
