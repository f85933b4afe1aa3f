"""Amazon SES v2 SendEmail: one `POST {base}/v2/email/outbound-emails` per message.

One request per recipient, like the other email adapters: we owe a result per recipient, and
SES refuses a whole request for one bad address. Credentials: `access_key_id`,
`secret_access_key`. Settings: `region` (falls back to the region in an
`email.<region>.amazonaws.com` base URL), `from_email`/`from_name` used when the message has
none, `configuration_set` (sent as ConfigurationSetName), `timeout_s`.

Auth is AWS Signature Version 4, computed here with hashlib/hmac (no SDK): service "ses",
signed headers content-type;host;x-amz-date (x-amz-content-sha256 is optional outside S3 and
not sent), `Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/ses/
aws4_request, SignedHeaders=…, Signature=<hex>`. The sandbox verifies it with the same rules.

Body (JSON): FromEmailAddress ("Name <addr>" when a name is set), Destination.ToAddresses,
ReplyToAddresses, Content.Simple{Subject{Data,Charset}, Body{Text?,Html?}, Headers?[{Name,
Value}]}, ConfigurationSetName?, EmailTags [{herald_key}] when the idempotency key fits SES's
tag alphabet (it comes back on event destinations, so a bounce can be matched to the send).

Answer → SendResult. SES names its error in the `x-amzn-ErrorType` header (and `__type`/
`code` in some bodies) with the text in `message`; `error` keeps it as "Type: message".
- 200 with MessageId → ACCEPTED, provider_message_id = MessageId. A 200 without one → PERMANENT:
  SES may have taken the mail, so another try could send it twice.
- 400 BadRequestException (an invalid address or field), MessageRejected (content or
  recipient refused) and any other 4xx not listed below → PERMANENT.
- Account configuration, not the recipient → RETRYABLE, as the other adapters treat a wrong
  key, so another provider (or this one once fixed) can still deliver: 403 (SignatureDoesNotMatch,
  InvalidClientTokenId, UnrecognizedClientException, AccessDenied…),
  MailFromDomainNotVerifiedException, AccountSuspendedException, SendingPausedException,
  NotFoundException (a configuration set that does not exist), and MessageRejected whose text
  says an identity is "not verified" (an unverified From address, or an account still in the
  SES sandbox).
- 429 / TooManyRequestsException, LimitExceededException (daily quota or send rate), 5xx,
  timeout, connection error → RETRYABLE.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import formataddr
from urllib.parse import parse_qsl, quote

import httpx

from apps.providers.adapters.base import (
    Adapter,
    EmailMessage,
    SendResult,
    SendStatus,
    post_or_retryable,
)

SERVICE = "ses"
ALGORITHM = "AWS4-HMAC-SHA256"
SEND_PATH = "/v2/email/outbound-emails"
CHARSET = "UTF-8"
# SES endpoints are email.<region>.amazonaws.com (or email-fips.<region>…).
REGION_IN_HOST = re.compile(r"email(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")
# EmailTag values: ASCII letters, digits, underscores, dashes (and a few more), ≤ 256.
TAG_VALUE = re.compile(r"[A-Za-z0-9_\-.@]{1,256}")

CONFIG_ERRORS = {
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "SendingPausedException",
    "NotFoundException",
}
THROTTLE_ERRORS = {"TooManyRequestsException", "LimitExceededException", "Throttling"}


# -- Signature Version 4 -------------------------------------------------------------------
def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = _hmac(("AWS4" + secret_access_key).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def _uri_encode(text: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX with upper-case hex.
    return quote(text, safe="-_.~")


def canonical_uri(path: str) -> str:
    """Each segment URI-encoded, as AWS does for every service but S3 (the path is taken as
    it is sent, so already-encoded characters are encoded a second time)."""
    return "/".join(_uri_encode(segment) for segment in (path or "/").split("/")) or "/"


def canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(pairs))


def canonical_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    """`headers` with lower-case names; values are trimmed and inner runs of spaces folded."""
    lines = "".join(f"{name}:{' '.join(str(headers[name]).split())}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            lines,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(*, amz_date: str, scope: str, request: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, sha256_hex(request.encode("utf-8"))])


def signature(
    *,
    secret_access_key: str,
    amz_date: str,
    region: str,
    service: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    """The hex SigV4 signature of one request; `amz_date` is YYYYMMDDTHHMMSSZ."""
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    request = canonical_request(
        method=method,
        path=path,
        query=query,
        headers=headers,
        signed_headers=signed_headers,
        payload_hash=payload_hash,
    )
    key = signing_key(secret_access_key, date, region, service)
    return hmac.new(
        key,
        string_to_sign(amz_date=amz_date, scope=scope, request=request).encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()


def sign_request(
    *,
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str = SERVICE,
    now: datetime | None = None,
) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date and Authorization, every given header signed."""
    parsed = httpx.URL(url)
    amz_date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    signed = {name.lower(): value for name, value in headers.items()}
    # Signed as httpx sends it: the port only when it is not the scheme's default.
    signed["host"] = parsed.netloc.decode("ascii")
    signed["x-amz-date"] = amz_date
    names = sorted(signed)
    hex_signature = signature(
        secret_access_key=secret_access_key,
        amz_date=amz_date,
        region=region,
        service=service,
        method=method,
        path=parsed.raw_path.decode("ascii").partition("?")[0],
        query=parsed.query.decode("ascii"),
        headers=signed,
        signed_headers=names,
        payload_hash=sha256_hex(body),
    )
    authorization = (
        f"{ALGORITHM} Credential={access_key_id}/{amz_date[:8]}/{region}/{service}/aws4_request, "
        f"SignedHeaders={';'.join(names)}, Signature={hex_signature}"
    )
    return {
        **dict(headers),
        "Host": signed["host"],
        "X-Amz-Date": amz_date,
        "Authorization": authorization,
    }


# -- SES errors ----------------------------------------------------------------------------
def _error_type_and_text(response: httpx.Response) -> tuple[str, str]:
    """SES's error name and message. The name is in `x-amzn-ErrorType` ("MessageRejected:
    http://internal.amazon.com/…"), or `__type`/`code` in the body ("…#MessageRejected")."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    error_type = response.headers.get("x-amzn-errortype", "")
    error_type = error_type or str(body.get("__type") or body.get("code") or "")
    error_type = error_type.split(":")[0].rsplit("#", 1)[-1].strip()
    text = str(body.get("message") or body.get("Message") or "")
    return error_type, text or response.text[:500] or response.reason_phrase


def _is_retryable(status: int, error_type: str, text: str) -> bool:
    if status == 429 or status >= 500 or status in (401, 403):
        return True
    if error_type in THROTTLE_ERRORS or error_type in CONFIG_ERRORS:
        return True
    # "Email address is not verified. The following identities failed the check…": the
    # sender identity (or, in the SES sandbox, the recipient) is an account setting.
    return error_type == "MessageRejected" and "not verified" in text.lower()


def result_from_response(recipient: str, response: httpx.Response) -> SendResult:
    """SES's answer to one SendEmail as a typed result (the mapping in the module docstring)."""
    status = response.status_code
    if status == 200:
        try:
            message_id = response.json().get("MessageId", "")
        except (ValueError, AttributeError):
            message_id = ""
        if message_id:
            return SendResult(
                recipient,
                SendStatus.ACCEPTED,
                provider_message_id=str(message_id),
                http_status=status,
            )
        return SendResult(
            recipient,
            SendStatus.PERMANENT,
            error=f"SES answered 200 without a MessageId: {response.text[:200]}",
            http_status=status,
        )
    error_type, text = _error_type_and_text(response)
    retryable = _is_retryable(status, error_type, text)
    return SendResult(
        recipient,
        SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
        error=f"{error_type}: {text}" if error_type else text,
        http_status=status,
    )


class SesAdapter(Adapter):
    kind = "ses"
    channel = "email"

    def send(self, messages: list[EmailMessage]) -> list[SendResult]:
        return [self._send_one(message) for message in messages]

    def _region(self) -> str:
        region = self.config.settings.get("region") or self.config.credentials.get("region")
        if region:
            return str(region).strip()
        match = REGION_IN_HOST.search(self.config.base_url)
        return match[1] if match else ""

    def _payload(self, message: EmailMessage) -> dict:
        settings = self.config.settings
        email = message.from_email or settings.get("from_email", "")
        name = message.from_name or settings.get("from_name", "")
        # formataddr quotes the name and RFC 2047-encodes it when it is not ASCII.
        sender = formataddr((name, email), charset="utf-8") if name else email
        body: dict = {}
        if message.text:
            body["Text"] = {"Data": message.text, "Charset": CHARSET}
        if message.html:
            body["Html"] = {"Data": message.html, "Charset": CHARSET}
        simple: dict = {"Subject": {"Data": message.subject, "Charset": CHARSET}, "Body": body}
        if message.headers:
            simple["Headers"] = [{"Name": k, "Value": v} for k, v in message.headers.items()]
        payload: dict = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Simple": simple},
        }
        if message.reply_to:
            payload["ReplyToAddresses"] = [message.reply_to]
        if settings.get("configuration_set"):
            payload["ConfigurationSetName"] = settings["configuration_set"]
        if message.idempotency_key and TAG_VALUE.fullmatch(message.idempotency_key):
            payload["EmailTags"] = [{"Name": "herald_key", "Value": message.idempotency_key}]
        return payload

    def _send_one(self, message: EmailMessage) -> SendResult:
        credentials = self.config.credentials
        key_id = str(credentials.get("access_key_id", "")).strip()
        secret = str(credentials.get("secret_access_key", "")).strip()
        region = self._region()
        if not key_id or not secret:
            return SendResult(
                message.to, SendStatus.RETRYABLE, error="no SES access key id / secret is set"
            )
        if not region:
            return SendResult(message.to, SendStatus.RETRYABLE, error="no SES region is set")

        url = self.config.base_url.rstrip("/") + SEND_PATH
        body = json.dumps(self._payload(message), ensure_ascii=False).encode("utf-8")
        headers = sign_request(
            method="POST",
            url=url,
            body=body,
            headers={"Content-Type": "application/json"},
            access_key_id=key_id,
            secret_access_key=secret,
            region=region,
        )
        response = post_or_retryable(
            message.to, url, settings=self.config.settings, content=body, headers=headers
        )
        if isinstance(response, SendResult):
            return response

        return result_from_response(message.to, response)
