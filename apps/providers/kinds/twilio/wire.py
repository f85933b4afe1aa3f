"""Twilio Programmable Messaging as the sandbox answers it.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic `AccountSid:AuthToken`,
form fields `To`, `Body` and `From` or `MessagingServiceSid`. Errors use Twilio's JSON shape
`{"code", "message", "more_info", "status"}` with Twilio's own codes and texts.

The sandbox cannot know a real auth token, so it accepts any non-empty token except the
literal "invalid" (answered 401/20003 like a wrong token), and it requires the Basic user to
be the AccountSid of the path, as Twilio does."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

REJECTED_SECRET = "invalid"
E164 = re.compile(r"\+[1-9]\d{6,14}")


def twilio_error(status: int, code: int, message: str) -> WireReply:
    return WireReply(
        status=status,
        body={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


def basic_credentials(request: SandboxRequest) -> tuple[str, str] | None:
    scheme, _, encoded = request.header("authorization").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, sep, password = base64.b64decode(encoded).decode("utf-8").partition(":")
    except ValueError:
        return None
    return (user, password) if sep else None


class TwilioWire(Wire):
    kind = "twilio"
    routes = [("POST", r"/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        account_sid = match["sid"]
        credentials = basic_credentials(request)
        if (
            credentials is None
            or credentials[0] != account_sid
            or not credentials[1]
            or credentials[1] == REJECTED_SECRET
        ):
            return twilio_error(401, 20003, "Authenticate")
        form = {key: values[-1] for key, values in request.form().items()}
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From", ""), form.get("MessagingServiceSid", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if not E164.fullmatch(to) or faults.rejects(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        answer = {
            "sid": sid,
            "account_sid": account_sid,
            "messaging_service_sid": service or None,
            "from": sender or None,
            "to": to,
            "body": body,
            "status": "accepted" if service else "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "price": None,
            "error_code": None,
            "error_message": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
        delivery = Delivery(
            recipient=to,
            body=body,
            provider_message_id=sid,
            extra={"path": request.path, "auth_user": credentials[0], "form": form},
        )
        return WireReply(status=201, body=answer, deliveries=[delivery])


WIRE = TwilioWire()
