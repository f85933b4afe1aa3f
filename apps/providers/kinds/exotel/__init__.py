"""Exotel: adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.exotel.adapter import ExotelAdapter
from apps.providers.kinds.exotel.wire import WIRE

KIND = Kind(
    adapter=ExotelAdapter,
    label="Exotel",
    default_base_url="https://api.exotel.com",
    wire=WIRE,
    fields=(
        credential("account_sid", "Account SID"),
        credential("api_key", "API key"),
        credential("api_token", "API token"),
        setting("sender_id", "Sender (ExoPhone or sender id)", required=True),
        setting("dlt_template_id", "DLT template id"),
        setting("dlt_entity_id", "DLT entity id"),
    ),
)
