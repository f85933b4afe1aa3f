"""MSG91 through its Flow API (v5), the DLT-template way MSG91 sends SMS in India.

`POST {base}/api/v5/flow/` with header `authkey` (credentials `authkey`) and JSON
`{"template_id", "short_url": "0"|"1", "recipients": [{"mobiles": "<E.164 without +>",
"VAR1": …, "VAR2": …, <named variables>}]}`. The template id is the message's
`template_id`, else settings `template_id`; `template_variables` become VAR1…VARn in order,
`body_values` are added as named variables, and settings `body_variable` (e.g. "message")
names a template variable that receives the message text, for templates written as
`##message##`. Settings: `short_url` (bool), `timeout_s`. Base URL:
`https://control.msg91.com`.

One request per message: MSG91 answers one request id for all recipients of a request and
refuses the whole request for one bad number, so batching would turn one invalid number
into a failure for everyone.

Mapping: `{"type": "success", "message": <request id>}` → ACCEPTED with the request id.
RETRYABLE: timeout, connection error, HTTP 5xx and 429, 401/403 and errors about the
account set-up (text mentioning auth, template, sender, flow, balance or IP) — not about the
recipient, so a group moves on to its next provider. Any other `type: "error"` (an invalid
mobile number, …) → PERMANENT, with MSG91's `message` as the error text."""

from __future__ import annotations

import re

import httpx

from apps.providers.adapters.base import (
    HttpSmsAdapter,
    ProviderRequest,
    SendResult,
    SendStatus,
    SmsMessage,
)

SETUP_ERROR = re.compile(r"auth|template|sender|flow|balance|\bip\b", re.IGNORECASE)


class Msg91Adapter(HttpSmsAdapter):
    kind = "msg91"

    def payload(self, message: SmsMessage) -> dict:
        settings = self.config.settings
        recipient: dict[str, str] = {"mobiles": message.to.lstrip("+")}
        recipient.update({key: str(value) for key, value in message.body_values.items()})
        for position, value in enumerate(message.template_variables, start=1):
            recipient[f"VAR{position}"] = str(value)
        if settings.get("body_variable"):
            recipient[str(settings["body_variable"])] = message.body
        return {
            "template_id": message.template_id or str(settings.get("template_id", "")),
            "short_url": "1" if settings.get("short_url") else "0",
            "recipients": [recipient],
        }

    def request_for(self, message: SmsMessage) -> ProviderRequest:
        config = self.config
        return ProviderRequest(
            message.to,
            f"{config.base_url.rstrip('/')}/api/v5/flow/",
            {
                "json": self.payload(message),
                "headers": {"authkey": str(config.credentials.get("authkey", ""))},
            },
        )

    @staticmethod
    def result_for(recipient: str, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        text = str(answer.get("message") or response.text[:500] or f"HTTP {status}")
        if status < 300 and answer.get("type") == "success":
            return SendResult(
                recipient, SendStatus.ACCEPTED, provider_message_id=text, http_status=status
            )
        retryable = (
            status >= 500
            or status in (401, 403, 429)
            or bool(SETUP_ERROR.search(text))
            or answer.get("type") != "error"  # an answer we cannot read: try elsewhere
        )
        return SendResult(
            recipient,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=text,
            http_status=status,
        )
