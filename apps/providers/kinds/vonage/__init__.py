"""Vonage (Nexmo): adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.vonage.adapter import VonageAdapter
from apps.providers.kinds.vonage.wire import WIRE

KIND = Kind(
    adapter=VonageAdapter,
    label="Vonage (Nexmo)",
    default_base_url="https://rest.nexmo.com",
    wire=WIRE,
    fields=(
        credential("api_key", "API key"),
        credential("api_secret", "API secret"),
        setting("from", "From (number or sender id)"),
    ),
)
