"""Netcore SMS as the sandbox answers it — the modeled API of apps/providers/adapters/netcore.py
(see its docstring for how far that model is from Netcore's real documentation).

`POST /api/v1/sms/send` with header `api_key` and JSON `{"sender", "to", "text",
"dlt_template_id"?, "dlt_entity_id"?, "reference"?}`. Success 202
`{"status": "success", "data": {"message_id": …}}`; errors `{"status": "error", "error":
{"code": …, "message": …}}` with 400 (INVALID_NUMBER, MISSING_FIELD) or 401 (UNAUTHORIZED).

The sandbox accepts any non-empty key except the literal "invalid"."""

from __future__ import annotations

import re
import secrets

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

REJECTED_SECRET = "invalid"
NUMBER = re.compile(r"[1-9]\d{6,14}")


def netcore_error(status: int, code: str, message: str) -> WireReply:
    return WireReply(
        status=status, body={"status": "error", "error": {"code": code, "message": message}}
    )


class NetcoreWire(Wire):
    kind = "netcore"
    routes = [("POST", r"/api/v1/sms/send")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        key = request.header("api_key")
        if not key or key == REJECTED_SECRET:
            return netcore_error(401, "UNAUTHORIZED", "Invalid or missing api_key")
        try:
            payload = request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return netcore_error(400, "INVALID_JSON", "The body must be a JSON object")
        for name in ("sender", "to", "text"):
            if not payload.get(name):
                return netcore_error(400, "MISSING_FIELD", f"'{name}' is required")
        to = str(payload["to"])
        if not NUMBER.fullmatch(to) or faults.rejects("+" + to):
            return netcore_error(400, "INVALID_NUMBER", f"Invalid mobile number {to}")
        message_id = "nc-" + secrets.token_hex(10)
        delivery = Delivery(
            recipient="+" + to,
            body=str(payload["text"]),
            provider_message_id=message_id,
            extra={"path": request.path, "payload": payload},
        )
        return WireReply(
            status=202,
            body={"status": "success", "data": {"message_id": message_id}},
            deliveries=[delivery],
        )


WIRE = NetcoreWire()
