"""The Vonage (Nexmo) adapter against the sandbox over real HTTP."""

import httpx
import pytest

from apps.providers.adapters.base import ProviderConfig, SendStatus, SmsMessage
from apps.providers.kinds import adapter_for


def vonage(provider_sandbox, label, *, api_secret="s3cret", **settings):
    settings.setdefault("from", "HERALD")
    return adapter_for(
        ProviderConfig(
            kind="vonage",
            nickname=label,
            base_url=provider_sandbox.url_for(label),
            credentials={"api_key": "abcd1234", "api_secret": api_secret},
            settings=settings,
        )
    )


@pytest.fixture
def sandbox(provider_sandbox):
    return provider_sandbox  # emptied and without faults for each test


@pytest.mark.slow
def test_vonage_posts_the_sms_json_form_without_the_plus_and_reads_the_message_id(sandbox):
    message = SmsMessage(to="+447700900000", body="Hello", idempotency_key="run-1:42")

    [result] = vonage(sandbox, "vn-ok").send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("vn-ok")
    assert received["provider_message_id"] == result.provider_message_id != ""
    assert received["recipient"] == "+447700900000"
    assert received["extra"]["path"] == "/sms/json"
    assert received["extra"]["fields"] == {
        "api_key": "abcd1234",
        "from": "HERALD",
        "to": "447700900000",
        "text": "Hello",
        "client-ref": "run-1:42",
    }


@pytest.mark.slow
def test_vonage_marks_non_gsm_text_as_unicode(sandbox):
    body = "नमस्ते 👋"

    [result] = vonage(sandbox, "vn-unicode").send([SmsMessage(to="+919812345678", body=body)])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("vn-unicode")
    assert received["body"] == body
    assert received["extra"]["fields"]["type"] == "unicode"


@pytest.mark.slow
def test_vonage_leaves_gsm_text_as_plain_text(sandbox):
    vonage(sandbox, "vn-gsm").send([SmsMessage(to="+447700900000", body="Café à 5€ {ok}")])

    [received] = sandbox.client.messages("vn-gsm")
    assert "type" not in received["extra"]["fields"]


@pytest.mark.slow
def test_vonage_unroutable_recipient_is_permanent_with_vonages_error_text(sandbox):
    sandbox.client.set_faults("vn-reject", reject_recipients=["+447700900001"])

    results = vonage(sandbox, "vn-reject").send(
        [SmsMessage(to="+447700900001", body="Hi"), SmsMessage(to="+447700900002", body="Hi")]
    )

    assert [r.status for r in results] == [SendStatus.PERMANENT, SendStatus.ACCEPTED]
    assert results[0].error == "6: Unroutable message - rejected"
    assert [m["recipient"] for m in sandbox.client.messages("vn-reject")] == ["+447700900002"]


@pytest.mark.slow
def test_vonage_invalid_number_is_permanent(sandbox):
    [result] = vonage(sandbox, "vn-invalid").send([SmsMessage(to="+0123", body="Hi")])

    assert result.status is SendStatus.PERMANENT
    assert result.error == "3: Invalid to address"


@pytest.mark.slow
def test_vonage_bad_credentials_are_retryable_so_a_group_moves_on(sandbox):
    [result] = vonage(sandbox, "vn-auth", api_secret="invalid").send(
        [SmsMessage(to="+447700900000", body="Hi")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "4: Bad Credentials"
    assert sandbox.client.messages("vn-auth") == []


@pytest.mark.slow
def test_vonage_missing_sender_is_retryable_and_names_the_parameter(sandbox):
    [result] = vonage(sandbox, "vn-nofrom", **{"from": ""}).send(
        [SmsMessage(to="+447700900000", body="Hi")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "2: Missing from param"


def test_vonage_throttled_status_is_retryable():
    response = httpx.Response(
        200,
        json={"message-count": "1", "messages": [{"status": "1", "error-text": "Throughput"}]},
    )

    result = adapter_for(
        ProviderConfig(kind="vonage", nickname="x", base_url="", credentials={}, settings={})
    ).result_for("+447700900000", response)

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "1: Throughput"


@pytest.mark.slow
def test_vonage_injected_5xx_is_retryable(sandbox):
    sandbox.client.set_faults("vn-5xx", error_rate=1.0, error_status=500)

    [result] = vonage(sandbox, "vn-5xx").send([SmsMessage(to="+447700900000", body="Hi")])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 500


@pytest.mark.slow
def test_vonage_timeout_is_retryable(sandbox):
    sandbox.client.set_faults("vn-slow", timeout_rate=1.0)

    [result] = vonage(sandbox, "vn-slow", timeout_s=0.3).send(
        [SmsMessage(to="+447700900000", body="Hi")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")
