"""Infobip Email v3: one `POST {base}/email/3/send` (multipart/form-data) per message.

Credentials: `api_key` (sent as `Authorization: App <key>`). Settings: `from_email`,
`from_name` (used when the message has none), `timeout_s`.

Answer → SendResult:
- 200 with the recipient's status group PENDING or DELIVERED → ACCEPTED,
  provider_message_id = its `messageId`.
- 200 with group REJECTED or UNDELIVERABLE → PERMANENT with the status name and
  description; EXPIRED → RETRYABLE.
- 400 → PERMANENT (`requestError.serviceException.text`).
- 401 / 403 → RETRYABLE: the key is wrong, not the recipient.
- 429, 5xx, timeout, connection error → RETRYABLE.
"""

from __future__ import annotations

import httpx

from apps.providers.adapters.base import (
    Adapter,
    EmailMessage,
    SendResult,
    SendStatus,
    post_or_retryable,
)

ACCEPTED_GROUPS = {"PENDING", "DELIVERED"}
PERMANENT_GROUPS = {"REJECTED", "UNDELIVERABLE"}


def _error_text(response: httpx.Response) -> str:
    try:
        answer = response.json()
        exception = answer["requestError"]["serviceException"]
        return f"{exception.get('messageId', '')}: {exception.get('text', '')}".strip(": ")
    except (ValueError, KeyError, TypeError):
        pass
    return response.text[:500] or response.reason_phrase


class InfobipAdapter(Adapter):
    kind = "infobip"
    channel = "email"

    def send(self, messages: list[EmailMessage]) -> list[SendResult]:
        return [self._send_one(message) for message in messages]

    def form(self, message: EmailMessage) -> list[tuple[str, tuple[None, str]]]:
        settings = self.config.settings
        from_email = message.from_email or settings.get("from_email", "")
        from_name = message.from_name or settings.get("from_name", "")
        fields = [
            # Infobip takes the display name raw (UTF-8), not RFC 2047-encoded.
            ("from", f"{from_name} <{from_email}>" if from_name else from_email),
            ("to", message.to),
            ("subject", message.subject),
        ]
        if message.text:
            fields.append(("text", message.text))
        if message.html:
            fields.append(("html", message.html))
        if message.reply_to:
            fields.append(("replyTo", message.reply_to))
        for name, value in message.headers.items():
            fields.append(("headers", f"{name}: {value}"))
        # (None, value): a form field, not a file upload.
        return [(name, (None, value)) for name, value in fields]

    def _send_one(self, message: EmailMessage) -> SendResult:
        url = self.config.base_url.rstrip("/") + "/email/3/send"
        api_key = str(self.config.credentials.get("api_key", "")).strip()
        if not api_key:
            return SendResult(message.to, SendStatus.RETRYABLE, error="no Infobip API key is set")
        headers = {
            "Authorization": f"App {api_key}",
            "Accept": "application/json",
        }
        response = post_or_retryable(
            message.to,
            url,
            settings=self.config.settings,
            files=self.form(message),
            headers=headers,
        )
        if isinstance(response, SendResult):
            return response

        status = response.status_code
        if status == 200:
            try:
                [answer] = [m for m in response.json()["messages"] if m.get("to") == message.to]
                group = answer["status"]["groupName"]
            except (ValueError, KeyError, TypeError):
                return SendResult(
                    message.to,
                    SendStatus.RETRYABLE,
                    error=f"unreadable answer: {response.text[:300]}",
                    http_status=status,
                )
            if group in ACCEPTED_GROUPS:
                return SendResult(
                    message.to,
                    SendStatus.ACCEPTED,
                    provider_message_id=str(answer.get("messageId", "")),
                    http_status=status,
                )
            described = (
                f"{answer['status'].get('name', group)}: {answer['status'].get('description', '')}"
            )
            return SendResult(
                message.to,
                SendStatus.PERMANENT if group in PERMANENT_GROUPS else SendStatus.RETRYABLE,
                error=described.strip(": "),
                http_status=status,
            )
        retryable = status in (401, 403, 429) or status >= 500
        return SendResult(
            message.to,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=_error_text(response),
            http_status=status,
        )
