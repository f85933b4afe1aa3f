"""SendGrid v3 Mail Send: one `POST {base}/v3/mail/send` per message.

One request per recipient, because SendGrid rejects a whole request for one bad address and
we owe a result per recipient. Credentials: `api_key`. Settings: `timeout_s` (default: the
pooled client's), `from_email`/`from_name` used when the message has none.

Answer → SendResult:
- 202 → ACCEPTED, provider_message_id = the `X-Message-Id` header.
- 400 / 413 → PERMANENT (an invalid address, or a request SendGrid will never take),
  error = the `errors[].message` texts (with their field).
- 401 / 403 → RETRYABLE: the key is wrong or lacks permission; the recipient is fine and
  another provider (or this one, once the key is fixed) can deliver it.
- 429, 5xx, timeout, connection error → RETRYABLE.
- any other status → PERMANENT with the body text.
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


def _error_text(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        parts = []
        for error in errors:
            text = str(error.get("message", ""))
            if error.get("field"):
                text += f" ({error['field']})"
            parts.append(text)
        if parts:
            return "; ".join(parts)
    except (ValueError, AttributeError):
        pass
    return response.text[:500] or response.reason_phrase


class SendGridAdapter(Adapter):
    kind = "sendgrid"
    channel = "email"

    def send(self, messages: list[EmailMessage]) -> list[SendResult]:
        return [self._send_one(message) for message in messages]

    def _payload(self, message: EmailMessage) -> dict:
        settings = self.config.settings
        sender = {"email": message.from_email or settings.get("from_email", "")}
        if message.from_name or settings.get("from_name"):
            sender["name"] = message.from_name or settings["from_name"]
        content = []
        # SendGrid requires text/plain before text/html when both are present.
        if message.text:
            content.append({"type": "text/plain", "value": message.text})
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        payload: dict = {
            "personalizations": [{"to": [{"email": message.to}]}],
            "from": sender,
            "subject": message.subject,
            "content": content,
        }
        if message.reply_to:
            payload["reply_to"] = {"email": message.reply_to}
        if message.headers:
            payload["headers"] = dict(message.headers)
        if message.idempotency_key:
            # Comes back on event webhooks, so a later bounce can be matched to this send.
            payload["custom_args"] = {"herald_key": message.idempotency_key}
        return payload

    def _send_one(self, message: EmailMessage) -> SendResult:
        url = self.config.base_url.rstrip("/") + "/v3/mail/send"
        headers = {"Authorization": f"Bearer {self.config.credentials.get('api_key', '')}"}
        response = post_or_retryable(
            message.to,
            url,
            settings=self.config.settings,
            json=self._payload(message),
            headers=headers,
        )
        if isinstance(response, SendResult):
            return response

        status = response.status_code
        if status == 202 or status == 200:
            return SendResult(
                message.to,
                SendStatus.ACCEPTED,
                provider_message_id=response.headers.get("x-message-id", ""),
                http_status=status,
            )
        retryable = status in (401, 403, 429) or status >= 500
        return SendResult(
            message.to,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=_error_text(response),
            http_status=status,
        )
