"""Exotel SMS API.

`POST {base}/v1/Accounts/{account_sid}/Sms/send.json` with HTTP Basic `api_key:api_token`
(credentials `account_sid`, `api_key`, `api_token`) and form fields `From` (settings
`sender_id`: an ExoPhone or an approved sender id), `To` (E.164), `Body`, and the Indian
DLT fields `DltTemplateId` (the message's `template_id`, else settings
`dlt_template_id`) and `DltEntityId` (settings `dlt_entity_id`) when set. Settings:
`timeout_s`. Base URL: `https://api.exotel.com` (or your cluster's, e.g.
`https://api.in.exotel.com`).

Mapping: 200 with `SMSMessage.Sid` → ACCEPTED. RETRYABLE: timeout, connection error, HTTP
5xx, 429, 401/403 (credentials), and a 4xx whose message is about the sender (`From`,
sender id) or the DLT registration — the account's set-up, not the recipient, so a group
moves on to its next provider. Any other 4xx (an invalid `To`, an empty body) →
PERMANENT. The error text is Exotel's `RestException.Message`."""

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

SETUP_ERROR = re.compile(r"'From'|\bfrom\b|sender|dlt|entity", re.IGNORECASE)


class ExotelAdapter(HttpSmsAdapter):
    kind = "exotel"

    def request_for(self, message: SmsMessage) -> ProviderRequest:
        config = self.config
        credentials, settings = config.credentials, config.settings
        form = {
            "From": str(settings.get("sender_id", "")),
            "To": message.to,
            "Body": message.body,
        }
        if template_id := message.template_id or settings.get("dlt_template_id"):
            form["DltTemplateId"] = str(template_id)
        if settings.get("dlt_entity_id"):
            form["DltEntityId"] = str(settings["dlt_entity_id"])
        account_sid = str(credentials.get("account_sid", ""))
        url = f"{config.base_url.rstrip('/')}/v1/Accounts/{account_sid}/Sms/send.json"
        auth = (str(credentials.get("api_key", "")), str(credentials.get("api_token", "")))
        return ProviderRequest(message.to, url, {"data": form, "auth": auth})

    @staticmethod
    def result_for(recipient: str, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        sms = answer.get("SMSMessage")
        if status < 300 and isinstance(sms, dict) and sms.get("Sid"):
            return SendResult(
                recipient,
                SendStatus.ACCEPTED,
                provider_message_id=str(sms["Sid"]),
                http_status=status,
            )
        exception = answer.get("RestException")
        text = ""
        if isinstance(exception, dict):
            text = str(exception.get("Message") or "")
        text = text or response.text[:500] or f"HTTP {status}"
        retryable = (
            status >= 500
            or status in (401, 403, 429)
            or status < 400  # a success without a Sid: Exotel did not take it
            or bool(SETUP_ERROR.search(text))
        )
        return SendResult(
            recipient,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=text,
            http_status=status,
        )
