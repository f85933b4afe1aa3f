"""Infobip Email (v3) as the sandbox answers it.

`POST /email/3/send` with `Authorization: App <api key>` and a multipart/form-data body:
`from` ("Name <address>" or an address), one or more `to`, `subject`, `text` and/or `html`,
optional `replyTo`. Success is 200 with `{"bulkId", "messages": [{"to", "messageId",
"status": {"groupId", "groupName", "id", "name", "description"}}]}` — each recipient PENDING,
or REJECTED (invalid or fault-rejected address) while the others still go. Errors:
`{"requestError": {"serviceException": {"messageId", "text"}}}` with 401 UNAUTHORIZED or
400 BAD_REQUEST."""

from __future__ import annotations

import email.policy
import re
import secrets
from email.parser import BytesParser

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

EMAIL_RE = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message accepted, pending for delivery.",
}
REJECTED = {
    "groupId": 5,
    "groupName": "REJECTED",
    "id": 51,
    "name": "REJECTED_DESTINATION",
    "description": "Invalid destination address.",
}


def _service_error(status: int, message_id: str, text: str) -> WireReply:
    return WireReply(
        status=status,
        body={"requestError": {"serviceException": {"messageId": message_id, "text": text}}},
    )


def parse_multipart(content_type: str, body: bytes) -> dict[str, list[str]]:
    """form-data fields → values (text parts only), in order."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError("not multipart/form-data")
    parsed = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not parsed.is_multipart():
        raise ValueError("no parts")
    fields: dict[str, list[str]] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        fields.setdefault(name, []).append(payload.decode(charset, "replace"))
    return fields


class InfobipWire(Wire):
    kind = "infobip"
    routes = [("POST", r"/email/3/send")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        auth = request.header("authorization")
        if not auth.startswith("App ") or not auth[4:].strip():
            return _service_error(401, "UNAUTHORIZED", "Invalid login details")
        try:
            form = parse_multipart(request.header("content-type"), request.body)
        except ValueError:
            return _service_error(400, "BAD_REQUEST", "Request body must be multipart/form-data")

        def first(name: str) -> str:
            return (form.get(name) or [""])[0]

        sender = first("from")
        if not EMAIL_RE.search(sender):
            return _service_error(400, "BAD_REQUEST", "Invalid from address")
        recipients = form.get("to") or []
        if not recipients:
            return _service_error(400, "BAD_REQUEST", "Missing to address")
        if not first("subject"):
            return _service_error(400, "BAD_REQUEST", "Missing subject")
        text, html = first("text"), first("html")
        if not text and not html:
            return _service_error(400, "BAD_REQUEST", "Email text or html is required")

        bulk_id = secrets.token_hex(12)
        messages, deliveries = [], []
        for to in recipients:
            message_id = secrets.token_hex(16)
            if not EMAIL_RE.fullmatch(to) or faults.rejects(to):
                messages.append({"to": to, "messageId": message_id, "status": REJECTED})
                continue
            messages.append({"to": to, "messageId": message_id, "status": PENDING})
            deliveries.append(
                Delivery(
                    recipient=to,
                    subject=first("subject"),
                    body=text or html,
                    provider_message_id=message_id,
                    extra={
                        "path": request.path,
                        "auth_scheme": "App",
                        "bulk_id": bulk_id,
                        "form": {name: values for name, values in form.items()},
                        "html": html,
                    },
                )
            )
        return WireReply(
            status=200, body={"bulkId": bulk_id, "messages": messages}, deliveries=deliveries
        )


WIRE = InfobipWire()
