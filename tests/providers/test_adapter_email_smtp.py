"""The SMTP adapter against the sandbox's aiosmtpd server over real SMTP: MIME in, replies
mapped to typed results, one connection per batch."""

import pytest

from apps.providers.adapters.base import EmailMessage, ProviderConfig, SendStatus
from apps.providers.kinds import adapter_for


def smtp(sandbox, label, **settings):
    # The sandbox labels SMTP traffic by the AUTH username.
    return adapter_for(
        ProviderConfig(
            kind="smtp",
            nickname=label,
            base_url="",
            credentials={"username": label, "password": "secret"},
            settings={
                "host": "127.0.0.1",
                "port": str(sandbox.smtp_port),
                "security": "none",
                "from_email": "news@herald.test",
                **settings,
            },
        )
    )


def welcome(to="ana@example.com", **overrides):
    fields = {"to": to, "subject": "Welcome", "text": "Hello Ana", "html": "<p>Hello Ana</p>"}
    fields.update(overrides)
    return EmailMessage(**fields)


@pytest.mark.slow
def test_smtp_sends_a_multipart_message_with_sender_reply_to_headers_and_message_id(
    provider_sandbox,
):
    adapter = smtp(provider_sandbox, "smtp-ok", from_name="Herald News")
    message = welcome(reply_to="help@herald.test", headers={"X-Campaign": "42"})

    [result] = adapter.send([message])

    assert result.status is SendStatus.ACCEPTED
    assert result.provider_message_id.startswith("<") and "@herald.test>" in (
        result.provider_message_id
    )
    [received] = provider_sandbox.client.messages("smtp-ok")
    assert received["kind"] == "smtp"
    assert received["recipient"] == "ana@example.com"
    assert received["subject"] == "Welcome"
    assert received["body"].strip() == "Hello Ana"
    assert received["extra"]["from"] == "news@herald.test"
    assert received["extra"]["to"] == "ana@example.com"
    assert received["extra"]["message_id"] == result.provider_message_id
    assert received["extra"]["content_type"] == "text/plain"


@pytest.mark.slow
def test_smtp_mime_has_text_and_html_alternatives_and_every_header(provider_sandbox):
    adapter = smtp(provider_sandbox, "smtp-mime", from_name="Herald News")

    mime = adapter.mime(
        welcome(reply_to="help@herald.test", headers={"X-Campaign": "42"}, idempotency_key="k1")
    )

    assert mime.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mime.iter_parts()] == ["text/plain", "text/html"]
    assert mime["From"] == "Herald News <news@herald.test>"
    assert mime["Reply-To"] == "help@herald.test"
    assert mime["X-Campaign"] == "42"
    # The same idempotency key gives the same Message-ID, so a retry is recognisable.
    assert mime["Message-ID"] == adapter.mime(welcome(idempotency_key="k1"))["Message-ID"]


@pytest.mark.slow
def test_smtp_reuses_one_connection_for_the_whole_batch(provider_sandbox):
    adapter = smtp(provider_sandbox, "smtp-batch")
    messages = [welcome(f"user{i}@example.com") for i in range(5)]

    results = adapter.send(messages)

    assert [r.status for r in results] == [SendStatus.ACCEPTED] * 5
    assert adapter.connections_opened == 1
    received = provider_sandbox.client.messages("smtp-batch", order="asc")
    assert [m["recipient"] for m in received] == [m.to for m in messages]
    assert len({r.provider_message_id for r in results}) == 5


@pytest.mark.slow
def test_smtp_recipient_refused_at_rcpt_is_permanent_and_the_batch_goes_on(provider_sandbox):
    provider_sandbox.client.set_faults("smtp-rcpt", reject_recipients=["gone@example.com"])
    adapter = smtp(provider_sandbox, "smtp-rcpt")

    results = adapter.send([welcome("gone@example.com"), welcome("ok@example.com")])

    assert [r.status for r in results] == [SendStatus.PERMANENT, SendStatus.ACCEPTED]
    assert results[0].error == "550 5.1.1 <gone@example.com>: recipient rejected by the sandbox"
    assert adapter.connections_opened == 1
    assert [m["recipient"] for m in provider_sandbox.client.messages("smtp-rcpt")] == [
        "ok@example.com"
    ]


@pytest.mark.slow
def test_smtp_4xx_after_data_is_retryable_with_the_reply(provider_sandbox):
    provider_sandbox.client.set_faults("smtp-451", error_rate=1)

    [result] = smtp(provider_sandbox, "smtp-451").send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "451 4.3.0 sandbox injected fault"
    assert provider_sandbox.client.messages("smtp-451") == []


@pytest.mark.slow
def test_smtp_timeout_is_retryable_and_the_next_message_reconnects(provider_sandbox):
    provider_sandbox.client.set_faults("smtp-slow", timeout_rate=1)
    adapter = smtp(provider_sandbox, "smtp-slow", timeout_s=0.3)

    results = adapter.send([welcome("a@example.com"), welcome("b@example.com")])

    assert [r.status for r in results] == [SendStatus.RETRYABLE, SendStatus.RETRYABLE]
    assert "timed out" in results[0].error
    assert adapter.connections_opened == 2


def test_smtp_connection_refused_makes_every_message_retryable():
    adapter = adapter_for(
        ProviderConfig(
            kind="smtp",
            nickname="down",
            base_url="smtp://127.0.0.1:9",  # discard port: nothing listens
            credentials={},
            settings={"from_email": "news@herald.test", "timeout_s": 2},
        )
    )

    results = adapter.send([welcome("a@example.com"), welcome("b@example.com")])

    assert [r.recipient for r in results] == ["a@example.com", "b@example.com"]
    assert [r.status for r in results] == [SendStatus.RETRYABLE, SendStatus.RETRYABLE]
    assert results[0].error.startswith("connection error")


@pytest.mark.slow
def test_smtp_header_injection_is_refused_as_permanent_without_sending(provider_sandbox):
    adapter = smtp(provider_sandbox, "smtp-inject")

    results = adapter.send(
        [welcome(headers={"X-Bad": "a\r\nBcc: victim@example.com"}), welcome("ok@example.com")]
    )

    assert results[0].status is SendStatus.PERMANENT
    assert results[0].error.startswith("invalid message")
    assert results[1].status is SendStatus.ACCEPTED
    assert [m["recipient"] for m in provider_sandbox.client.messages("smtp-inject")] == [
        "ok@example.com"
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "subject,text",
    [("Привет, 世界 🎉", "Ünïcödé ✓ body"), ("नमस्ते " * 20, "long unicode subject folds")],
)
def test_smtp_carries_unicode_subjects_and_bodies(provider_sandbox, subject, text):
    [result] = smtp(provider_sandbox, "smtp-utf", from_name="Héraut").send(
        [welcome(subject=subject, text=text)]
    )

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("smtp-utf")
    assert received["subject"] == subject
    assert received["body"].strip() == text
