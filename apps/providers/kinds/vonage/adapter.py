"""Vonage (formerly Nexmo) SMS API.

`POST {base}/sms/json` as a form: `api_key`, `api_secret` (credentials), `from` (settings
`from`: a number or an alphanumeric sender id), `to` (E.164 without the "+"), `text`, and
`type=unicode` when the text has characters outside the GSM 7-bit alphabet (Vonage would
garble them otherwise). `client-ref` carries the idempotency key when set. Settings:
`timeout_s`. Base URL: `https://rest.nexmo.com`.

Vonage answers HTTP 200 with one entry per SMS part; the message is ACCEPTED when every
part has status "0" (the id is the first part's `message-id`). Status mapping:
- RETRYABLE: "1" throttled, "5" internal error, "9" quota, "10" too many binds, and the
  account or sender set-up errors "2" missing parameter, "4" invalid credentials, "8"
  account barred, "11" HTTP not enabled, "14" invalid signature, "15" invalid sender,
  "32" signature and secret disallowed — not about the recipient, so a group moves on to
  its next provider; also timeouts, connection errors, HTTP 5xx and 429, and any status
  this table does not know (a refused unknown costs one more try elsewhere, a lost message
  costs more).
- PERMANENT: "3" invalid parameters (an invalid `to`), "6" unroutable message, "7" number
  barred, "12" message too long, "22" invalid network code, "29" non-whitelisted
  destination, "33" number de-activated; and any other HTTP 4xx.
The error text is Vonage's own `error-text`."""

from __future__ import annotations

import httpx

from apps.providers.adapters.base import (
    HttpSmsAdapter,
    ProviderRequest,
    SendResult,
    SendStatus,
    SmsMessage,
)

PERMANENT_STATUSES = frozenset({"3", "6", "7", "12", "22", "29", "33"})
GSM_7BIT = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "^{}\\[~]|€\f"  # the extension table
)


def is_gsm_7bit(text: str) -> bool:
    return all(character in GSM_7BIT for character in text)


class VonageAdapter(HttpSmsAdapter):
    kind = "vonage"

    def request_for(self, message: SmsMessage) -> ProviderRequest:
        config = self.config
        form = {
            "api_key": str(config.credentials.get("api_key", "")),
            "api_secret": str(config.credentials.get("api_secret", "")),
            "from": str(config.settings.get("from", "")),
            "to": message.to.lstrip("+"),
            "text": message.body,
        }
        if not is_gsm_7bit(message.body):
            form["type"] = "unicode"
        if message.idempotency_key:
            form["client-ref"] = message.idempotency_key[:100]
        return ProviderRequest(
            message.to, f"{config.base_url.rstrip('/')}/sms/json", {"data": form}
        )

    @staticmethod
    def result_for(recipient: str, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        parts = answer.get("messages") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(parts, list) or not parts:
            retryable = status >= 500 or status == 429 or status < 400
            return SendResult(
                recipient,
                SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
                error=f"HTTP {status}: {response.text[:500]}",
                http_status=status,
            )
        for part in parts:
            code = str(part.get("status", ""))
            if code != "0":
                text = part.get("error-text") or "no error text"
                return SendResult(
                    recipient,
                    SendStatus.PERMANENT if code in PERMANENT_STATUSES else SendStatus.RETRYABLE,
                    error=f"{code}: {text}",
                    http_status=status,
                )
        return SendResult(
            recipient,
            SendStatus.ACCEPTED,
            provider_message_id=str(parts[0].get("message-id", "")),
            http_status=status,
        )
