"""SendGrid v3 Mail Send as the sandbox answers it.

`POST /v3/mail/send` with `Authorization: Bearer <api key>` and a JSON body
(personalizations[].to[].email, from.email, subject, content[].type/value). Success is
202 with an empty body and an `X-Message-Id` header; errors are
`{"errors": [{"message", "field", "help"}]}` with 400 (bad field, invalid address — also
used for recipients the fault plan rejects), 401 (a missing key or one not shaped like
"SG.…") and 413."""

from __future__ import annotations

import re
import secrets

from apps.providers.sandbox.wire import Delivery, FaultPlan, SandboxRequest, Wire, WireReply

# Loose on purpose, like SendGrid's own check: something@something.tld, no spaces.
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
MAX_BYTES = 30 * 1024 * 1024


def _error(status: int, message: str, field: str | None = None, help_anchor: str = "") -> WireReply:
    help_url = f"{HELP}#{help_anchor}" if help_anchor else None
    return WireReply(
        status=status, body={"errors": [{"message": message, "field": field, "help": help_url}]}
    )


class SendGridWire(Wire):
    kind = "sendgrid"
    routes = [("POST", r"/v3/mail/send")]

    def handle(self, request: SandboxRequest, match: re.Match, faults: FaultPlan) -> WireReply:
        auth = request.header("authorization")
        # Every SendGrid API key starts with "SG."; anything else is refused as SendGrid does.
        if not auth.startswith("Bearer SG.") or len(auth) <= len("Bearer SG."):
            return _error(401, "The provided authorization grant is invalid, expired, or revoked")
        if len(request.body) > MAX_BYTES:
            return _error(413, "Request entity too large")
        try:
            mail = request.json()
        except ValueError:
            return _error(400, "Bad Request", None, "message.bad_request")
        if not isinstance(mail, dict):
            return _error(400, "Bad Request", None, "message.bad_request")

        sender = mail.get("from") or {}
        if not isinstance(sender, dict) or not sender.get("email"):
            return _error(
                400,
                "The from object must be provided for every email send.",
                "from.email",
                "message.from",
            )
        if not EMAIL_RE.fullmatch(str(sender["email"])):
            return _error(
                400,
                "The from email does not contain a valid address.",
                "from.email",
                "message.from",
            )

        personalizations = mail.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            return _error(
                400,
                "The personalizations field is required and must have at least one "
                "personalization.",
                "personalizations",
                "message.personalizations",
            )
        content = mail.get("content")
        if (
            not isinstance(content, list)
            or not content
            or not all(
                isinstance(part, dict) and part.get("type") and part.get("value")
                for part in content
            )
        ):
            return _error(
                400,
                "Unless a valid template_id is provided, the content parameter is required. "
                "There must be at least one defined content block.",
                "content",
                "message.content",
            )

        recipients: list[tuple[str, str]] = []  # (address, subject)
        for i, personalization in enumerate(personalizations):
            to = personalization.get("to") if isinstance(personalization, dict) else None
            if not isinstance(to, list) or not to:
                return _error(
                    400,
                    "The to array is required for all personalization objects, and must have "
                    "at least one email object with a valid email address.",
                    f"personalizations.{i}.to",
                    "message.personalizations.to",
                )
            subject = personalization.get("subject") or mail.get("subject") or ""
            if not subject:
                return _error(
                    400,
                    "The subject is required. You can get around this requirement if you use a "
                    "template with a subject defined or if every personalization has a subject "
                    "defined.",
                    "subject",
                    "message.subject",
                )
            for j, address in enumerate(to):
                email = address.get("email", "") if isinstance(address, dict) else ""
                if not EMAIL_RE.fullmatch(str(email)) or faults.rejects(str(email)):
                    return _error(
                        400,
                        "Does not contain a valid address.",
                        f"personalizations.{i}.to.{j}.email",
                        "message.personalizations.to",
                    )
                recipients.append((email, subject))

        message_id = secrets.token_urlsafe(16)
        text = next((p["value"] for p in content if p["type"] == "text/plain"), "")
        html = next((p["value"] for p in content if p["type"] == "text/html"), "")
        deliveries = [
            Delivery(
                recipient=email,
                subject=subject,
                body=text or html,
                provider_message_id=message_id,
                extra={
                    "path": request.path,
                    # Enough to check the auth header without keeping a key in the inbox.
                    "auth_scheme": "Bearer",
                    "api_key_last4": auth[-4:],
                    "request": mail,
                    "from": sender.get("email"),
                    "from_name": sender.get("name", ""),
                    "reply_to": (mail.get("reply_to") or {}).get("email", ""),
                    "html": html,
                    "headers": mail.get("headers") or {},
                },
            )
            for email, subject in recipients
        ]
        return WireReply(
            status=202,
            body=b"",
            content_type="text/plain",
            deliveries=deliveries,
            headers={"X-Message-Id": message_id},
        )


WIRE = SendGridWire()
