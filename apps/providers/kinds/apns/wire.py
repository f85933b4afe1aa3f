"""Apple Push Notification service (token auth) as the sandbox answers it.

`POST /3/device/<hex device token>` with `authorization: bearer <ES256 JWT>` (header
`{"alg": "ES256", "kid"}`, claims `{"iss": team id, "iat"}`; the shape and age are checked,
not the signature: the sandbox does not know the key's public half), `apns-topic`
(required), `apns-push-type`, `apns-priority`, `apns-expiration`, `apns-collapse-id`,
`apns-id` (a UUID) and a JSON body with an `aps` dictionary of at most 4 KB.

Success: 200, empty body, `apns-id` header (the request's or a new one); the delivery
records the apns-* headers as sent and the whole JSON payload. Errors: `{"reason": ...}` —
400 BadDeviceToken (not hex) / MissingTopic / BadPriority (not 1, 5 or 10, or 10 — also by
default — for a background push) / InvalidPushType / BadExpirationDate (not digits) /
BadMessageId (apns-id not a UUID) / BadCollapseId (over 64 bytes) / PayloadEmpty (no JSON
object with an `aps` dictionary, or an alert push whose `aps` is empty), 403 MissingProviderToken /
InvalidProviderToken / ExpiredProviderToken, 413 PayloadTooLarge, and 410
`{"reason": "Unregistered", "timestamp": <ms>}` for device tokens the fault plan rejects.
The real service speaks HTTP/2 only; the sandbox answers HTTP/1.1."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

DEVICE_TOKEN_RE = re.compile(r"(?:[0-9a-fA-F]{2}){32,100}")
PUSH_TYPES = {
    "alert",
    "background",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "location",
    "liveactivity",
    "pushtotalk",
}
APNS_HEADERS = (
    "apns-topic",
    "apns-push-type",
    "apns-priority",
    "apns-expiration",
    "apns-collapse-id",
    "apns-id",
)
MAX_PAYLOAD = 4096
TOKEN_MAX_AGE_S = 3600


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _reason(status: int, reason: str, **more) -> WireReply:
    return WireReply(status=status, body={"reason": reason, **more})


def _auth_problem(authorization: str) -> str | None:
    if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
        return "MissingProviderToken"
    try:
        header_b64, claims_b64, signature_b64 = authorization[7:].strip().split(".")
        header = json.loads(_b64decode(header_b64))
        claims = json.loads(_b64decode(claims_b64))
        signature = _b64decode(signature_b64)
        issued_at = float(claims["iat"])
    except (ValueError, KeyError, TypeError):
        return "InvalidProviderToken"
    if header.get("alg") != "ES256" or not header.get("kid") or not claims.get("iss"):
        return "InvalidProviderToken"
    if len(signature) != 64:  # ES256 in a JWT is r‖s, 32 bytes each
        return "InvalidProviderToken"
    if time.time() - issued_at > TOKEN_MAX_AGE_S:
        return "ExpiredProviderToken"
    return None


class ApnsWire(Wire):
    kind = "apns"
    routes = [("POST", r"/3/device/(?P<token>[^/]+)")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        apns_id = request.header("apns-id")
        if apns_id:
            try:
                uuid.UUID(apns_id)
            except ValueError:
                return _reason(400, "BadMessageId")
        else:
            apns_id = str(uuid.uuid4()).upper()

        problem = _auth_problem(request.header("authorization"))
        if problem:
            return _reason(403, problem)
        topic = request.header("apns-topic")
        if not topic:
            return _reason(400, "MissingTopic")
        push_type = request.header("apns-push-type", "alert")
        if push_type not in PUSH_TYPES:
            return _reason(400, "InvalidPushType")
        # Apple: without the header the priority is 10; a background push must go at 5
        # ("it's an error to specify priority 10 for a background notification").
        priority = request.header("apns-priority", "10")
        if priority not in ("1", "5", "10") or (push_type == "background" and priority == "10"):
            return _reason(400, "BadPriority")
        expiration = request.header("apns-expiration")
        if expiration and not expiration.isdigit():
            return _reason(400, "BadExpirationDate")
        collapse_id = request.header("apns-collapse-id")
        if len(collapse_id.encode()) > 64:
            return _reason(400, "BadCollapseId")

        token = match["token"]
        if not DEVICE_TOKEN_RE.fullmatch(token):
            return _reason(400, "BadDeviceToken")
        if len(request.body) > MAX_PAYLOAD:
            return _reason(413, "PayloadTooLarge")
        try:
            payload = request.json()
        except ValueError:
            return _reason(400, "PayloadEmpty")
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return _reason(400, "PayloadEmpty")
        if push_type == "alert" and not payload["aps"]:
            return _reason(400, "PayloadEmpty")  # an alert push with nothing to show
        if faults.rejects(token):
            return _reason(410, "Unregistered", timestamp=int(time.time() * 1000))

        alert = payload["aps"].get("alert", "")
        title, body = (
            (alert.get("title", ""), alert.get("body", ""))
            if isinstance(alert, dict)
            else ("", str(alert))
        )
        delivery = Delivery(
            recipient=token,
            subject=str(title),
            body=str(body),
            provider_message_id=apns_id,
            extra={
                "path": request.path,
                "auth_scheme": "bearer",
                # The apns-* headers as they came (an absent one is not listed).
                "headers": {
                    name: request.headers[name] for name in APNS_HEADERS if name in request.headers
                },
                "request": payload,
            },
        )
        return WireReply(
            status=200,
            body=b"",
            content_type="text/plain",
            deliveries=[delivery],
            headers={"apns-id": apns_id},
        )


WIRE = ApnsWire()
