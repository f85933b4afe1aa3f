"""SendGrid: adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.sendgrid.adapter import SendGridAdapter
from apps.providers.kinds.sendgrid.wire import WIRE

KIND = Kind(
    adapter=SendGridAdapter,
    label="SendGrid",
    default_base_url="https://api.sendgrid.com",
    wire=WIRE,
    fields=(
        credential("api_key", "API key"),
        setting("from_email", "From email", required=True),
        setting("from_name", "From name"),
    ),
)
