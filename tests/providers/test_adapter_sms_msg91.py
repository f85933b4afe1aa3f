"""The MSG91 Flow adapter against the sandbox over real HTTP."""

import pytest

from apps.providers.adapters.base import ProviderConfig, SendStatus, SmsMessage
from apps.providers.kinds import adapter_for

pytestmark = pytest.mark.slow


def msg91(provider_sandbox, label, *, authkey="auth-key-1", **settings):
    return adapter_for(
        ProviderConfig(
            kind="msg91",
            nickname=label,
            base_url=provider_sandbox.url_for(label),
            credentials={"authkey": authkey},
            settings=settings,
        )
    )


@pytest.fixture
def sandbox(provider_sandbox):
    return provider_sandbox  # emptied and without faults for each test


def test_msg91_posts_the_flow_json_with_the_authkey_header_and_reads_the_request_id(sandbox):
    message = SmsMessage(
        to="+919812345678",
        body="Hi Asha, 20% off",
        template_id="64a1b2c3d4e5f6",
        template_variables=["Asha", "20"],
        body_values={"coupon": "GOLD"},
    )

    [result] = msg91(sandbox, "m91-ok").send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("m91-ok")
    assert received["provider_message_id"] == result.provider_message_id != ""
    assert received["recipient"] == "+919812345678"
    assert received["extra"]["path"] == "/api/v5/flow/"
    assert received["extra"]["payload"] == {
        "template_id": "64a1b2c3d4e5f6",
        "short_url": "0",
        "recipients": [{"mobiles": "919812345678", "coupon": "GOLD", "VAR1": "Asha", "VAR2": "20"}],
    }


def test_msg91_puts_the_text_in_the_configured_body_variable_with_the_default_template(sandbox):
    adapter = msg91(sandbox, "m91-body", template_id="tpl-default", body_variable="message")

    [result] = adapter.send([SmsMessage(to="+919812345678", body="नमस्ते ✓ 50%")])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("m91-body")
    assert received["body"] == "नमस्ते ✓ 50%"
    assert received["extra"]["payload"]["template_id"] == "tpl-default"


def test_msg91_rejected_number_is_permanent_with_msg91s_text(sandbox):
    sandbox.client.set_faults("m91-reject", reject_recipients=["+919800000000"])
    adapter = msg91(sandbox, "m91-reject", template_id="t")

    results = adapter.send(
        [SmsMessage(to="+919800000000", body="x"), SmsMessage(to="+919811111111", body="y")]
    )

    assert [r.status for r in results] == [SendStatus.PERMANENT, SendStatus.ACCEPTED]
    assert results[0].error == "Mobile number not valid: 919800000000"
    assert [m["recipient"] for m in sandbox.client.messages("m91-reject")] == ["+919811111111"]


def test_msg91_bad_authkey_is_retryable_so_a_group_moves_on(sandbox):
    [result] = msg91(sandbox, "m91-auth", authkey="invalid", template_id="t").send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 401
    assert result.error == "AuthenticationFailure"


def test_msg91_missing_template_is_a_setup_error_not_the_recipients(sandbox):
    [result] = msg91(sandbox, "m91-notpl").send([SmsMessage(to="+919812345678", body="x")])

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "template_id is required"


def test_msg91_injected_5xx_is_retryable(sandbox):
    sandbox.client.set_faults("m91-5xx", error_rate=1.0, error_status=503)

    [result] = msg91(sandbox, "m91-5xx", template_id="t").send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 503


def test_msg91_timeout_is_retryable(sandbox):
    sandbox.client.set_faults("m91-slow", timeout_rate=1.0)

    [result] = msg91(sandbox, "m91-slow", template_id="t", timeout_s=0.3).send(
        [SmsMessage(to="+919812345678", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")
