"""Netcore: adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.netcore.adapter import NetcoreAdapter
from apps.providers.kinds.netcore.wire import WIRE

KIND = Kind(
    adapter=NetcoreAdapter,
    label="Netcore",
    default_base_url="https://api.netcoresmartech.com",
    wire=WIRE,
    fields=(
        credential("api_key", "API key"),
        setting("sender_id", "Sender id", required=True),
        setting("dlt_template_id", "DLT template id"),
        setting("dlt_entity_id", "DLT entity id"),
    ),
)
