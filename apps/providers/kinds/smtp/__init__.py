"""SMTP: adapter.py sends over SMTP; the sandbox answers it with its SMTP server
(apps/providers/sandbox/smtp.py), not a wire."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.smtp.adapter import SmtpAdapter

KIND = Kind(
    adapter=SmtpAdapter,
    label="SMTP",
    uses_base_url=False,
    fields=(
        credential("username", "Username", required=False),
        credential("password", "Password", required=False),
        setting("host", "Host", required=True),
        setting("port", "Port", required=True, help="587 (STARTTLS), 465 (TLS) or 25."),
        setting("security", "Security", help="starttls, tls or none."),
        setting("from_email", "From email", required=True),
        setting("from_name", "From name"),
    ),
)
