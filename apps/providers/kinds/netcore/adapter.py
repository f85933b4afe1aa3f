"""Netcore (Netcore Cloud) SMS.

Honesty note: we could not check Netcore's current SMS API reference while writing this, so
this adapter speaks a *modeled* API: it follows the conventions of Netcore's public email
API (an `api_key` request header, a JSON body, a `{"status": …}` envelope) and what Indian
SMS gateways need (a sender id, DLT template and entity ids). Before pointing it at the real
service, compare the path, field names and answers below with the account's API docs; the
mapping to results is the part that carries over.

`POST {base}/api/v1/sms/send` with header `api_key` (credentials `api_key`) and JSON
`{"sender": settings sender_id, "to": <E.164 without +>, "text": …, "dlt_template_id":
message template_id or settings dlt_template_id, "dlt_entity_id": settings dlt_entity_id,
"reference": idempotency key}` (empty optional fields are left out). Settings: `timeout_s`.

Answers: 2xx `{"status": "success", "data": {"message_id"}}` → ACCEPTED. Errors
`{"status": "error", "error": {"code", "message"}}`: INVALID_NUMBER, DND_BLOCKED,
INVALID_MESSAGE, MESSAGE_TOO_LONG → PERMANENT (about this recipient or message). Everything
else — UNAUTHORIZED/401/403, INVALID_SENDER, INVALID_TEMPLATE, MISSING_FIELD, 429, 5xx,
timeouts, connection errors, unknown codes — → RETRYABLE, so a group moves on to its next
provider. The error text is Netcore's `error.message` with its code."""

from __future__ import annotations

import httpx

from apps.providers.adapters.base import (
    HttpSmsAdapter,
    ProviderRequest,
    SendResult,
    SendStatus,
    SmsMessage,
)

PERMANENT_CODES = frozenset(
    {"INVALID_NUMBER", "DND_BLOCKED", "INVALID_MESSAGE", "MESSAGE_TOO_LONG"}
)


class NetcoreAdapter(HttpSmsAdapter):
    kind = "netcore"

    def payload(self, message: SmsMessage) -> dict[str, str]:
        settings = self.config.settings
        payload = {
            "sender": str(settings.get("sender_id", "")),
            "to": message.to.lstrip("+"),
            "text": message.body,
            "dlt_template_id": str(message.template_id or settings.get("dlt_template_id") or ""),
            "dlt_entity_id": str(settings.get("dlt_entity_id") or ""),
            "reference": message.idempotency_key,
        }
        optional = ("dlt_template_id", "dlt_entity_id", "reference")
        return {key: value for key, value in payload.items() if value or key not in optional}

    def request_for(self, message: SmsMessage) -> ProviderRequest:
        config = self.config
        return ProviderRequest(
            message.to,
            f"{config.base_url.rstrip('/')}/api/v1/sms/send",
            {
                "json": self.payload(message),
                "headers": {"api_key": str(config.credentials.get("api_key", ""))},
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
        data = answer.get("data") if isinstance(answer.get("data"), dict) else {}
        if status < 300 and answer.get("status") == "success" and data.get("message_id"):
            return SendResult(
                recipient,
                SendStatus.ACCEPTED,
                provider_message_id=str(data["message_id"]),
                http_status=status,
            )
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        code = str(error.get("code") or "")
        text = str(error.get("message") or response.text[:500] or f"HTTP {status}")
        permanent = code in PERMANENT_CODES and status < 500 and status != 429
        return SendResult(
            recipient,
            SendStatus.PERMANENT if permanent else SendStatus.RETRYABLE,
            error=f"{code}: {text}" if code else text,
            http_status=status,
        )
