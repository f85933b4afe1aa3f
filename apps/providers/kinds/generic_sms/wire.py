"""Generic SMS as the sandbox answers it: whatever an admin-defined request sends under
`/generic/…` (any method, any path below it).

The sandbox cannot know the admin's template, so it looks for the recipient the way most SMS
HTTP APIs name it: a field `To`, `to`, `mobile`, `mobiles`, `phone`, `number`, `msisdn` or
`recipient` at the top level of the JSON body, the form or the query string (a list of
numbers there means one message each), or in the entries of a top-level list (a batched
request; in a form body the list may arrive JSON-encoded). The text is the first of
`Message`, `message`, `text`, `Text`, `body`, `Body`, `sms`, `msg`, `content` found beside
the recipient, else at the top level.

Answers: one request, one recipient → 200 `{"status": "ok", "id": …}`; a batch → 200
`{"status": "ok", "id": …, "results": [{"to", "status": "ok", "id"} | {"to", "status":
"error", "message"}]}` in the order of the entries. A rejected single recipient gets 400
`{"status": "error", "message": "invalid number …"}`; a request with no recipient field gets
400 naming the fields looked for. Each delivery's `extra` holds the method, path, query,
the non-transport headers and the parsed body, so tests can check the rendered template."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

RECIPIENT_KEYS = ("To", "to", "mobile", "mobiles", "phone", "number", "msisdn", "recipient")
TEXT_KEYS = ("Message", "message", "text", "Text", "body", "Body", "sms", "msg", "content")
TRANSPORT_HEADERS = frozenset(
    {"host", "content-length", "connection", "accept", "accept-encoding", "user-agent"}
)


def parsed_body(request: SandboxRequest) -> dict[str, Any]:
    """JSON object, else form fields (last value wins), merged over the query string."""
    fields: dict[str, Any] = {key: values[-1] for key, values in request.query.items()}
    if not request.body:
        return fields
    text = request.body.decode("utf-8", errors="replace")
    if "json" in request.header("content-type") or text.lstrip()[:1] in ("{", "["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return {**fields, **value}
        if isinstance(value, list):
            return {**fields, "items": value}
    return {**fields, **{key: values[-1] for key, values in request.form().items()}}


def first_of(entry: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in entry and entry[key] not in (None, ""):
            return entry[key]
    return None


def batch_entries(fields: dict[str, Any]) -> list[dict[str, Any]] | None:
    for value in fields.values():
        if isinstance(value, str) and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) for v in value)
            and any(first_of(entry, RECIPIENT_KEYS) is not None for entry in value)
        ):
            return value
    return None


class GenericSmsWire(Wire):
    kind = "generic_sms"
    routes = [("*", r"/generic(/.*)?")]

    def matches(self, method: str, path: str) -> re.Match | None:
        return re.fullmatch(self.routes[0][1], path)

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        fields = parsed_body(request)
        extra = {
            "method": request.method,
            "path": request.path,
            "query": {key: values[-1] for key, values in request.query.items()},
            "headers": {
                name: value
                for name, value in request.headers.items()
                if name not in TRANSPORT_HEADERS
            },
            "body": fields,
        }
        request_id = "gen-" + secrets.token_hex(8)
        top_level = first_of(fields, RECIPIENT_KEYS)
        if top_level is not None:
            numbers = top_level if isinstance(top_level, list) else [top_level]
            text = str(first_of(fields, TEXT_KEYS) or "")
            if len(numbers) == 1:
                number = str(numbers[0])
                if faults.rejects(number):
                    return WireReply(
                        status=400, body={"status": "error", "message": f"invalid number {number}"}
                    )
                delivery = Delivery(number, text, request_id, extra={**extra, "batch_size": 1})
                return WireReply(
                    status=200, body={"status": "ok", "id": request_id}, deliveries=[delivery]
                )
            entries = [{"to": str(number), "text": text} for number in numbers]
        else:
            found = batch_entries(fields)
            if found is None:
                return WireReply(
                    status=400,
                    body={
                        "status": "error",
                        "message": "no recipient field found (looked for "
                        + ", ".join(RECIPIENT_KEYS)
                        + ")",
                    },
                )
            shared_text = first_of(fields, TEXT_KEYS)
            entries = [
                {
                    "to": str(first_of(entry, RECIPIENT_KEYS) or ""),
                    "text": str(first_of(entry, TEXT_KEYS) or shared_text or ""),
                }
                for entry in found
            ]
        results, deliveries = [], []
        for position, entry in enumerate(entries):
            if not entry["to"] or faults.rejects(entry["to"]):
                message = f"invalid number {entry['to']}".strip()
                results.append({"to": entry["to"], "status": "error", "message": message})
                continue
            item_id = f"{request_id}-{position}"
            results.append({"to": entry["to"], "status": "ok", "id": item_id})
            deliveries.append(
                Delivery(
                    entry["to"],
                    entry["text"],
                    item_id,
                    extra={**extra, "batch_size": len(entries)},
                )
            )
        return WireReply(
            status=200,
            body={"status": "ok", "id": request_id, "results": results},
            deliveries=deliveries,
        )


WIRE = GenericSmsWire()
