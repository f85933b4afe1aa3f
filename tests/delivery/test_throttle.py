"""The throttle's token bucket in Redis: its maths with a given clock, and its rate measured
with two threads drawing from one bucket."""

import threading
import time
import uuid

import pytest

from apps.delivery import throttle


@pytest.fixture
def key():
    name = f"test:{uuid.uuid4().hex}"
    yield name
    throttle.reset(name)


def test_no_rate_means_no_wait_and_no_bucket(key):
    assert throttle.acquire(key, 100, None) == 0.0
    assert throttle.acquire(key, 100, 0) == 0.0
    assert throttle._client().exists(throttle.KEY_PREFIX + key) == 0


def test_a_fresh_bucket_lets_one_second_of_the_rate_go_at_once(key):
    # 600 a minute = 10 a second: the burst is 10 tokens.
    assert throttle.acquire(key, 10, 600, now=1000.0) == 0.0
    assert throttle.acquire(key, 5, 600, now=1000.0) == pytest.approx(0.5)


def test_a_reservation_in_debt_waits_for_the_tokens_before_it(key):
    assert throttle.acquire(key, 10, 600, now=1000.0) == 0.0
    assert throttle.acquire(key, 20, 600, now=1000.0) == pytest.approx(2.0)
    # The next asker queues behind the 20 reserved: 30 tokens short at 10 a second.
    assert throttle.acquire(key, 10, 600, now=1000.0) == pytest.approx(3.0)
    # One second later a tenth of the debt is paid.
    assert throttle.acquire(key, 1, 600, now=1001.0) == pytest.approx(2.1)


def test_tokens_refill_at_the_rate_but_never_beyond_the_burst(key):
    assert throttle.acquire(key, 10, 600, now=1000.0) == 0.0
    assert throttle.acquire(key, 5, 600, now=1000.5) == 0.0  # 5 came back in half a second
    # An hour idle refills only the 10-token burst.
    assert throttle.acquire(key, 10, 600, now=4600.0) == 0.0
    assert throttle.acquire(key, 1, 600, now=4600.0) == pytest.approx(0.1)


def test_a_slow_rate_still_lets_one_message_through(key):
    assert throttle.acquire(key, 1, 1, now=0.0) == 0.0  # capacity is never below one token
    assert throttle.acquire(key, 1, 1, now=0.0) == pytest.approx(60.0)


def test_an_unknown_script_falls_back_to_eval(key, monkeypatch):
    # A SHA the server never saw stands for a restarted or flushed Redis (flushing the real
    # script cache would disturb whoever else uses this server).
    monkeypatch.setattr(throttle, "ACQUIRE_SHA", "0" * 40)
    assert throttle.acquire(key, 1, 60, now=10.0) == 0.0
    assert throttle.acquire(key, 1, 60, now=10.0) == pytest.approx(1.0)


def test_the_script_runs_by_its_sha_once_loaded(key):
    throttle.acquire(key, 1, 60, now=10.0)
    assert throttle._client().script_exists(throttle.ACQUIRE_SHA) == [True]


def test_the_bucket_expires_once_it_would_be_full_again(key):
    throttle.acquire(key, 50, 600)  # 40 in debt: 4 s to pay, 1 s to refill, + 1 s margin
    ttl_ms = throttle._client().pttl(throttle.KEY_PREFIX + key)
    assert 5000 < ttl_ms <= 6000


def test_the_in_process_bucket_without_redis_does_the_same_maths(key, monkeypatch):
    monkeypatch.setattr(throttle, "_client", lambda: None)
    assert throttle.acquire(key, 10, 600, now=1000.0) == 0.0
    assert throttle.acquire(key, 20, 600, now=1000.0) == pytest.approx(2.0)
    assert throttle.acquire(key, 1, 600, now=1001.0) == pytest.approx(1.1)
    throttle.reset(key)
    assert throttle.acquire(key, 10, 600, now=1000.0) == 0.0


def test_two_threads_sharing_a_bucket_get_the_rate_within_five_percent(key):
    """Each thread takes 4 tokens, sleeps the wait it is given, and notes when it could send.
    The tokens granted in a 3-second window after the first second (the burst) are counted
    against the rate: a measure of the bucket's maths in tokens per elapsed second."""
    rate_per_minute = 12_000  # 200 a second
    start = time.monotonic()
    window = (start + 1.0, start + 4.0)
    grants: list[tuple[float, int]] = []
    lock = threading.Lock()

    def draw() -> None:
        while time.monotonic() < window[1] + 0.2:
            wait = throttle.acquire(key, 4, rate_per_minute)
            time.sleep(wait)
            with lock:
                grants.append((time.monotonic(), 4))

    threads = [threading.Thread(target=draw) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    granted = sum(n for at, n in grants if window[0] <= at < window[1])
    expected = rate_per_minute / 60 * (window[1] - window[0])
    assert abs(granted - expected) / expected < 0.05, (granted, expected)
