"""Standard Web Push (RFC 8030, 8291, 8292) to browser push subscriptions: adapter.py sends
to the subscription's push service, vapid.py signs, wire.py is the sandbox's side of it (a
push service and the browser behind it)."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.webpush.adapter import WebPushAdapter
from apps.providers.kinds.webpush.wire import WIRE

KIND = Kind(
    adapter=WebPushAdapter,
    label="Web Push (VAPID)",
    # Each subscription's endpoint names its push service; a base URL (the sandbox's) only
    # adds its origin to the push services Herald may post to.
    default_base_url="",
    wire=WIRE,
    fields=(
        credential(
            "vapid_private_key",
            "VAPID private key",
            help="The private half of the key your site subscribes browsers with "
            "(applicationServerKey): the base64url 32-byte key, or its PEM.",
        ),
        setting(
            "subject",
            "Contact (VAPID subject)",
            required=True,
            help="A mailto: or https: URL push services can reach you at, e.g. "
            "mailto:push@example.com.",
        ),
    ),
)
