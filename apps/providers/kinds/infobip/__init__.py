"""Infobip: adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.infobip.adapter import InfobipAdapter
from apps.providers.kinds.infobip.wire import WIRE

KIND = Kind(
    adapter=InfobipAdapter,
    label="Infobip",
    default_base_url="https://api.infobip.com",
    wire=WIRE,
    fields=(
        credential("api_key", "API key"),
        setting("from_email", "From email", required=True),
        setting("from_name", "From name"),
    ),
)
