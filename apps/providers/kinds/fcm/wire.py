"""Firebase Cloud Messaging HTTP v1 as the sandbox answers it, with Google's OAuth2 token
endpoint beside it.

- `POST /token` (form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
  `assertion=<RS256 JWT>`): checks the JWT's shape and claims (iss, scope, aud, iat, exp —
  not the signature: the sandbox does not know the service account's public key) and answers
  `{"access_token", "expires_in", "token_type"}`; errors `{"error", "error_description"}`.
  A sandbox config sets credentials `token_uri` = base URL + "/token".
- `POST /v1/projects/<project>/messages:send` with `Authorization: Bearer <access token>`
  and `{"message": {"token", "notification", "data", "android", "apns", "webpush", ...}}`:
  success `{"name": "projects/<project>/messages/<id>"}`; errors `{"error": {"code",
  "message", "status", "details": [...]}}`: 401 UNAUTHENTICATED, 400 INVALID_ARGUMENT for
  whatever FCM refuses (wire_rules.py: the proto's field names and types, one target, the
  token's shape, reserved data keys, android / apns / webpush values, 4096 bytes), 404
  UNREGISTERED (FcmError) for tokens the fault plan rejects.
The recorded delivery keeps the request's whole message (`extra.request`) and, for tests
and the inbox, its data, android, apns and webpush blocks; subject and body are the title
and body the device would show (from `notification`, `apns.payload.aps.alert` or
`webpush.notification`)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time

from apps.providers.kinds.fcm.wire_rules import fcm_error, message_problem, normalised
from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
TOKEN_PREFIX = "ya29.sandbox."


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _oauth_error(error: str, description: str) -> WireReply:
    return WireReply(status=400, body={"error": error, "error_description": description})


def _shown(message: dict) -> tuple[str, str]:
    """The title and body the device shows, from whichever block carries them."""
    for block in (
        message.get("notification"),
        ((message.get("apns") or {}).get("payload") or {}).get("aps", {}).get("alert"),
        (message.get("webpush") or {}).get("notification"),
    ):
        if isinstance(block, dict) and (block.get("title") or block.get("body")):
            return str(block.get("title", "")), str(block.get("body", ""))
        if isinstance(block, str) and block:
            return "", block
    return "", ""


class FcmWire(Wire):
    kind = "fcm"
    routes = [
        ("POST", r"/token"),
        ("POST", r"/v1/projects/(?P<project>[^/]+)/messages:send"),
    ]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        if request.path == "/token":
            return self._token(request)
        return self._send(request, match["project"], faults)

    def _token(self, request: SandboxRequest) -> WireReply:
        form = request.form()
        if form.get("grant_type", [""])[0] != JWT_BEARER:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        assertion = form.get("assertion", [""])[0]
        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header = json.loads(_b64decode(header_b64))
            claims = json.loads(_b64decode(claims_b64))
            signature = _b64decode(signature_b64)
        except ValueError:
            return _oauth_error("invalid_grant", "Invalid JWT: not a signed JWT.")
        now = time.time()
        if header.get("alg") != "RS256" or len(signature) < 128:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        if not claims.get("iss") or FCM_SCOPE not in str(claims.get("scope", "")).split():
            return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience.")
        if not str(claims.get("aud", "")).endswith("/token"):
            return _oauth_error("invalid_grant", "Invalid JWT: audience is not the token URI.")
        try:
            iat, exp = float(claims["iat"]), float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            return _oauth_error("invalid_grant", "Invalid JWT: iat and exp are required.")
        if exp <= now or iat > now + 300 or exp - iat > 3600:
            return _oauth_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe.",
            )
        issuer = base64.urlsafe_b64encode(str(claims["iss"]).encode()).decode().rstrip("=")
        token = f"{TOKEN_PREFIX}{issuer}.{secrets.token_urlsafe(24)}"
        return WireReply(
            status=200, body={"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    def _send(self, request: SandboxRequest, project: str, faults: FaultPlan) -> WireReply:
        auth = request.header("authorization")
        if not auth.startswith("Bearer " + TOKEN_PREFIX):
            return fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        try:
            sent = request.json()["message"]
            if not isinstance(sent, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return fcm_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        message = normalised(sent)
        if problem := message_problem(message):
            return problem
        recipient = message.get("token") or message.get("topic") or message.get("condition")
        if faults.rejects(recipient):
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")

        title, body = _shown(message)
        name = f"projects/{project}/messages/{secrets.randbelow(10**16)}"
        delivery = Delivery(
            recipient=recipient,
            subject=title,
            body=body,
            provider_message_id=name,
            extra={
                "path": request.path,
                "auth_scheme": "Bearer",
                "request": {"message": sent},
                "project": project,
                "data": message.get("data") or {},
                "android": message.get("android") or {},
                "webpush": message.get("webpush") or {},
                "apns": message.get("apns") or {},
            },
        )
        return WireReply(status=200, body={"name": name}, deliveries=[delivery])


WIRE = FcmWire()
