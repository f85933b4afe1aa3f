"""What FCM HTTP v1 refuses in a `message`, as the sandbox checks it: every refusal is
400 INVALID_ARGUMENT in FCM's error format. Two kinds, as Google answers them:

- the JSON does not fit the Message proto (a field name FCM does not have — snake_case or
  lowerCamelCase, both are accepted — or a value of the wrong type, e.g. a number in
  `data`): details carry a google.rpc.BadRequest field violation only;
- FCM's own checks (details carry an FcmError INVALID_ARGUMENT and the field violation):
  exactly one target (token, topic or condition); a registration token's shape — an APNs
  device token (64+ hex digits) or a Web Push endpoint URL is "not a valid FCM registration
  token"; reserved data keys ("from", "message_type", anything starting with "google." or
  "gcm.": "Invalid data payload key: <key>"); android.priority NORMAL / HIGH;
  android.ttl a protobuf Duration ("<seconds>[.<up to 9 digits>]s") of at most 4 weeks
  (2419200s); notification_priority one of FCM's enum; notification_count an integer ≥ 0;
  apns.headers as APNs takes them (apns-priority 5 or 10 — or 1 —, never 10 for a
  background push, apns-push-type known, apns-expiration digits, apns-collapse-id ≤ 64
  bytes); webpush.headers (TTL digits, Urgency very-low / low / normal / high, Topic ≤ 32
  URL-safe base64 characters); webpush.fcm_options.link https (FCM: "For all URL values,
  HTTPS is required"); and a payload (the message without its target) of at most 4096
  bytes ("Android message is too big", Google's words for Android; "Message is too big"
  otherwise).
Only the wording of the TTL, link and size refusals is the sandbox's own."""

from __future__ import annotations

import json
import re
from typing import Any

from apps.providers.kinds.apns.wire import PUSH_TYPES as APNS_PUSH_TYPES
from apps.providers.kinds.webpush.wire import TOPIC_RE
from apps.providers.sandbox.wire import WireReply

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
INVALID_TOKEN = "The registration token is not a valid FCM registration token"
# Real registration tokens are long base64url-ish strings with a colon; be a little lenient.
REGISTRATION_TOKEN_RE = re.compile(r"[A-Za-z0-9_:\-]{20,4096}")
APNS_DEVICE_TOKEN_RE = re.compile(r"[0-9a-fA-F]{64,}")
DURATION_RE = re.compile(r"(\d+)(\.\d{1,9})?s")
MAX_TTL_S = 2419200
MAX_PAYLOAD_BYTES = 4096
RESERVED_DATA_KEYS = {"from", "message_type"}
RESERVED_DATA_PREFIXES = ("google.", "gcm.")
ANDROID_PRIORITIES = ("NORMAL", "HIGH")
NOTIFICATION_PRIORITIES = (
    "PRIORITY_UNSPECIFIED",
    "PRIORITY_MIN",
    "PRIORITY_LOW",
    "PRIORITY_DEFAULT",
    "PRIORITY_HIGH",
    "PRIORITY_MAX",
)
URGENCIES = ("very-low", "low", "normal", "high")

# The Message proto's fields per object (snake_case), from the v1 reference. Objects not
# listed (apns.payload, webpush.notification, data maps) are free-form.
FIELDS: dict[str, set[str]] = {
    "message": {
        "name",
        "data",
        "notification",
        "android",
        "webpush",
        "apns",
        "fcm_options",
        "token",
        "topic",
        "condition",
    },
    "message.notification": {"title", "body", "image"},
    "message.android": {
        "collapse_key",
        "priority",
        "ttl",
        "restricted_package_name",
        "data",
        "notification",
        "fcm_options",
        "direct_boot_ok",
        "bandwidth_constrained_ok",
        "restricted_satellite_ok",
    },
    "message.android.notification": {
        "title",
        "body",
        "icon",
        "color",
        "sound",
        "tag",
        "click_action",
        "body_loc_key",
        "body_loc_args",
        "title_loc_key",
        "title_loc_args",
        "channel_id",
        "ticker",
        "sticky",
        "event_time",
        "local_only",
        "notification_priority",
        "default_sound",
        "default_vibrate_timings",
        "default_light_settings",
        "vibrate_timings",
        "visibility",
        "notification_count",
        "light_settings",
        "image",
        "bypass_proxy_notification",
        "proxy",
    },
    "message.android.fcm_options": {"analytics_label"},
    "message.apns": {"headers", "payload", "fcm_options", "live_activity_token"},
    "message.apns.fcm_options": {"analytics_label", "image"},
    "message.webpush": {"headers", "data", "notification", "fcm_options"},
    "message.webpush.fcm_options": {"link", "analytics_label"},
    "message.fcm_options": {"analytics_label"},
}
STRING_MAPS = (
    "message.data",
    "message.android.data",
    "message.apns.headers",
    "message.webpush.headers",
    "message.webpush.data",
)


def fcm_error(
    code: int,
    status: str,
    message: str,
    error_code: str | None = None,
    field: str | None = None,
) -> WireReply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    details: list[dict[str, Any]] = []
    if error_code:
        details.append({"@type": FCM_ERROR_TYPE, "errorCode": error_code})
    if field:
        violation = {"field": field, "description": message}
        details.append({"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]})
    if details:
        error["details"] = details
    return WireReply(status=code, body={"error": error})


def _invalid(message: str, field: str, *, fcm: bool = True) -> WireReply:
    return fcm_error(400, "INVALID_ARGUMENT", message, "INVALID_ARGUMENT" if fcm else None, field)


def snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m[0].lower(), name)


def normalised(value: Any, path: str = "message") -> Any:
    """The message with the proto objects' field names in snake_case (JSON accepts both)."""
    if not isinstance(value, dict) or path not in FIELDS:
        return value
    return {snake(k): normalised(v, f"{path}.{snake(k)}") for k, v in value.items()}


def shape_problem(message: dict[str, Any]) -> WireReply | None:
    """Unknown field names, non-objects where the proto has a message, non-string map values."""
    for path, known in FIELDS.items():
        value = _at(message, path)
        if value is None:
            continue
        if not isinstance(value, dict):
            return _invalid(
                f"Invalid value at '{path}': Starting an object on a scalar field",
                path,
                fcm=False,
            )
        for key in value:
            if key not in known:
                return _invalid(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{path}': "
                    "Cannot find field.",
                    path,
                    fcm=False,
                )
    for path in STRING_MAPS:
        values = _at(message, path)
        if values is None:
            continue
        if not isinstance(values, dict):
            return _invalid(f"Invalid value at '{path}': expected a map", path, fcm=False)
        for index, value in enumerate(values.values()):
            if not isinstance(value, str):
                field = f"{path}[{index}].value"
                return _invalid(
                    f"Invalid value at '{field}' (TYPE_STRING), {json.dumps(value)}",
                    field,
                    fcm=False,
                )
    return None


def _at(message: dict[str, Any], path: str) -> Any:
    value: Any = {"message": message}
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def token_problem(token: Any) -> WireReply | None:
    if (
        not isinstance(token, str)
        or "://" in token
        or APNS_DEVICE_TOKEN_RE.fullmatch(token)
        or not REGISTRATION_TOKEN_RE.fullmatch(token)
    ):
        return _invalid(INVALID_TOKEN, "message.token")
    return None


def target_problem(message: dict[str, Any]) -> WireReply | None:
    targets = [key for key in ("token", "topic", "condition") if message.get(key)]
    if not targets:
        return _invalid("Recipient of the message is not set.", "message")
    if len(targets) > 1:
        return _invalid(
            "Invalid value at 'message' (oneof), oneof field 'target' is already set. "
            f"Cannot set '{targets[1]}'",
            "message",
        )
    return token_problem(message["token"]) if targets == ["token"] else None


def data_problem(data: dict[str, str]) -> WireReply | None:
    for key in data:
        if key in RESERVED_DATA_KEYS or key.startswith(RESERVED_DATA_PREFIXES):
            return _invalid(f"Invalid data payload key: {key}", "message.data")
    return None


def android_problem(android: dict[str, Any]) -> WireReply | None:
    priority = android.get("priority")
    if priority is not None and str(priority).upper() not in ANDROID_PRIORITIES:
        return _invalid(
            "Invalid value at 'message.android.priority' "
            f'(type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), "{priority}"',
            "message.android.priority",
            fcm=False,
        )
    ttl = android.get("ttl")
    if ttl is not None:
        match = DURATION_RE.fullmatch(ttl) if isinstance(ttl, str) else None
        if match is None:
            return _invalid(
                "Invalid value at 'message.android.ttl' (type.googleapis.com/"
                f"google.protobuf.Duration), {json.dumps(ttl)}",
                "message.android.ttl",
                fcm=False,
            )
        if int(match[1]) > MAX_TTL_S or (int(match[1]) == MAX_TTL_S and match[2] is not None):
            return _invalid(
                f"Invalid value at 'message.android.ttl': {ttl} is longer than the maximum "
                f"of 4 weeks ({MAX_TTL_S}s)",
                "message.android.ttl",
            )
    notification = android.get("notification") or {}
    tray = notification.get("notification_priority")
    if tray is not None and tray not in NOTIFICATION_PRIORITIES:
        return _invalid(
            "Invalid value at 'message.android.notification.notification_priority' "
            f'(type.googleapis.com/google.firebase.fcm.v1.NotificationPriority), "{tray}"',
            "message.android.notification.notification_priority",
            fcm=False,
        )
    count = notification.get("notification_count")
    # An int32 in proto JSON is a number or a string of one.
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        field = "message.android.notification.notification_count"
        return _invalid(f"Invalid value at '{field}' (TYPE_INT32), {json.dumps(count)}", field)
    return None


def apns_problem(apns: dict[str, Any]) -> WireReply | None:
    headers = {name.lower(): value for name, value in (apns.get("headers") or {}).items()}
    field = "message.apns.headers"
    priority = headers.get("apns-priority", "10")
    push_type = headers.get("apns-push-type", "alert")
    if priority not in ("1", "5", "10"):
        return _invalid(f"Invalid apns-priority: {priority}", field)
    if push_type not in APNS_PUSH_TYPES:
        return _invalid(f"Invalid apns-push-type: {push_type}", field)
    if push_type == "background" and priority == "10":
        return _invalid(
            "A background push (apns-push-type background) needs apns-priority 5", field
        )
    if not headers.get("apns-expiration", "0").isdigit():
        return _invalid(f"Invalid apns-expiration: {headers['apns-expiration']}", field)
    if len(headers.get("apns-collapse-id", "").encode()) > 64:
        return _invalid("apns-collapse-id is longer than 64 bytes", field)
    payload = apns.get("payload")
    if payload is not None and (
        not isinstance(payload, dict) or not isinstance(payload.get("aps", {}), dict)
    ):
        return _invalid(
            "Invalid value at 'message.apns.payload': aps must be an object",
            "message.apns.payload",
        )
    return None


def webpush_problem(webpush: dict[str, Any]) -> WireReply | None:
    headers = {name.lower(): value for name, value in (webpush.get("headers") or {}).items()}
    field = "message.webpush.headers"
    if "ttl" in headers and not headers["ttl"].isdigit():
        return _invalid(f"Invalid TTL header: {headers['ttl']}", field)
    if "urgency" in headers and headers["urgency"] not in URGENCIES:
        return _invalid(f"Invalid Urgency header: {headers['urgency']}", field)
    if "topic" in headers and not TOPIC_RE.fullmatch(headers["topic"]):
        return _invalid(f"Invalid Topic header: {headers['topic']}", field)
    link = (webpush.get("fcm_options") or {}).get("link")
    if link is not None and not str(link).startswith("https://"):
        return _invalid(
            "Invalid value at 'message.webpush.fcm_options.link': HTTPS is required",
            "message.webpush.fcm_options.link",
        )
    return None


def size_problem(message: dict[str, Any]) -> WireReply | None:
    payload = {k: v for k, v in message.items() if k not in ("token", "topic", "condition")}
    size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    if size <= MAX_PAYLOAD_BYTES:
        return None
    words = "Android message is too big" if "android" in message else "Message is too big"
    return _invalid(words, "message")


def message_problem(message: dict[str, Any]) -> WireReply | None:
    """The first refusal FCM would answer for `message` (names already in snake_case)."""
    return (
        shape_problem(message)
        or target_problem(message)
        or data_problem(message.get("data") or {})
        or android_problem(message.get("android") or {})
        or apns_problem(message.get("apns") or {})
        or webpush_problem(message.get("webpush") or {})
        or size_problem(message)
    )
