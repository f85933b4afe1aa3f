"""Plain SMTP (smtplib): one connection per batch, reused for every message in it.

Settings: `host`, `port`, `security` ("starttls", "tls" for implicit TLS/SMTPS, or "none";
by default "tls" on port 465, "starttls" on 587, else "none"), `timeout_s`, `from_email`,
`from_name`, `local_hostname`. Credentials: `username`, `password` (AUTH only when a username
is set). When settings have no host, the base URL is read as `smtp://host:port` (or
`smtps://` for implicit TLS).

Each message is a MIME multipart/alternative (text + HTML) with From (name and address),
To, Subject, Date, Reply-To, the caller's custom headers and a Message-ID — derived from the
idempotency key when there is one, so a retried send carries the same id — which is
returned as provider_message_id.

django-anymail is not used: it covers sending through ESP HTTP APIs and Django's own SMTP
backend reports only a count of sent messages, while we need a typed result per recipient.

Answer → SendResult:
- 250 after DATA → ACCEPTED.
- 5xx at RCPT TO (unknown user, mailbox gone: a hard bounce) → PERMANENT with the reply.
- 5xx after DATA (content refused) → PERMANENT; a header that cannot be encoded → PERMANENT.
- 4xx at any step → RETRYABLE (greylisting, a full queue, "try again later").
- MAIL FROM refused, AUTH refused → RETRYABLE: the sender set-up is wrong, not the recipient.
- connection refused, dropped or timed out → RETRYABLE; the next message reconnects.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from email.message import EmailMessage as MimeMessage
from email.utils import formataddr, formatdate, make_msgid
from urllib.parse import urlsplit

from apps.providers.adapters.base import Adapter, EmailMessage, SendResult, SendStatus

DEFAULT_TIMEOUT_S = 10.0
HERALD_NAMESPACE = uuid.UUID("6f1c2a52-7d1e-4b8e-9a55-3c1d8e0b4a11")


class SmtpConnectionError(Exception):
    """The connection could not be opened, secured or authenticated."""


def _reply_text(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {text}".strip()


def _by_code(recipient: str, code: int, reply: bytes | str) -> SendResult:
    status = SendStatus.PERMANENT if 500 <= code < 600 else SendStatus.RETRYABLE
    return SendResult(recipient, status, error=_reply_text(code, reply))


class SmtpAdapter(Adapter):
    kind = "smtp"
    channel = "email"

    def __init__(self, config):
        super().__init__(config)
        self.connections_opened = 0  # how many SMTP sessions this adapter started

    # -- connection ---------------------------------------------------------------------
    def _endpoint(self) -> tuple[str, int, str]:
        settings = self.config.settings
        host, port, scheme = settings.get("host"), settings.get("port"), ""
        if not host and self.config.base_url:
            url = urlsplit(self.config.base_url)
            host, port, scheme = url.hostname, port or url.port, url.scheme
        port = int(port or (465 if scheme == "smtps" else 25))
        security = str(settings.get("security") or "").lower()
        if not security:
            security = (
                "tls" if port == 465 or scheme == "smtps" else "starttls" if port == 587 else "none"
            )
        return str(host or "127.0.0.1"), port, security

    def _connect(self) -> smtplib.SMTP:
        host, port, security = self._endpoint()
        timeout = float(self.config.settings.get("timeout_s") or DEFAULT_TIMEOUT_S)
        local_hostname = self.config.settings.get("local_hostname") or None
        self.connections_opened += 1
        try:
            if security == "tls":
                connection = smtplib.SMTP_SSL(
                    host,
                    port,
                    local_hostname=local_hostname,
                    timeout=timeout,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(
                    host, port, local_hostname=local_hostname, timeout=timeout
                )
            connection.ehlo()
            if security == "starttls":
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            username = self.config.credentials.get("username")
            if username:
                connection.login(username, self.config.credentials.get("password", ""))
        except smtplib.SMTPResponseException as exc:
            raise SmtpConnectionError(_reply_text(exc.smtp_code, exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpConnectionError(f"connection error: {exc!r}") from exc
        return connection

    @staticmethod
    def _close(connection: smtplib.SMTP | None) -> None:
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()

    # -- messages -----------------------------------------------------------------------
    def _from_address(self, message: EmailMessage) -> tuple[str, str]:
        settings = self.config.settings
        return (
            message.from_name or settings.get("from_name", ""),
            message.from_email or settings.get("from_email", ""),
        )

    def mime(self, message: EmailMessage) -> MimeMessage:
        from_name, from_email = self._from_address(message)
        domain = from_email.rpartition("@")[2] or "herald.local"
        mime = MimeMessage()
        mime["From"] = formataddr((from_name, from_email)) if from_name else from_email
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(localtime=False)
        if message.idempotency_key:
            mime["Message-ID"] = (
                f"<{uuid.uuid5(HERALD_NAMESPACE, message.idempotency_key)}@{domain}>"
            )
        else:
            mime["Message-ID"] = make_msgid(domain=domain)
        if message.reply_to:
            mime["Reply-To"] = message.reply_to
        for name, value in message.headers.items():
            mime[name] = value
        if message.text:
            mime.set_content(message.text)
            if message.html:
                mime.add_alternative(message.html, subtype="html")
        else:
            mime.set_content(message.html, subtype="html")
        return mime

    def send(self, messages: list[EmailMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        connection: smtplib.SMTP | None = None
        try:
            for index, message in enumerate(messages):
                if connection is None:
                    try:
                        connection = self._connect()
                    except SmtpConnectionError as exc:
                        # Nothing more can go out on this batch; every message left may
                        # succeed later or elsewhere.
                        results.extend(
                            SendResult(m.to, SendStatus.RETRYABLE, error=str(exc))
                            for m in messages[index:]
                        )
                        return results
                result, connection_alive = self._send_one(connection, message)
                results.append(result)
                if not connection_alive:
                    connection.close()
                    connection = None
        finally:
            self._close(connection)
        return results

    def _send_one(self, connection: smtplib.SMTP, message: EmailMessage) -> tuple[SendResult, bool]:
        try:
            mime = self.mime(message)
        except (ValueError, TypeError) as exc:  # e.g. a newline in a custom header
            return SendResult(
                message.to, SendStatus.PERMANENT, error=f"invalid message: {exc}"
            ), True
        _, from_email = self._from_address(message)
        message_id = str(mime["Message-ID"])
        try:
            connection.send_message(mime, from_addr=from_email, to_addrs=[message.to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(message.to, (550, b"recipient refused"))
            return _by_code(message.to, code, reply), True
        except smtplib.SMTPSenderRefused as exc:
            return SendResult(
                message.to, SendStatus.RETRYABLE, error=_reply_text(exc.smtp_code, exc.smtp_error)
            ), True
        except smtplib.SMTPDataError as exc:
            return _by_code(message.to, exc.smtp_code, exc.smtp_error), True
        except smtplib.SMTPServerDisconnected as exc:
            return SendResult(message.to, SendStatus.RETRYABLE, error=f"disconnected: {exc}"), False
        except smtplib.SMTPResponseException as exc:
            return _by_code(message.to, exc.smtp_code, exc.smtp_error), False
        except TimeoutError as exc:
            return SendResult(message.to, SendStatus.RETRYABLE, error=f"timeout: {exc!r}"), False
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult(
                message.to, SendStatus.RETRYABLE, error=f"connection error: {exc!r}"
            ), False
        return SendResult(message.to, SendStatus.ACCEPTED, provider_message_id=message_id), True
