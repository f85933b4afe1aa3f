import pytest
from django.core.cache import cache

from apps.providers.adapters.base import SendStatus, SmsMessage
from apps.providers.groups import group_send_sms
from apps.providers.services import provider_group_save, provider_set_active
from tests.providers.factories import sandbox_twilio

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _fresh_circuits():
    cache.clear()  # circuit state lives in this test run's own Redis db
    yield
    cache.clear()


@pytest.fixture
def two_provider_group(db, provider_sandbox):
    first, second = (
        sandbox_twilio(provider_sandbox, "first"),
        sandbox_twilio(provider_sandbox, "second"),
    )
    return provider_group_save(name="Failover", providers=[first, second])


def _messages(count: int) -> list[SmsMessage]:
    return [SmsMessage(to=f"+1555123{i:04d}", body=f"Hello {i}") for i in range(count)]


def test_all_messages_arrive_through_the_second_provider_when_the_first_answers_500(
    two_provider_group, provider_sandbox, settings
):
    settings.HERALD_CIRCUIT_FAILURE_THRESHOLD = 1000  # keep the breaker out of this test
    provider_sandbox.client.set_faults("first", error_rate=1.0, error_status=500)
    messages = _messages(12)

    outcome = group_send_sms(group=two_provider_group, messages=messages)

    assert [nickname for _, nickname in outcome] == ["Second"] * 12
    assert all(result.status is SendStatus.ACCEPTED for result, _ in outcome)
    assert [result.recipient for result, _ in outcome] == [m.to for m in messages]
    delivered = provider_sandbox.client.messages(limit=1000)
    assert {d["label"] for d in delivered} == {"second"}
    assert sorted(d["recipient"] for d in delivered) == sorted(m.to for m in messages)
    assert len(delivered) == 12  # none twice
    ids = {result.provider_message_id for result, _ in outcome}
    assert ids == {d["provider_message_id"] for d in delivered}


def test_with_a_partly_failing_first_provider_each_message_arrives_exactly_once(
    two_provider_group, provider_sandbox, settings
):
    settings.HERALD_CIRCUIT_FAILURE_THRESHOLD = 1000
    provider_sandbox.client.set_faults("first", error_rate=0.5, error_status=503)
    messages = _messages(60)

    outcome = group_send_sms(group=two_provider_group, messages=messages)

    assert all(result.status is SendStatus.ACCEPTED for result, _ in outcome)
    delivered = provider_sandbox.client.messages(limit=1000)
    assert sorted(d["recipient"] for d in delivered) == sorted(m.to for m in messages)
    by_label = {d["recipient"]: d["label"] for d in delivered}
    assert {m.to: by_label[m.to] for m in messages} == {
        m.to: nickname.lower() for m, (_, nickname) in zip(messages, outcome, strict=True)
    }
    assert 0 < sum(1 for _, nickname in outcome if nickname == "First") < 60


def test_a_permanent_failure_does_not_fail_over(two_provider_group, provider_sandbox):
    messages = _messages(3)
    provider_sandbox.client.set_faults("first", reject_recipients=[messages[1].to])

    outcome = group_send_sms(group=two_provider_group, messages=messages)

    statuses = [(result.status, nickname) for result, nickname in outcome]
    assert statuses == [
        (SendStatus.ACCEPTED, "First"),
        (SendStatus.PERMANENT, "First"),
        (SendStatus.ACCEPTED, "First"),
    ]
    assert outcome[1][0].error  # the provider's own error text
    delivered = provider_sandbox.client.messages(limit=100)
    assert sorted(d["recipient"] for d in delivered) == [messages[0].to, messages[2].to]
    assert {d["label"] for d in delivered} == {"first"}


def test_an_inactive_provider_is_skipped(two_provider_group, provider_sandbox):
    first = two_provider_group.members.get(priority=1).provider
    provider_set_active(provider=first, is_active=False)

    outcome = group_send_sms(group=two_provider_group, messages=_messages(2))

    assert [nickname for _, nickname in outcome] == ["Second", "Second"]
    assert {d["label"] for d in provider_sandbox.client.messages()} == {"second"}


def test_when_every_provider_fails_the_last_retryable_answer_is_returned(
    two_provider_group, provider_sandbox, settings
):
    settings.HERALD_CIRCUIT_FAILURE_THRESHOLD = 1000
    provider_sandbox.client.set_faults("first", error_rate=1.0, error_status=500)
    provider_sandbox.client.set_faults("second", error_rate=1.0, error_status=502)

    outcome = group_send_sms(group=two_provider_group, messages=_messages(2))

    assert [(r.status, r.http_status, n) for r, n in outcome] == [
        (SendStatus.RETRYABLE, 502, "Second"),
        (SendStatus.RETRYABLE, 502, "Second"),
    ]
    assert provider_sandbox.client.messages() == []
