"""The SendGrid adapter against the sandbox over real HTTP: v3 Mail Send in, SendGrid's
answers out, one typed result per recipient."""

import re

import pytest

from apps.providers.adapters.base import EmailMessage, ProviderConfig, SendStatus
from apps.providers.kinds import adapter_for
from apps.providers.kinds.sendgrid.wire import WIRE
from apps.providers.sandbox.wire import FaultPlan, SandboxRequest


def sendgrid(sandbox, label, *, api_key="SG.test-key-1234", **settings):
    return adapter_for(
        ProviderConfig(
            kind="sendgrid",
            nickname=label,
            base_url=sandbox.url_for(label),
            credentials={"api_key": api_key},
            settings=settings,
        )
    )


def welcome(to="ana@example.com", **overrides):
    fields = {
        "to": to,
        "subject": "Welcome",
        "text": "Hello Ana",
        "html": "<p>Hello Ana</p>",
        "from_email": "news@herald.test",
        "from_name": "Herald News",
    }
    fields.update(overrides)
    return EmailMessage(**fields)


@pytest.mark.slow
def test_sendgrid_posts_v3_mail_send_json_with_a_bearer_key_and_reads_the_message_id(
    provider_sandbox,
):
    message = welcome(reply_to="help@herald.test", headers={"X-Campaign": "42"})

    [result] = sendgrid(provider_sandbox, "sg-ok").send([message])

    assert result.status is SendStatus.ACCEPTED
    assert result.http_status == 202
    assert result.provider_message_id
    [received] = provider_sandbox.client.messages("sg-ok")
    assert received["kind"] == "sendgrid"
    assert received["recipient"] == "ana@example.com"
    assert received["subject"] == "Welcome"
    assert received["body"] == "Hello Ana"
    assert received["provider_message_id"] == result.provider_message_id
    assert received["extra"]["path"] == "/v3/mail/send"
    assert received["extra"]["auth_scheme"] == "Bearer"
    assert received["extra"]["api_key_last4"] == "1234"
    assert received["extra"]["request"] == {
        "personalizations": [{"to": [{"email": "ana@example.com"}]}],
        "from": {"email": "news@herald.test", "name": "Herald News"},
        "subject": "Welcome",
        "content": [
            {"type": "text/plain", "value": "Hello Ana"},
            {"type": "text/html", "value": "<p>Hello Ana</p>"},
        ],
        "reply_to": {"email": "help@herald.test"},
        "headers": {"X-Campaign": "42"},
    }


@pytest.mark.slow
def test_sendgrid_returns_one_result_per_message_in_order(provider_sandbox):
    provider_sandbox.client.set_faults("sg-mixed", reject_recipients=["gone@example.com"])
    messages = [welcome("a@example.com"), welcome("gone@example.com"), welcome("c@example.com")]

    results = sendgrid(provider_sandbox, "sg-mixed").send(messages)

    assert [r.recipient for r in results] == ["a@example.com", "gone@example.com", "c@example.com"]
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.PERMANENT,
        SendStatus.ACCEPTED,
    ]
    received = provider_sandbox.client.messages("sg-mixed", order="asc")
    assert [m["recipient"] for m in received] == ["a@example.com", "c@example.com"]


@pytest.mark.slow
def test_sendgrid_rejected_recipient_is_permanent_with_sendgrids_text(provider_sandbox):
    provider_sandbox.client.set_faults("sg-reject", reject_recipients=["bounce@example.com"])

    [result] = sendgrid(provider_sandbox, "sg-reject").send([welcome("bounce@example.com")])

    assert result.status is SendStatus.PERMANENT
    assert result.http_status == 400
    assert result.error == "Does not contain a valid address. (personalizations.0.to.0.email)"
    assert provider_sandbox.client.messages("sg-reject") == []


@pytest.mark.slow
def test_sendgrid_malformed_address_is_permanent(provider_sandbox):
    [result] = sendgrid(provider_sandbox, "sg-bad").send([welcome("not-an-address")])

    assert result.status is SendStatus.PERMANENT
    assert "Does not contain a valid address." in result.error


@pytest.mark.slow
def test_sendgrid_refused_key_is_retryable_with_the_auth_error(provider_sandbox):
    adapter = sendgrid(provider_sandbox, "sg-nokey", api_key="not-a-sendgrid-key")

    [result] = adapter.send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 401
    assert result.error == "The provided authorization grant is invalid, expired, or revoked"
    assert provider_sandbox.client.messages("sg-nokey") == []


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 503, 429])
def test_sendgrid_injected_server_errors_and_throttling_are_retryable(provider_sandbox, status):
    provider_sandbox.client.set_faults("sg-5xx", error_rate=1, error_status=status)

    [result] = sendgrid(provider_sandbox, "sg-5xx").send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == status
    assert "sandbox injected fault" in result.error
    assert provider_sandbox.client.messages("sg-5xx") == []


@pytest.mark.slow
def test_sendgrid_timeout_is_retryable(provider_sandbox):
    provider_sandbox.client.set_faults("sg-slow", timeout_rate=1)

    [result] = sendgrid(provider_sandbox, "sg-slow", timeout_s=0.3).send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")


def test_sendgrid_connection_refused_is_retryable():
    adapter = adapter_for(
        ProviderConfig(
            kind="sendgrid",
            nickname="down",
            base_url="http://127.0.0.1:9",  # discard port: nothing listens
            credentials={"api_key": "SG.x"},
            settings={"timeout_s": 2},
        )
    )

    [result] = adapter.send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("connection error")


@pytest.mark.slow
def test_sendgrid_carries_unicode_subjects_and_bodies(provider_sandbox):
    message = welcome(subject="Привет, 世界 🎉", text="Ünïcödé ✓ body", html="<p>नमस्ते</p>")

    [result] = sendgrid(provider_sandbox, "sg-utf").send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("sg-utf")
    assert received["subject"] == "Привет, 世界 🎉"
    assert received["body"] == "Ünïcödé ✓ body"
    assert received["extra"]["html"] == "<p>नमस्ते</p>"


def _wire_request(body, auth="Bearer SG.key"):
    import json

    return SandboxRequest(
        label="sg",
        method="POST",
        path="/v3/mail/send",
        query={},
        headers={"authorization": auth, "content-type": "application/json"},
        body=json.dumps(body).encode(),
    )


def test_sendgrid_wire_refuses_a_mail_without_content_or_subject_like_sendgrid():
    match = WIRE.matches("POST", "/v3/mail/send")
    base = {
        "personalizations": [{"to": [{"email": "a@example.com"}]}],
        "from": {"email": "news@herald.test"},
    }

    no_content = WIRE.handle(_wire_request({**base, "subject": "Hi"}), match, FaultPlan())
    no_subject = WIRE.handle(
        _wire_request({**base, "content": [{"type": "text/plain", "value": "x"}]}),
        match,
        FaultPlan(),
    )

    assert no_content.status == 400
    assert no_content.body["errors"][0]["field"] == "content"
    assert no_subject.status == 400
    assert no_subject.body["errors"][0]["field"] == "subject"
    assert re.match(r"http://sendgrid\.com/docs/", no_subject.body["errors"][0]["help"])
    assert no_content.deliveries == [] and no_subject.deliveries == []
