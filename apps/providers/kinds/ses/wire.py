"""Amazon SES v2 SendEmail as the sandbox answers it.

`POST /v2/email/outbound-emails` with a JSON body (FromEmailAddress, Destination{ToAddresses,
CcAddresses, BccAddresses}, ReplyToAddresses, Content.Simple{Subject, Body{Text, Html},
Headers}, ConfigurationSetName, EmailTags) signed with AWS Signature Version 4.

The signature is verified, not just its shape: the sandbox knows the secret of its test
access keys (`SANDBOX_KEYS`; a provider pointed at the sandbox uses
`SANDBOX_ACCESS_KEY_ID`/`SANDBOX_SECRET_ACCESS_KEY`) and recomputes the signature over the
request exactly as it arrived — the full path including the `/p/<label>` prefix, the Host
header as sent, the signed headers and the SHA-256 of the body. An unknown key id is answered
403 InvalidClientTokenId, a wrong signature (a wrong secret) 403 SignatureDoesNotMatch, a
missing or malformed Authorization header 403 IncompleteSignatureException, an X-Amz-Date more
than 15 minutes off 403 InvalidSignatureException ("Signature expired"), as AWS does.

Success: 200 `{"MessageId"}`. Errors: the type in the `x-amzn-ErrorType` header and
`{"message"}` in the body, like SES: 400 BadRequestException (missing field, illegal address),
400 MessageRejected "Address blacklisted." for recipients the fault plan rejects and
"Email address is not verified…" for a From address at `UNVERIFIED_DOMAIN`, 404
NotFoundException for the configuration set `MISSING_CONFIGURATION_SET`."""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlencode

from apps.providers.kinds.ses.adapter import ALGORITHM, SERVICE, sha256_hex, signature
from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

# The sandbox's test credentials: key id → secret. Not secrets: they only open the sandbox.
SANDBOX_ACCESS_KEY_ID = "AKIAHERALDSANDBOX01"
SANDBOX_SECRET_ACCESS_KEY = "herald/sandbox+SES/secret/key/0000000000"
SANDBOX_KEYS = {SANDBOX_ACCESS_KEY_ID: SANDBOX_SECRET_ACCESS_KEY}

UNVERIFIED_DOMAIN = "unverified.test"
MISSING_CONFIGURATION_SET = "missing"
MAX_CLOCK_SKEW_S = 15 * 60
ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sesv2/"
AUTH_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CREDENTIAL_RE = re.compile(
    r"(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)/aws4_request"
)


def ses_error(status: int, error_type: str, message: str, namespace: str = ERROR_NAMESPACE):
    return WireReply(
        status=status,
        body={"message": message},
        headers={
            "x-amzn-ErrorType": f"{error_type}:{namespace}",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


def _auth_error(error_type: str, message: str) -> WireReply:
    return ses_error(403, error_type, message, AUTH_NAMESPACE)


def _parse_authorization(header: str) -> dict[str, str] | None:
    """{"Credential", "SignedHeaders", "Signature"} from `AWS4-HMAC-SHA256 k=v, k=v, k=v`."""
    scheme, _, rest = header.partition(" ")
    if scheme != ALGORITHM:
        return None
    parts = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts[name] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= parts.keys():
        return None
    return parts


def verify_signature(request: SandboxRequest, *, now: datetime | None = None) -> WireReply | dict:
    """The error SES would answer, or the parsed credential scope when the signature holds."""
    authorization = request.header("authorization")
    if not authorization:
        return _auth_error("MissingAuthenticationTokenException", "Missing Authentication Token")
    parts = _parse_authorization(authorization)
    credential = CREDENTIAL_RE.fullmatch(parts["Credential"]) if parts else None
    if parts is None or credential is None:
        return _auth_error(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
            f"parameters and the {ALGORITHM} algorithm.",
        )
    secret = SANDBOX_KEYS.get(credential["key"])
    if secret is None:
        return _auth_error(
            "InvalidClientTokenId", "The security token included in the request is invalid."
        )
    if credential["service"] != SERVICE:
        return _auth_error(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'.",
        )
    signed_headers = parts["SignedHeaders"].split(";")
    missing = [h for h in ("host", "x-amz-date") if h not in signed_headers]
    if missing or any(h not in request.headers for h in signed_headers):
        return _auth_error(
            "IncompleteSignatureException",
            "The request must sign the host and x-amz-date headers, and every signed header "
            "must be present.",
        )
    amz_date = request.header("x-amz-date")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return _auth_error("IncompleteSignatureException", f"Invalid X-Amz-Date: {amz_date!r}")
    if credential["date"] != amz_date[:8]:
        return _auth_error(
            "SignatureDoesNotMatch",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{credential['date']}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    now = now or datetime.now(UTC)
    if abs((now - signed_at).total_seconds()) > MAX_CLOCK_SKEW_S:
        return _auth_error(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{now.strftime('%Y%m%dT%H%M%SZ')} minus 15 min.",
        )
    expected = signature(
        secret_access_key=secret,
        amz_date=amz_date,
        region=credential["region"],
        service=credential["service"],
        method=request.method,
        # The path as the client signed it, before the server stripped the label prefix.
        path=f"/p/{request.label}{request.path}",
        query=urlencode(request.query, doseq=True),
        headers=request.headers,
        signed_headers=signed_headers,
        payload_hash=sha256_hex(request.body),
    )
    if not hmac.compare_digest(expected, parts["Signature"]):
        return _auth_error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )
    return {
        "access_key_id": credential["key"],
        "region": credential["region"],
        "signed_headers": signed_headers,
    }


def _addresses(value: object) -> list[str] | None:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        return None
    return value


def _address_problem(address: str) -> str | None:
    _, email = parseaddr(address)
    if "@" not in email:
        return "Missing final '@domain'"
    if not EMAIL_RE.fullmatch(email):
        return f"Illegal address: {address}"
    return None


def _data(part: object) -> str | None:
    if isinstance(part, dict) and isinstance(part.get("Data"), str):
        return part["Data"]
    return None


class SesWire(Wire):
    kind = "ses"
    routes = [("POST", r"/v2/email/outbound-emails")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        verified = verify_signature(request)
        if isinstance(verified, WireReply):
            return verified
        try:
            mail = request.json()
            if not isinstance(mail, dict):
                raise ValueError
        except ValueError:
            return ses_error(400, "SerializationException", "Request body is not a JSON object.")

        sender = mail.get("FromEmailAddress")
        if not isinstance(sender, str) or not sender:
            return ses_error(400, "BadRequestException", "FromEmailAddress is required.")
        if problem := _address_problem(sender):
            return ses_error(400, "BadRequestException", problem)
        destination = mail.get("Destination") or {}
        if not isinstance(destination, dict):
            return ses_error(400, "BadRequestException", "Destination must be an object.")
        recipients: list[str] = []
        for field in ("ToAddresses", "CcAddresses", "BccAddresses"):
            addresses = _addresses(destination.get(field))
            if addresses is None:
                return ses_error(
                    400, "BadRequestException", f"Destination.{field} must be a list of strings."
                )
            recipients += addresses
        if not recipients:
            return ses_error(
                400, "BadRequestException", "Destination must contain at least one recipient."
            )
        if len(recipients) > 50:
            return ses_error(400, "BadRequestException", "Recipient count exceeds 50.")
        for address in recipients:
            if problem := _address_problem(address):
                return ses_error(400, "BadRequestException", problem)

        content = mail.get("Content")
        simple = content.get("Simple") if isinstance(content, dict) else None
        if not isinstance(simple, dict):
            return ses_error(
                400, "BadRequestException", "Content must contain Simple, Raw or Template."
            )
        subject = _data(simple.get("Subject"))
        body = simple.get("Body") if isinstance(simple.get("Body"), dict) else {}
        text, html = _data(body.get("Text")), _data(body.get("Html"))
        if not subject:
            return ses_error(400, "BadRequestException", "Content.Simple.Subject.Data is required.")
        if text is None and html is None:
            return ses_error(
                400, "BadRequestException", "Content.Simple.Body must contain Text or Html."
            )

        sender_email = parseaddr(sender)[1]
        if sender_email.lower().endswith("@" + UNVERIFIED_DOMAIN):
            return ses_error(
                400,
                "MessageRejected",
                "Email address is not verified. The following identities failed the check in "
                f"region {verified['region'].upper()}: {sender_email}",
            )
        configuration_set = mail.get("ConfigurationSetName")
        if configuration_set == MISSING_CONFIGURATION_SET:
            return ses_error(
                404, "NotFoundException", f"Configuration set <{configuration_set}> does not exist."
            )
        for address in recipients:
            if faults.rejects(address) or faults.rejects(parseaddr(address)[1]):
                return ses_error(400, "MessageRejected", "Address blacklisted.")

        message_id = f"{secrets.token_hex(8)}-{uuid.uuid4()}-000000"
        reply_to = _addresses(mail.get("ReplyToAddresses")) or []
        headers = simple.get("Headers") if isinstance(simple.get("Headers"), list) else []
        deliveries = [
            Delivery(
                recipient=parseaddr(address)[1],
                subject=subject,
                body=text or html or "",
                provider_message_id=message_id,
                extra={
                    "path": request.path,
                    # Enough to check the signature's scope without keeping a secret.
                    "auth_scheme": ALGORITHM,
                    "access_key_id": verified["access_key_id"],
                    "region": verified["region"],
                    "signed_headers": verified["signed_headers"],
                    "request": mail,
                    "from": sender,
                    "reply_to": reply_to,
                    "html": html or "",
                    "headers": {
                        h.get("Name"): h.get("Value") for h in headers if isinstance(h, dict)
                    },
                    "configuration_set": configuration_set or "",
                },
            )
            for address in recipients
        ]
        return WireReply(
            status=200,
            body={"MessageId": message_id},
            deliveries=deliveries,
            headers={"x-amzn-RequestId": str(uuid.uuid4())},
        )


WIRE = SesWire()
