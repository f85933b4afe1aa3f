"""The Infobip Email adapter against the sandbox over real HTTP: multipart form in,
Infobip's per-recipient statuses and request errors out."""

import pytest

from apps.providers.adapters.base import EmailMessage, ProviderConfig, SendStatus
from apps.providers.kinds import adapter_for


def infobip(sandbox, label, *, api_key="ib-key-1234", **settings):
    return adapter_for(
        ProviderConfig(
            kind="infobip",
            nickname=label,
            base_url=sandbox.url_for(label),
            credentials={"api_key": api_key},
            settings={"from_email": "news@herald.test", "from_name": "Herald News", **settings},
        )
    )


def welcome(to="ana@example.com", **overrides):
    fields = {"to": to, "subject": "Welcome", "text": "Hello Ana", "html": "<p>Hello Ana</p>"}
    fields.update(overrides)
    return EmailMessage(**fields)


@pytest.mark.slow
def test_infobip_posts_a_multipart_form_with_app_auth_and_reads_the_message_id(provider_sandbox):
    [result] = infobip(provider_sandbox, "ib-ok").send([welcome(reply_to="help@herald.test")])

    assert result.status is SendStatus.ACCEPTED
    assert result.http_status == 200
    [received] = provider_sandbox.client.messages("ib-ok")
    assert received["kind"] == "infobip"
    assert received["recipient"] == "ana@example.com"
    assert (received["subject"], received["body"]) == ("Welcome", "Hello Ana")
    assert received["provider_message_id"] == result.provider_message_id
    assert received["extra"]["path"] == "/email/3/send"
    assert received["extra"]["auth_scheme"] == "App"
    assert received["extra"]["form"] == {
        "from": ["Herald News <news@herald.test>"],
        "to": ["ana@example.com"],
        "subject": ["Welcome"],
        "text": ["Hello Ana"],
        "html": ["<p>Hello Ana</p>"],
        "replyTo": ["help@herald.test"],
    }


@pytest.mark.slow
def test_infobip_rejected_recipient_is_permanent_with_infobips_status(provider_sandbox):
    provider_sandbox.client.set_faults("ib-reject", reject_recipients=["gone@example.com"])

    results = infobip(provider_sandbox, "ib-reject").send(
        [welcome("gone@example.com"), welcome("ok@example.com")]
    )

    assert [r.status for r in results] == [SendStatus.PERMANENT, SendStatus.ACCEPTED]
    assert results[0].error == "REJECTED_DESTINATION: Invalid destination address."
    assert [m["recipient"] for m in provider_sandbox.client.messages("ib-reject")] == [
        "ok@example.com"
    ]


@pytest.mark.slow
def test_infobip_without_a_key_is_retryable_and_sends_nothing(provider_sandbox):
    [result] = infobip(provider_sandbox, "ib-nokey", api_key="").send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "no Infobip API key is set"
    assert provider_sandbox.client.health()["requests"].get("ib-nokey", 0) == 0


def test_infobip_wire_refuses_a_request_without_app_auth_like_infobip():
    from apps.providers.kinds.infobip.wire import WIRE
    from apps.providers.sandbox.wire import FaultPlan, SandboxRequest

    request = SandboxRequest(
        label="ib",
        method="POST",
        path="/email/3/send",
        query={},
        headers={"authorization": "Basic dXNlcjpwYXNz"},
        body=b"",
    )

    reply = WIRE.handle(request, WIRE.matches("POST", "/email/3/send"), FaultPlan())

    assert reply.status == 401
    assert reply.body == {
        "requestError": {
            "serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
        }
    }
    assert reply.deliveries == []


@pytest.mark.slow
def test_infobip_bad_request_is_permanent(provider_sandbox):
    [result] = infobip(provider_sandbox, "ib-400", from_email="nobody").send([welcome()])

    assert result.status is SendStatus.PERMANENT
    assert (result.http_status, result.error) == (400, "BAD_REQUEST: Invalid from address")


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 503, 429])
def test_infobip_injected_server_errors_are_retryable(provider_sandbox, status):
    provider_sandbox.client.set_faults("ib-5xx", error_rate=1, error_status=status)

    [result] = infobip(provider_sandbox, "ib-5xx").send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == status


@pytest.mark.slow
def test_infobip_timeout_is_retryable(provider_sandbox):
    provider_sandbox.client.set_faults("ib-slow", timeout_rate=1)

    [result] = infobip(provider_sandbox, "ib-slow", timeout_s=0.3).send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")


@pytest.mark.slow
def test_infobip_carries_unicode_subjects_and_bodies(provider_sandbox):
    message = welcome(subject="Привет, 世界 🎉", text="Ünïcödé ✓", html="<p>नमस्ते</p>")

    [result] = infobip(provider_sandbox, "ib-utf", from_name="Héraut").send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("ib-utf")
    assert (received["subject"], received["body"]) == ("Привет, 世界 🎉", "Ünïcödé ✓")
    assert received["extra"]["html"] == "<p>नमस्ते</p>"
    assert received["extra"]["form"]["from"] == ["Héraut <news@herald.test>"]
