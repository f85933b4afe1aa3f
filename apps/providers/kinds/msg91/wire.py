"""MSG91 Flow API (v5) as the sandbox answers it.

`POST /api/v5/flow/` with header `authkey` and a JSON body `{"template_id", "short_url",
"recipients": [{"mobiles": "91…", "VAR1": …, …}]}`. Success is
`{"type": "success", "message": "<request id>"}`; errors `{"type": "error", "message": …}`.

The sandbox accepts any non-empty authkey except the literal "invalid" (401
"AuthenticationFailure"). A rejected or malformed mobile number refuses the request (400),
because MSG91 answers one request id for all its recipients. The recorded body is the
recipient's `message`, `body` or `text` variable when there is one, else the template id
with the variables, since the template text lives at MSG91."""

from __future__ import annotations

import re
import secrets

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

REJECTED_SECRET = "invalid"
MOBILE = re.compile(r"[1-9]\d{6,14}")
BODY_VARIABLES = ("message", "body", "text", "MESSAGE", "BODY", "TEXT")


def msg91_error(status: int, message: str) -> WireReply:
    return WireReply(status=status, body={"type": "error", "message": message})


class Msg91Wire(Wire):
    kind = "msg91"
    routes = [("POST", r"/api/v5/flow/?")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        authkey = request.header("authkey")
        if not authkey or authkey == REJECTED_SECRET:
            return msg91_error(401, "AuthenticationFailure")
        try:
            payload = request.json()
        except ValueError:
            return msg91_error(400, "Invalid JSON body")
        if not isinstance(payload, dict):
            return msg91_error(400, "Invalid JSON body")
        template_id = payload.get("template_id") or payload.get("flow_id")
        if not template_id:
            return msg91_error(400, "template_id is required")
        recipients = payload.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            return msg91_error(400, "recipients is required")
        for recipient in recipients:
            mobile = str(recipient.get("mobiles", "")) if isinstance(recipient, dict) else ""
            if not MOBILE.fullmatch(mobile) or faults.rejects("+" + mobile):
                return msg91_error(400, f"Mobile number not valid: {mobile}")
        request_id = secrets.token_hex(12)
        deliveries = []
        for recipient in recipients:
            variables = {key: value for key, value in recipient.items() if key != "mobiles"}
            body = next((str(variables[k]) for k in BODY_VARIABLES if k in variables), None)
            if body is None:
                body = f"template {template_id}: " + ", ".join(
                    f"{key}={value}" for key, value in variables.items()
                )
            deliveries.append(
                Delivery(
                    recipient="+" + recipient["mobiles"],
                    body=body,
                    provider_message_id=request_id,
                    extra={"path": request.path, "payload": payload},
                )
            )
        return WireReply(
            status=200, body={"type": "success", "message": request_id}, deliveries=deliveries
        )


WIRE = Msg91Wire()
