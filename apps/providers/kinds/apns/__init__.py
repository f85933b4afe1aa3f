"""Apple Push (APNs): adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.apns.adapter import ApnsAdapter
from apps.providers.kinds.apns.wire import WIRE
from apps.providers.kinds.base import Kind, credential, setting

KIND = Kind(
    adapter=ApnsAdapter,
    label="Apple Push (APNs)",
    default_base_url="https://api.push.apple.com",
    wire=WIRE,
    fields=(
        credential("key_id", "Key id"),
        credential("team_id", "Team id"),
        credential("private_key", "Private key (.p8)", help="The PEM text of the .p8 file."),
        setting("topic", "Bundle id (topic)", required=True),
    ),
)
