"""The sandbox's SMTP side: an aiosmtpd server on the same event loop as the HTTP side,
recording each accepted message as a delivery of kind "smtp".

Any AUTH PLAIN/LOGIN credentials are accepted (over plain text: it only listens on
loopback) and the username becomes the label, so fault injection works per SMTP provider
just as it does per HTTP provider: `reject_recipients` answers 550 at RCPT TO, `error_rate`
answers 451 at DATA, `timeout_rate` hangs at DATA, `latency_ms` delays the DATA answer."""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from apps.providers.sandbox.server import TIMEOUT_HANG_S, _random
from apps.providers.sandbox.state import SandboxState
from apps.providers.sandbox.wire import Delivery

ANONYMOUS_LABEL = "smtp"


def _label(session: Session) -> str:
    login = getattr(session.auth_data, "login", None)
    if isinstance(login, bytes):
        login = login.decode("utf-8", "replace")
    return login or ANONYMOUS_LABEL


def accept_any_credentials(server, session, envelope, mechanism, auth_data) -> AuthResult:
    if isinstance(auth_data, LoginPassword):
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


class SandboxSmtpHandler:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address, options):
        if self.state.faults_for(_label(session)).rejects(address):
            return f"550 5.1.1 <{address}>: recipient rejected by the sandbox"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        label = _label(session)
        faults = self.state.faults_for(label)
        self.state.requests[label] += 1
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.timeout_rate and _random.random() < faults.timeout_rate:
            await asyncio.sleep(TIMEOUT_HANG_S)
            return "451 4.4.2 sandbox injected timeout"
        if faults.error_rate and _random.random() < faults.error_rate:
            return "451 4.3.0 sandbox injected fault"

        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        subject, body, content_type = _subject_and_body(parsed)
        queue_id = uuid.uuid4().hex[:16]
        message_id = str(parsed.get("Message-ID", "")).strip() or f"<{queue_id}@sandbox>"
        extra: dict[str, Any] = {
            "from": envelope.mail_from,
            "message_id": message_id,
            "content_type": content_type,
            "to": str(parsed.get("To", "")),
        }
        for recipient in envelope.rcpt_tos:
            self.state.record(
                label=label,
                kind="smtp",
                delivery=Delivery(
                    recipient=recipient,
                    subject=subject,
                    body=body,
                    provider_message_id=queue_id,
                    extra=extra,
                ),
            )
        return f"250 2.0.0 OK queued as {queue_id}"


def _subject_and_body(parsed) -> tuple[str, str, str]:
    subject = str(parsed.get("Subject", ""))
    part = parsed.get_body(preferencelist=("plain", "html"))
    if part is None:
        return subject, "", ""
    try:
        return subject, _newlines(part.get_content()), part.get_content_type()
    except (LookupError, KeyError):  # an unknown charset: keep what can be read
        return subject, _newlines(part.get_payload(decode=True).decode("utf-8", "replace")), ""


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n")


async def start_smtp(state: SandboxState, *, host: str, port: int) -> asyncio.AbstractServer:
    handler = SandboxSmtpHandler(state)
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname="herald-sandbox",
            authenticator=accept_any_credentials,
            auth_require_tls=False,
            auth_required=False,
            enable_SMTPUTF8=True,
        )

    return await loop.create_server(protocol, host=host, port=port)
