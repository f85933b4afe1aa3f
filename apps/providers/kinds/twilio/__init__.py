"""Twilio: adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.twilio.adapter import TwilioAdapter
from apps.providers.kinds.twilio.wire import WIRE

KIND = Kind(
    adapter=TwilioAdapter,
    label="Twilio",
    default_base_url="https://api.twilio.com",
    wire=WIRE,
    fields=(
        credential("account_sid", "Account SID"),
        credential("auth_token", "Auth token"),
        setting("from_number", "From number", help="E.164, e.g. +15550001111."),
        setting(
            "messaging_service_sid",
            "Messaging Service SID (CoPilot)",
            help="Used instead of the From number when set.",
        ),
    ),
)
