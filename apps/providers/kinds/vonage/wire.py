"""Vonage (Nexmo) SMS API as the sandbox answers it.

`POST /sms/json` with `api_key`, `api_secret`, `from`, `to` (digits, no "+"), `text` and
optionally `type=unicode`, as a form or a JSON body. Vonage answers HTTP 200 even for a
refusal; the outcome is each message entry's `status` ("0" ok) with an `error-text`.

The sandbox accepts any non-empty secret except the literal "invalid" (answered with status
"4" Bad Credentials), and answers a rejected recipient with status "6" (unroutable)."""

from __future__ import annotations

import re
import secrets

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

REJECTED_SECRET = "invalid"
DIGITS = re.compile(r"[1-9]\d{6,14}")


def vonage_answer(entry: dict) -> WireReply:
    return WireReply(status=200, body={"message-count": "1", "messages": [entry]})


def vonage_error(status: str, text: str, to: str = "") -> WireReply:
    entry = {"status": status, "error-text": text}
    if to:
        entry = {"to": to, **entry}
    return vonage_answer(entry)


class VonageWire(Wire):
    kind = "vonage"
    routes = [("POST", r"/sms/json")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        if "json" in request.header("content-type"):
            try:
                fields = {key: str(value) for key, value in dict(request.json()).items()}
            except (ValueError, TypeError):
                fields = {}
        else:
            fields = {key: values[-1] for key, values in request.form().items()}
        for name in ("api_key", "api_secret", "from", "to", "text"):
            if not fields.get(name):
                return vonage_error("2", f"Missing {name} param")
        if fields["api_secret"] == REJECTED_SECRET:
            return vonage_error("4", "Bad Credentials")
        to = fields["to"]
        if not DIGITS.fullmatch(to):
            return vonage_error("3", "Invalid to address", to)
        if faults.rejects(to) or faults.rejects("+" + to):
            return vonage_error("6", "Unroutable message - rejected", to)
        message_id = secrets.token_hex(9).upper()
        shown = {key: value for key, value in fields.items() if key != "api_secret"}
        delivery = Delivery(
            recipient="+" + to,
            body=fields["text"],
            provider_message_id=message_id,
            extra={"path": request.path, "fields": shown},
        )
        reply = vonage_answer(
            {
                "to": to,
                "message-id": message_id,
                "status": "0",
                "remaining-balance": "10.00000000",
                "message-price": "0.03330000",
                "network": "12345",
            }
        )
        reply.deliveries.append(delivery)
        return reply


WIRE = VonageWire()
