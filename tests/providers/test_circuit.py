"""The circuit breaker per provider. The cool-down is read from the wall clock (time.time),
which time-machine moves past it: no test waits for a cool-down."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache

from apps.providers.adapters.base import SendResult, SendStatus, SmsMessage
from apps.providers.circuit import (
    CircuitState,
    circuit_acquire,
    circuit_record,
    circuit_state,
)
from apps.providers.groups import group_send_sms
from apps.providers.services import provider_create, provider_group_save

COOLDOWN = timedelta(seconds=30)


@pytest.fixture(autouse=True)
def _fresh_circuits(settings):
    settings.HERALD_CIRCUIT_FAILURE_THRESHOLD = 3
    settings.HERALD_CIRCUIT_COOLDOWN_S = COOLDOWN.total_seconds()
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    """The wall clock from now on, still ticking; `clock.shift(...)` moves it forward."""
    with time_machine.travel(time.time(), tick=True) as traveller:
        yield traveller


def _failures(count: int) -> list[SendResult]:
    return [SendResult("+15551230000", SendStatus.RETRYABLE, http_status=500)] * count


def _accepted() -> list[SendResult]:
    return [SendResult("+15551230000", SendStatus.ACCEPTED, provider_message_id="x")]


def test_the_circuit_opens_after_consecutive_retryable_failures_and_a_success_resets_them():
    circuit_record(provider_id=1, results=_failures(2))
    circuit_record(provider_id=1, results=_accepted())
    circuit_record(provider_id=1, results=_failures(2))
    assert circuit_state(provider_id=1) is CircuitState.CLOSED

    circuit_record(provider_id=1, results=_failures(1))
    assert circuit_state(provider_id=1) is CircuitState.OPEN
    assert circuit_acquire(provider_id=1) is None
    assert circuit_state(provider_id=2) is CircuitState.CLOSED


def test_permanent_failures_do_not_open_the_circuit():
    permanent = [SendResult("+1", SendStatus.PERMANENT, error="invalid number")] * 10
    circuit_record(provider_id=1, results=permanent)
    assert circuit_state(provider_id=1) is CircuitState.CLOSED


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_circuit(clock):
    circuit_record(provider_id=1, results=_failures(3))
    clock.shift(COOLDOWN - timedelta(seconds=1))
    assert circuit_state(provider_id=1) is CircuitState.OPEN
    clock.shift(timedelta(seconds=2))
    assert circuit_state(provider_id=1) is CircuitState.HALF_OPEN
    assert circuit_acquire(provider_id=1) is CircuitState.HALF_OPEN
    assert circuit_acquire(provider_id=1) is None  # only one probe at a time

    circuit_record(provider_id=1, results=_accepted())
    assert circuit_state(provider_id=1) is CircuitState.CLOSED
    assert circuit_acquire(provider_id=1) is CircuitState.CLOSED


def test_a_failed_probe_opens_the_circuit_for_another_cool_down(clock):
    circuit_record(provider_id=1, results=_failures(3))
    clock.shift(COOLDOWN + timedelta(seconds=1))
    assert circuit_acquire(provider_id=1) is CircuitState.HALF_OPEN
    circuit_record(provider_id=1, results=_failures(1))
    assert circuit_state(provider_id=1) is CircuitState.OPEN

    clock.shift(COOLDOWN - timedelta(seconds=1))
    assert circuit_state(provider_id=1) is CircuitState.OPEN
    clock.shift(timedelta(seconds=2))
    assert circuit_state(provider_id=1) is CircuitState.HALF_OPEN


@pytest.mark.slow
@pytest.mark.django_db
def test_a_group_skips_an_open_provider_then_probes_it_and_recovers(provider_sandbox, clock):
    sandbox = provider_sandbox
    first, second = (
        provider_create(
            channel="sms",
            kind="twilio",
            nickname=label,
            base_url=sandbox.url_for(label),
            credentials={"account_sid": f"AC{label}", "auth_token": "token"},
            settings={"from_number": "+15550000000"},
        )
        for label in ("first", "second")
    )
    group = provider_group_save(name="G", providers=[first, second])
    sandbox.client.set_faults("first", error_rate=1.0, error_status=500)

    def send(count: int, start: int):
        messages = [SmsMessage(to=f"+1555987{start + i:04d}", body="hi") for i in range(count)]
        return [nickname for _, nickname in group_send_sms(group=group, messages=messages)]

    assert send(3, 0) == ["second"] * 3
    assert circuit_state(provider_id=first.pk) is CircuitState.OPEN
    sandbox.client.clear()
    assert send(3, 10) == ["second"] * 3
    assert sandbox.client.health()["requests"].get("first", 0) == 0  # skipped, not tried

    sandbox.client.reset_faults()  # the first provider is healthy again
    clock.shift(COOLDOWN + timedelta(seconds=1))
    assert send(4, 20) == ["first"] * 4  # the probe succeeds, then the rest follow
    assert circuit_state(provider_id=first.pk) is CircuitState.CLOSED
