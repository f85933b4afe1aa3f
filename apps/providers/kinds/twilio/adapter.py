"""Twilio Programmable Messaging (the Messages API).

`POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic
`AccountSid:AuthToken` and form fields `To`, `Body` and either `From` (settings
`from_number`) or `MessagingServiceSid` (settings `messaging_service_sid`, the CoPilot id,
which wins when both are set). Credentials: `account_sid`, `auth_token`. Settings:
`timeout_s` (default: the shared client's 10 s). Base URL: `https://api.twilio.com`.

How answers map to results:
- 201 → ACCEPTED with Twilio's `sid` as the provider message id.
- Timeout, connection error, 5xx, HTTP 429 or code 20429 → RETRYABLE.
- 401/403 (20003 "Authenticate") and sender/account configuration errors (21212, 21603,
  21606, 21659, 20404) → RETRYABLE: they are about this provider's set-up, not about the
  recipient, so a provider group must move on to its next provider (retrying the same
  provider keeps failing, which its circuit breaker notices).
- Any other 4xx (21211 invalid 'To', 21614 not a mobile number, 21610 unsubscribed,
  21612/21408 unroutable, 21602 empty body, …) → PERMANENT: the recipient or the message
  itself is refused, so no provider would do better.
The error text is Twilio's own `message` (with its code)."""

from __future__ import annotations

import httpx

from apps.providers.adapters.base import (
    HttpSmsAdapter,
    ProviderRequest,
    SendResult,
    SendStatus,
    SmsMessage,
)

CONFIGURATION_CODES = frozenset({20003, 20404, 21212, 21603, 21606, 21659})
RETRYABLE_CODES = frozenset({20429})


class TwilioAdapter(HttpSmsAdapter):
    kind = "twilio"

    def request_for(self, message: SmsMessage) -> ProviderRequest:
        config = self.config
        account_sid = str(config.credentials.get("account_sid", ""))
        auth_token = str(config.credentials.get("auth_token", ""))
        form = {"To": message.to, "Body": message.body}
        if config.settings.get("messaging_service_sid"):
            form["MessagingServiceSid"] = config.settings["messaging_service_sid"]
        else:
            form["From"] = config.settings.get("from_number", "")
        url = f"{config.base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        return ProviderRequest(message.to, url, {"data": form, "auth": (account_sid, auth_token)})

    @staticmethod
    def result_for(recipient: str, response: httpx.Response) -> SendResult:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status in (200, 201) and answer.get("sid"):
            return SendResult(
                recipient,
                SendStatus.ACCEPTED,
                provider_message_id=answer["sid"],
                http_status=status,
            )
        code = answer.get("code")
        text = answer.get("message") or response.text[:500] or f"HTTP {status}"
        error = f"{code}: {text}" if code else text
        retryable = (
            status >= 500
            or status in (401, 403, 429)
            or code in RETRYABLE_CODES
            or code in CONFIGURATION_CODES
            or status < 400  # a 2xx without a sid: Twilio did not take it, try again
        )
        return SendResult(
            recipient,
            SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
            error=error,
            http_status=status,
        )
