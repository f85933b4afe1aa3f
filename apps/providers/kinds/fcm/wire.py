"""Firebase Cloud Messaging HTTP v1 as the sandbox answers it, with Google's OAuth2 token
endpoint beside it.

- `POST /token` (form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
  `assertion=<RS256 JWT>`): checks the JWT's shape and claims (iss, scope, aud, iat, exp —
  not the signature: the sandbox does not know the service account's public key) and answers
  `{"access_token", "expires_in", "token_type"}`; errors `{"error", "error_description"}`.
  A sandbox config sets credentials `token_uri` = base URL + "/token".
- `POST /v1/projects/<project>/messages:send` with `Authorization: Bearer <access token>`
  and `{"message": {"token", "notification", "data", "android", "webpush", ...}}`: success
  `{"name": "projects/<project>/messages/<id>"}`; errors `{"error": {"code", "message",
  "status", "details": [{"@type": ...FcmError, "errorCode"}]}}`: 401 UNAUTHENTICATED,
  400 INVALID_ARGUMENT (malformed token, non-string data, an android.priority or
  notification_priority FCM does not know), 404 UNREGISTERED (tokens the
  fault plan rejects)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
TOKEN_PREFIX = "ya29.sandbox."
# Real registration tokens are long base64url-ish strings with a colon; be a little lenient.
REGISTRATION_TOKEN_RE = re.compile(r"[A-Za-z0-9_:\-]{20,4096}")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


ANDROID_PRIORITIES = ("NORMAL", "HIGH")
NOTIFICATION_PRIORITIES = (
    "PRIORITY_UNSPECIFIED",
    "PRIORITY_MIN",
    "PRIORITY_LOW",
    "PRIORITY_DEFAULT",
    "PRIORITY_HIGH",
    "PRIORITY_MAX",
)


def _android_problem(android: object) -> str | None:
    """What FCM v1 refuses in `message.android`: enum values it does not know (it reads
    AndroidMessagePriority case-insensitively, as Google's JSON parsers do)."""
    if not isinstance(android, dict):
        return "Invalid value at 'message.android': expected an object"
    priority = android.get("priority")
    if priority is not None and str(priority).upper() not in ANDROID_PRIORITIES:
        return (
            "Invalid value at 'message.android.priority' "
            f'(type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), "{priority}"'
        )
    notification = android.get("notification") or {}
    tray = notification.get("notification_priority") if isinstance(notification, dict) else None
    if tray is not None and tray not in NOTIFICATION_PRIORITIES:
        return (
            "Invalid value at 'message.android.notification.notification_priority' "
            f'(type.googleapis.com/google.firebase.fcm.v1.NotificationPriority), "{tray}"'
        )
    return None


def _oauth_error(error: str, description: str) -> WireReply:
    return WireReply(status=400, body={"error": error, "error_description": description})


def _fcm_error(code: int, status: str, message: str, error_code: str | None = None) -> WireReply:
    error = {"code": code, "message": message, "status": status}
    if error_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    return WireReply(status=code, body={"error": error})


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
            return _fcm_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        try:
            message = request.json()["message"]
            if not isinstance(message, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _fcm_error(
                400, "INVALID_ARGUMENT", "Invalid JSON payload received.", "INVALID_ARGUMENT"
            )
        token = message.get("token")
        if not isinstance(token, str) or not REGISTRATION_TOKEN_RE.fullmatch(token):
            return _fcm_error(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                "INVALID_ARGUMENT",
            )
        data = message.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return _fcm_error(
                400,
                "INVALID_ARGUMENT",
                "Invalid value at 'message.data': values must be strings",
                "INVALID_ARGUMENT",
            )
        android = message.get("android") or {}
        if problem := _android_problem(android):
            return _fcm_error(400, "INVALID_ARGUMENT", problem, "INVALID_ARGUMENT")
        if faults.rejects(token):
            return _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")

        notification = message.get("notification") or {}
        name = f"projects/{project}/messages/{secrets.randbelow(10**16)}"
        delivery = Delivery(
            recipient=token,
            subject=str(notification.get("title", "")),
            body=str(notification.get("body", "")),
            provider_message_id=name,
            extra={
                "path": request.path,
                "auth_scheme": "Bearer",
                "request": {"message": message},
                "project": project,
                "data": data,
                "android": message.get("android") or {},
                "webpush": message.get("webpush") or {},
                "apns": message.get("apns") or {},
            },
        )
        return WireReply(status=200, body={"name": name}, deliveries=[delivery])


WIRE = FcmWire()
