"""Throttling: a token bucket per key ("campaign:42", "channel:push") in Redis, shared by every
worker, so a campaign set to 1,000 messages a minute sends 1,000 a minute however many batches
run at once.

    wait = throttle.acquire("channel:push", len(batch), 6000)
    time.sleep(wait)   # then send the batch; do NOT call acquire again for the same messages

acquire *reserves*: it always takes the n tokens, letting the bucket go into debt, and says how
long the caller must wait until the debt is paid — one round trip per batch, no polling, and
workers are served in the order they asked. A caller that nevertheless asks again after
waiting only sends slower (it paid twice), never faster. Keep n to a few seconds' worth of
the rate: a worker that dies while waiting wastes the tokens it reserved.

The bucket holds at most BURST_SECONDS of the rate, so an idle campaign may start with that
small burst; from then on tokens come at exactly rate/60 a second. The clock is Redis's own
(TIME inside the script), so the workers' clocks never have to agree.

The script runs by EVALSHA (the body is sent once per Redis server) and falls back to EVAL
when the server does not know it (restarted, flushed). Without Redis (the embedded default:
one worker process) the same maths runs in process memory.
"""

from __future__ import annotations

import hashlib
import threading
import time
from functools import cache

import redis
from django.conf import settings

BURST_SECONDS = 1.0
KEY_PREFIX = "herald:throttle:"

# KEYS[1]: the bucket (a hash: tokens, ts). ARGV: n, tokens per second, capacity, and a clock
# reading in seconds ("" = Redis TIME; tests pass one to check the maths deterministically).
# Returns the wait in seconds, as a string (Redis would truncate a Lua number to an integer).
ACQUIRE_LUA = """
local n = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
tokens = tokens - n
-- %.6f: tostring keeps 14 digits, which would round the clock to 0.1 ms and leak tokens.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%.6f', ts))
local wait = 0
if tokens < 0 then
  wait = -tokens / rate
end
-- Forget the bucket once it would be full again: an idle key costs nothing.
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + capacity / rate) * 1000) + 1000)
return string.format('%.6f', wait)
"""
ACQUIRE_SHA = hashlib.sha1(ACQUIRE_LUA.encode()).hexdigest()


def capacity_for(rate_per_minute: int) -> float:
    return max(1.0, rate_per_minute / 60.0 * BURST_SECONDS)


@cache
def _client() -> redis.Redis | None:
    url = getattr(settings, "REDIS_URL", "")
    return redis.Redis.from_url(url) if url else None


def acquire(key: str, n: int, rate_per_minute: int | None, *, now: float | None = None) -> float:
    """Take `n` tokens from the bucket `key` refilled at `rate_per_minute`; return the seconds
    to wait before sending them (0.0: go now). No rate (None or below 1) or nothing to take:
    0.0 without touching Redis. `now` (seconds) replaces the server's clock, for tests."""
    if not rate_per_minute or rate_per_minute < 1 or n <= 0:
        return 0.0
    rate = rate_per_minute / 60.0
    capacity = capacity_for(rate_per_minute)
    client = _client()
    if client is None:
        return _local_acquire(key, n, rate, capacity, now)
    args = (n, repr(rate), repr(capacity), "" if now is None else repr(now))
    full_key = KEY_PREFIX + key
    try:
        wait = client.evalsha(ACQUIRE_SHA, 1, full_key, *args)
    except redis.exceptions.NoScriptError:
        wait = client.eval(ACQUIRE_LUA, 1, full_key, *args)  # also caches it under its SHA
    return max(0.0, float(wait))


def reset(key: str) -> None:
    """Forget a bucket (tests; a campaign whose rate changed starts afresh)."""
    client = _client()
    if client is None:
        _local_buckets.pop(key, None)
    else:
        client.delete(KEY_PREFIX + key)


# --- Without Redis: the same bucket in this process ----------------------------------------------

_local_lock = threading.Lock()
_local_buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, ts)


def _local_acquire(key: str, n: int, rate: float, capacity: float, now: float | None) -> float:
    with _local_lock:
        clock = time.time() if now is None else now
        tokens, ts = _local_buckets.get(key, (capacity, clock))
        if clock > ts:
            tokens, ts = min(capacity, tokens + (clock - ts) * rate), clock
        tokens -= n
        _local_buckets[key] = (tokens, ts)
    return 0.0 if tokens >= 0 else -tokens / rate
