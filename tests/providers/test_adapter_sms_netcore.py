"""The Netcore adapter (a modeled API, see its docstring) against the sandbox over HTTP."""

import pytest

from apps.providers.adapters.base import ProviderConfig, SendStatus, SmsMessage
from apps.providers.kinds import adapter_for

pytestmark = pytest.mark.slow


def netcore(provider_sandbox, label, *, api_key="nc-key", **settings):
    settings.setdefault("sender_id", "HERALD")
    return adapter_for(
        ProviderConfig(
            kind="netcore",
            nickname=label,
            base_url=provider_sandbox.url_for(label),
            credentials={"api_key": api_key},
            settings=settings,
        )
    )


@pytest.fixture
def sandbox(provider_sandbox):
    return provider_sandbox  # emptied and without faults for each test


def test_netcore_posts_json_with_the_api_key_header_and_reads_the_message_id(sandbox):
    adapter = netcore(sandbox, "nc-ok", dlt_entity_id="1201")
    message = SmsMessage(
        to="+919812345678", body="Sale ends today", template_id="1107", idempotency_key="r1:7"
    )

    [result] = adapter.send([message])

    assert result.status is SendStatus.ACCEPTED
    assert result.http_status == 202
    [received] = sandbox.client.messages("nc-ok")
    assert received["provider_message_id"] == result.provider_message_id != ""
    assert received["recipient"] == "+919812345678"
    assert received["extra"]["path"] == "/api/v1/sms/send"
    assert received["extra"]["payload"] == {
        "sender": "HERALD",
        "to": "919812345678",
        "text": "Sale ends today",
        "dlt_template_id": "1107",
        "dlt_entity_id": "1201",
        "reference": "r1:7",
    }


def test_netcore_leaves_out_empty_optional_fields_and_keeps_unicode(sandbox):
    [result] = netcore(sandbox, "nc-min").send([SmsMessage(to="+919812345678", body="आज 🎉")])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("nc-min")
    assert received["body"] == "आज 🎉"
    assert received["extra"]["payload"] == {
        "sender": "HERALD",
        "to": "919812345678",
        "text": "आज 🎉",
    }


def test_netcore_rejected_number_is_permanent_with_netcores_text(sandbox):
    sandbox.client.set_faults("nc-reject", reject_recipients=["+919800000000"])

    [result] = netcore(sandbox, "nc-reject").send([SmsMessage(to="+919800000000", body="x")])

    assert result.status is SendStatus.PERMANENT
    assert result.error == "INVALID_NUMBER: Invalid mobile number 919800000000"
    assert sandbox.client.messages("nc-reject") == []


def test_netcore_bad_key_is_retryable_so_a_group_moves_on(sandbox):
    [result] = netcore(sandbox, "nc-auth", api_key="invalid").send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 401
    assert result.error == "UNAUTHORIZED: Invalid or missing api_key"


def test_netcore_missing_sender_is_retryable_and_names_the_field(sandbox):
    [result] = netcore(sandbox, "nc-nosender", sender_id="").send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "MISSING_FIELD: 'sender' is required"


def test_netcore_injected_5xx_is_retryable(sandbox):
    sandbox.client.set_faults("nc-5xx", error_rate=1.0, error_status=502)

    [result] = netcore(sandbox, "nc-5xx").send([SmsMessage(to="+919812345678", body="x")])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 502


def test_netcore_timeout_is_retryable(sandbox):
    sandbox.client.set_faults("nc-slow", timeout_rate=1.0)

    [result] = netcore(sandbox, "nc-slow", timeout_s=0.3).send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")
