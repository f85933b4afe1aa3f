"""The Exotel adapter against the sandbox over real HTTP."""

import pytest

from apps.providers.adapters.base import ProviderConfig, SendStatus, SmsMessage
from apps.providers.kinds import adapter_for

pytestmark = pytest.mark.slow


def exotel(provider_sandbox, label, *, api_token="tok", **settings):
    settings.setdefault("sender_id", "HERALD")
    return adapter_for(
        ProviderConfig(
            kind="exotel",
            nickname=label,
            base_url=provider_sandbox.url_for(label),
            credentials={"account_sid": "herald1", "api_key": "key-1", "api_token": api_token},
            settings=settings,
        )
    )


@pytest.fixture
def sandbox(provider_sandbox):
    return provider_sandbox  # emptied and without faults for each test


def test_exotel_posts_the_send_form_with_basic_auth_and_dlt_ids(sandbox):
    adapter = exotel(sandbox, "ex-ok", dlt_entity_id="1201159")
    message = SmsMessage(to="+919812345678", body="Your OTP is 4321", template_id="1107160")

    [result] = adapter.send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("ex-ok")
    assert received["provider_message_id"] == result.provider_message_id != ""
    assert received["extra"]["path"] == "/v1/Accounts/herald1/Sms/send.json"
    assert received["extra"]["auth_user"] == "key-1"
    assert received["extra"]["form"] == {
        "From": "HERALD",
        "To": "+919812345678",
        "Body": "Your OTP is 4321",
        "DltTemplateId": "1107160",
        "DltEntityId": "1201159",
    }


def test_exotel_keeps_unicode_bodies_intact(sandbox):
    body = "ধন্যবাদ 🙏"

    [result] = exotel(sandbox, "ex-unicode").send([SmsMessage(to="+919812345678", body=body)])

    assert result.status is SendStatus.ACCEPTED
    assert sandbox.client.messages("ex-unicode")[0]["body"] == body


def test_exotel_rejected_number_is_permanent_with_exotels_message(sandbox):
    sandbox.client.set_faults("ex-reject", reject_recipients=["+919800000000"])

    [result] = exotel(sandbox, "ex-reject").send([SmsMessage(to="+919800000000", body="x")])

    assert result.status is SendStatus.PERMANENT
    assert result.http_status == 400
    assert result.error == "Invalid 'To' number +919800000000"
    assert sandbox.client.messages("ex-reject") == []


def test_exotel_bad_token_is_retryable_so_a_group_moves_on(sandbox):
    [result] = exotel(sandbox, "ex-auth", api_token="invalid").send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 401
    assert result.error == "Authentication is required to view this page."


def test_exotel_missing_sender_is_a_setup_error_not_the_recipients(sandbox):
    [result] = exotel(sandbox, "ex-nofrom", sender_id="").send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "Missing parameter 'From'"


def test_exotel_injected_5xx_is_retryable(sandbox):
    sandbox.client.set_faults("ex-5xx", error_rate=1.0, error_status=500)

    [result] = exotel(sandbox, "ex-5xx").send([SmsMessage(to="+919812345678", body="x")])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 500


def test_exotel_timeout_is_retryable(sandbox):
    sandbox.client.set_faults("ex-slow", timeout_rate=1.0)

    [result] = exotel(sandbox, "ex-slow", timeout_s=0.3).send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")
