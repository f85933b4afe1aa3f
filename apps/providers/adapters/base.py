"""What every provider adapter speaks: messages in, one typed result per recipient out.

An adapter is built from a provider's kind, base URL, decrypted credentials and settings, and
sends over the provider's real wire format. It never raises for a provider's answer: a
timeout, a 5xx or a 429 is RETRYABLE (another try or another provider may succeed), an
invalid number, a bad token or a hard bounce is PERMANENT (retrying cannot help)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import httpx

from apps.providers.http import (
    DEFAULT_TIMEOUT,
    WireRequest,
    WireResponse,
    basic_auth_header,
    http_client,
    provider_http_client_name,
    send_concurrently,
    wire_request,
)


class SendStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class SendResult:
    recipient: str
    status: SendStatus
    provider_message_id: str = ""
    error: str = ""  # the provider's own error text, or ours for transport failures
    http_status: int | None = None
    # Push only: the provider says this token will never take a message again (FCM
    # UNREGISTERED, APNs 410 / BadDeviceToken, Web Push 404 / 410). The engine deactivates
    # the device at once, so later runs skip it. Always PERMANENT.
    unregistered: bool = False

    @property
    def accepted(self) -> bool:
        return self.status is SendStatus.ACCEPTED


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    body: str
    idempotency_key: str = ""  # (run, profile, variant) later; passed on where the API allows
    template_id: str = ""
    template_variables: list[str] = field(default_factory=list)
    # Generic SMS "What" blocks: message-body, header and global key-value pairs.
    body_values: dict[str, str] = field(default_factory=dict)
    header_values: dict[str, str] = field(default_factory=dict)
    global_values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    html: str = ""
    text: str = ""
    from_email: str = ""
    from_name: str = ""
    reply_to: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""


@dataclass(frozen=True)
class PushMessage:
    """One push to one device, provider-neutral: each adapter writes it in its service's own
    format. Built per platform (campaigns.messages.push_message), so every value is already
    the one for this device's platform.

    `data` is the app's key-values: the campaign's custom pairs for this platform, the
    CleverTap SDK keys (wzrk_*) and Herald's `herald_mid` (the message id the app reports
    views and clicks with). Values are strings.

    `options` (every key optional; an adapter ignores what its service has no place for):
    - "link": str — the deep link or URL opened on tap
    - "image": str — the big picture (Android background image, iOS media `ct_mediaUrl`,
      web `image`)
    - "large_icon": str (Android), "icon": str (web)
    - "sound": str; "badge": int (the count); "badge_icon": "app icon" | "notification icon"
      (Android O)
    - "category": str (iOS category / Android click action)
    - "buttons": list of {"id", "label", "link"} — action buttons
    - "carousel": list of {"image_url", "caption", "link"}
    - "collapse_id": str — a newer push with the same id replaces the older one
    - "channel_id": str — the Android notification channel
    - "tray_priority": "default" | "high" | "max" — the Android tray's ordering
    - "delivery_priority": "normal" | "high" — how urgently the service delivers it
      (FCM android.priority NORMAL/HIGH, APNs apns-priority 5/10, Web Push Urgency)
    - "push_type": "alert" | "background" (APNs apns-push-type)
    - "ttl": int seconds to keep trying, or "expires_at": int Unix time (an absolute expiry)
    - "mutable_content": bool, "content_available": bool (iOS)
    - "subtitle": str (iOS alert subtitle; Android subtext)
    """

    token: str
    platform: str  # android | ios | web
    title: str = ""
    body: str = ""
    data: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""
    # Web Push subscriptions only: the browser's "p256dh" public key and "auth" secret
    # (base64url), which the payload is encrypted to; `token` is then the endpoint URL.
    subscription_keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderConfig:
    """Everything an adapter needs, detached from the ORM (credentials already decrypted)."""

    kind: str
    nickname: str
    base_url: str
    credentials: dict[str, Any]
    settings: dict[str, Any]


class Adapter:
    """Base class: subclasses set `kind` and `channel` and implement `send`."""

    kind: ClassVar[str]
    channel: ClassVar[str]  # sms | email | push

    def __init__(self, config: ProviderConfig):
        self.config = config

    def send(self, messages: list) -> list[SendResult]:
        """One result per message, in the same order."""
        raise NotImplementedError


def request_timeout(settings: dict[str, Any]) -> httpx.Timeout | None:
    """A provider's `timeout_s` setting as a client timeout (None: the shared client's 10 s).
    Connecting is capped at 3 s whatever the setting: a slow connect means a dead host."""
    seconds = settings.get("timeout_s")
    if not seconds:
        return None
    seconds = float(seconds)
    return httpx.Timeout(seconds, connect=min(seconds, 3.0))


def post_or_retryable(
    recipient: str,
    url: str,
    *,
    settings: dict[str, Any],
    method: str = "POST",
    client: httpx.Client | None = None,
    **kwargs: Any,
) -> httpx.Response | SendResult:
    """Send one request over the shared pooled client. A response of any status comes back
    for the adapter to map; a transport failure (timeout, refused connection, broken
    answer) becomes a RETRYABLE result for `recipient`, because adapters never raise and
    another try or another provider may succeed."""
    if "timeout" not in kwargs and (timeout := request_timeout(settings)):
        kwargs["timeout"] = timeout
    try:
        return (client or http_client()).request(method, url, **kwargs)
    except httpx.HTTPError as error:
        return _retryable(recipient, error)


@dataclass(frozen=True)
class ProviderRequest:
    """One HTTP request an adapter wants sent for `recipient`; `options` are httpx's request
    keywords (data, json, content, params, headers) plus `auth` as a (user, password) pair."""

    recipient: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    method: str = "POST"


def _retryable(recipient: str, error: BaseException) -> SendResult:
    if isinstance(error, httpx.TimeoutException | TimeoutError):
        return SendResult(recipient, SendStatus.RETRYABLE, error=f"timeout: {error!r}")
    return SendResult(recipient, SendStatus.RETRYABLE, error=f"connection error: {error!r}")


def post_each_or_retryable(
    requests: list[ProviderRequest], *, settings: dict[str, Any]
) -> list[httpx.Response | WireResponse | SendResult]:
    """A batch's requests, one answer each in order, as `post_or_retryable` gives for one.
    With the aiohttp client (the default) they are in flight together over the shared pool,
    so a batch takes a few round trips instead of one per message; with httpx they go one
    after the other."""
    if provider_http_client_name() == "httpx":
        return [
            post_or_retryable(r.recipient, r.url, settings=settings, method=r.method, **r.options)
            for r in requests
        ]
    client = http_client()
    # A batch mostly repeats one URL and one login: parse and encode each once.
    urls: dict[str, httpx.URL] = {}
    logins: dict[tuple[str, str], str] = {}
    built: list[httpx.Request | WireRequest | SendResult] = []
    for request in requests:
        options = dict(request.options)
        if (auth := options.pop("auth", None)) is not None:
            auth = tuple(auth)
            if (login := logins.get(auth)) is None:
                login = logins[auth] = basic_auth_header(*auth)
            options["headers"] = {**options.get("headers", {}), "Authorization": login}
        if (wire := wire_request(request.method, request.url, options)) is not None:
            built.append(wire)
            continue
        try:
            if (url := urls.get(request.url)) is None:
                url = urls[request.url] = httpx.URL(request.url)
            built.append(client.build_request(request.method, url, **options))
        except (httpx.HTTPError, httpx.InvalidURL) as error:  # e.g. a malformed base URL
            built.append(_retryable(request.recipient, error))
    to_send = [item for item in built if not isinstance(item, SendResult)]
    answers = iter(
        send_concurrently(to_send, timeout=request_timeout(settings) or DEFAULT_TIMEOUT)
        if to_send
        else []
    )
    results: list[httpx.Response | SendResult] = []
    for request, item in zip(requests, built, strict=True):
        if isinstance(item, SendResult):
            results.append(item)
            continue
        answer = next(answers)
        results.append(
            _retryable(request.recipient, answer) if isinstance(answer, Exception) else answer
        )
    return results


def _with_idempotency_key(request: ProviderRequest, message: SmsMessage) -> ProviderRequest:
    """The message's idempotency key as an `Idempotency-Key` header (IETF httpapi draft): a
    provider that honours it (the sandbox does) answers a repeat without sending again; the
    others ignore an unknown header. The key is (run, profile, device, variant)."""
    if not message.idempotency_key:
        return request
    options = dict(request.options)
    options["headers"] = {**options.get("headers", {}), "Idempotency-Key": message.idempotency_key}
    return replace(request, options=options)


class HttpSmsAdapter(Adapter):
    """An SMS API that takes one message per HTTP request: subclasses say how to ask
    (`request_for`) and what an answer means (`result_for`); a batch is sent together."""

    channel = "sms"

    def send(self, messages: list[SmsMessage]) -> list[SendResult]:
        answers = post_each_or_retryable(
            [_with_idempotency_key(self.request_for(m), m) for m in messages],
            settings=self.config.settings,
        )
        return [
            answer if isinstance(answer, SendResult) else self.result_for(message.to, answer)
            for message, answer in zip(messages, answers, strict=True)
        ]

    def request_for(self, message: SmsMessage) -> ProviderRequest:
        raise NotImplementedError

    @staticmethod
    def result_for(recipient: str, response: httpx.Response) -> SendResult:
        raise NotImplementedError
