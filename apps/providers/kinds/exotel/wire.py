"""Exotel SMS API as the sandbox answers it.

`POST /v1/Accounts/{sid}/Sms/send.json` with HTTP Basic `api_key:api_token` and form fields
`From`, `To`, `Body` (optional `DltTemplateId`, `DltEntityId`, `StatusCallback`, …).
Success is 200 `{"SMSMessage": {"Sid", "Status": "queued", …}}`; errors are
`{"RestException": {"Status": …, "Message": …}}`.

The sandbox accepts any non-empty token except the literal "invalid" (401), and answers a
rejected or malformed `To` with 400 "Invalid 'To' number"."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from apps.providers.kinds.twilio.wire import basic_credentials
from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

REJECTED_SECRET = "invalid"
NUMBER = re.compile(r"\+?[1-9]\d{6,14}|0\d{9,10}")


def exotel_error(status: int, message: str) -> WireReply:
    return WireReply(status=status, body={"RestException": {"Status": status, "Message": message}})


class ExotelWire(Wire):
    kind = "exotel"
    routes = [("POST", r"/v1/Accounts/(?P<sid>[^/]+)/Sms/send(?:\.json)?")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        credentials = basic_credentials(request)
        if credentials is None or not credentials[1] or credentials[1] == REJECTED_SECRET:
            return exotel_error(401, "Authentication is required to view this page.")
        form = {key: values[-1] for key, values in request.form().items()}
        for name in ("From", "To", "Body"):
            if not form.get(name):
                return exotel_error(400, f"Missing parameter '{name}'")
        to = form["To"]
        if not NUMBER.fullmatch(to) or faults.rejects(to):
            return exotel_error(400, f"Invalid 'To' number {to}")
        sid = secrets.token_hex(16)
        account_sid = match["sid"]
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        answer = {
            "SMSMessage": {
                "Sid": sid,
                "AccountSid": account_sid,
                "From": f"/{account_sid}/{form['From']}",
                "To": to,
                "DateCreated": now,
                "DateUpdated": now,
                "DateSent": None,
                "Body": form["Body"],
                "Direction": "outbound-api",
                "Uri": f"/v1/Accounts/{account_sid}/SMS/Messages/{sid}.json",
                "ApiVersion": None,
                "Price": None,
                "Status": "queued",
                "DetailedStatusCode": 21010,
                "DetailedStatus": "PENDING_TO_OPERATOR",
                "SmsUnits": None,
            }
        }
        delivery = Delivery(
            recipient=to,
            body=form["Body"],
            provider_message_id=sid,
            extra={"path": request.path, "auth_user": credentials[0], "form": form},
        )
        return WireReply(status=200, body=answer, deliveries=[delivery])


WIRE = ExotelWire()
