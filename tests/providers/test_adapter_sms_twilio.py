"""The Twilio adapter against the sandbox over real HTTP: Twilio's request, Twilio's answers."""

import base64
import re

import pytest

from apps.providers.adapters.base import ProviderConfig, SendStatus, SmsMessage
from apps.providers.kinds import adapter_for
from apps.providers.kinds.twilio.wire import WIRE
from apps.providers.sandbox.wire import FaultPlan, SandboxRequest

ACCOUNT_SID = "AC" + "0" * 32


def twilio(provider_sandbox, label, *, auth_token="secret-token", **settings):
    settings.setdefault("from_number", "+15005550006")
    return adapter_for(
        ProviderConfig(
            kind="twilio",
            nickname=label,
            base_url=provider_sandbox.url_for(label),
            credentials={"account_sid": ACCOUNT_SID, "auth_token": auth_token},
            settings=settings,
        )
    )


@pytest.fixture
def sandbox(provider_sandbox):
    return provider_sandbox  # emptied and without faults for each test


@pytest.mark.slow
def test_twilio_posts_the_messages_api_form_with_basic_auth_and_reads_the_sid(sandbox):
    [result] = twilio(sandbox, "tw-ok").send([SmsMessage(to="+919812345678", body="Hello")])

    assert result.status is SendStatus.ACCEPTED
    assert re.fullmatch(r"SM[0-9a-f]{32}", result.provider_message_id)
    [received] = sandbox.client.messages("tw-ok")
    assert received["recipient"] == "+919812345678"
    assert received["body"] == "Hello"
    assert received["provider_message_id"] == result.provider_message_id
    assert received["extra"]["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert received["extra"]["auth_user"] == ACCOUNT_SID
    assert received["extra"]["form"] == {
        "To": "+919812345678",
        "Body": "Hello",
        "From": "+15005550006",
    }


@pytest.mark.slow
def test_twilio_sends_the_messaging_service_sid_instead_of_a_from_number(sandbox):
    adapter = twilio(sandbox, "tw-copilot", messaging_service_sid="MG" + "1" * 32)

    [result] = adapter.send([SmsMessage(to="+14155550100", body="Copilot")])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("tw-copilot")
    assert received["extra"]["form"]["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in received["extra"]["form"]


@pytest.mark.slow
def test_twilio_keeps_unicode_bodies_intact(sandbox):
    body = "नमस्ते 👋 ¡Olá! — 50% off"

    [result] = twilio(sandbox, "tw-unicode").send([SmsMessage(to="+919812345678", body=body)])

    assert result.status is SendStatus.ACCEPTED
    assert sandbox.client.messages("tw-unicode")[0]["body"] == body


@pytest.mark.slow
def test_twilio_returns_one_result_per_message_in_order(sandbox):
    sandbox.client.set_faults("tw-many", reject_recipients=["+14155550102"])
    numbers = ["+14155550101", "+14155550102", "+14155550103"]

    results = twilio(sandbox, "tw-many").send([SmsMessage(to=n, body="Hi") for n in numbers])

    assert [r.recipient for r in results] == numbers
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.PERMANENT,
        SendStatus.ACCEPTED,
    ]
    assert sorted(m["recipient"] for m in sandbox.client.messages("tw-many")) == [
        "+14155550101",
        "+14155550103",
    ]


@pytest.mark.slow
def test_twilio_rejected_recipient_is_permanent_with_twilios_error_text(sandbox):
    sandbox.client.set_faults("tw-reject", reject_recipients=["+919800000000"])

    [result] = twilio(sandbox, "tw-reject").send([SmsMessage(to="+919800000000", body="Hi")])

    assert result.status is SendStatus.PERMANENT
    assert result.http_status == 400
    assert result.error == "21211: The 'To' number +919800000000 is not a valid phone number."
    assert sandbox.client.messages("tw-reject") == []


@pytest.mark.slow
def test_twilio_number_without_country_code_is_permanent(sandbox):
    [result] = twilio(sandbox, "tw-local").send([SmsMessage(to="9812345678", body="Hi")])

    assert result.status is SendStatus.PERMANENT
    assert result.error.startswith("21211:")


@pytest.mark.slow
def test_twilio_bad_credentials_are_retryable_so_a_group_moves_on(sandbox):
    [result] = twilio(sandbox, "tw-auth", auth_token="invalid").send(
        [SmsMessage(to="+14155550100", body="Hi")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 401
    assert result.error == "20003: Authenticate"
    assert sandbox.client.messages("tw-auth") == []


@pytest.mark.slow
def test_twilio_missing_sender_is_a_provider_setup_error_not_the_recipients(sandbox):
    [result] = twilio(sandbox, "tw-nofrom", from_number="").send(
        [SmsMessage(to="+14155550100", body="Hi")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "21603: A 'From' phone number is required."


@pytest.mark.slow
def test_twilio_injected_5xx_is_retryable(sandbox):
    sandbox.client.set_faults("tw-5xx", error_rate=1.0, error_status=503)

    [result] = twilio(sandbox, "tw-5xx").send([SmsMessage(to="+14155550100", body="Hi")])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 503
    assert sandbox.client.messages("tw-5xx") == []


@pytest.mark.slow
def test_twilio_http_429_is_retryable(sandbox):
    sandbox.client.set_faults("tw-429", error_rate=1.0, error_status=429)

    [result] = twilio(sandbox, "tw-429").send([SmsMessage(to="+14155550100", body="Hi")])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 429


@pytest.mark.slow
def test_twilio_timeout_is_retryable(sandbox):
    sandbox.client.set_faults("tw-slow", timeout_rate=1.0)

    [result] = twilio(sandbox, "tw-slow", timeout_s=0.3).send(
        [SmsMessage(to="+14155550100", body="Hi")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")


def test_twilio_connection_refused_is_retryable():
    adapter = adapter_for(
        ProviderConfig(
            kind="twilio",
            nickname="down",
            base_url="http://127.0.0.1:9/p/down",
            credentials={"account_sid": ACCOUNT_SID, "auth_token": "t"},
            settings={"from_number": "+15005550006"},
        )
    )

    [result] = adapter.send([SmsMessage(to="+14155550100", body="Hi")])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("connection")


def test_twilio_wire_refuses_a_basic_user_other_than_the_paths_account():
    token = base64.b64encode(b"ACsomeoneelse:token").decode()
    request = SandboxRequest(
        label="x",
        method="POST",
        path=f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        query={},
        headers={"authorization": f"Basic {token}"},
        body=b"To=%2B14155550100&Body=Hi&From=%2B15005550006",
    )

    reply = WIRE.handle(request, WIRE.matches("POST", request.path), FaultPlan())

    assert reply.status == 401
    assert reply.body["code"] == 20003
    assert reply.deliveries == []


@pytest.mark.slow
def test_a_repeated_idempotency_key_is_answered_once_by_an_idempotent_provider(sandbox):
    """Herald sends the message's key as Idempotency-Key; the sandbox honours it like an
    idempotent provider: the repeat gets the first answer and nobody gets a second SMS."""
    adapter = twilio(sandbox, "tw-idem")
    first = SmsMessage(to="+14155550101", body="Once", idempotency_key="7:42:0:A")
    other = SmsMessage(to="+14155550102", body="Other", idempotency_key="7:43:0:A")

    [a] = adapter.send([first])
    [again, b] = adapter.send([first, other])

    assert a.status is again.status is b.status is SendStatus.ACCEPTED
    assert again.provider_message_id == a.provider_message_id
    assert b.provider_message_id != a.provider_message_id
    received = sandbox.client.messages("tw-idem")
    assert sorted(r["recipient"] for r in received) == ["+14155550101", "+14155550102"]


@pytest.mark.slow
def test_without_an_idempotency_key_every_send_is_a_new_message(sandbox):
    adapter = twilio(sandbox, "tw-no-key")
    message = SmsMessage(to="+14155550103", body="Twice")
    [a] = adapter.send([message])
    [b] = adapter.send([message])
    assert a.provider_message_id != b.provider_message_id
    assert len(sandbox.client.messages("tw-no-key")) == 2
