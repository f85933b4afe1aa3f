"""Firebase Cloud Messaging (FCM): adapter.py sends over its HTTP v1 API, wire.py is the
sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.fcm.adapter import FcmAdapter
from apps.providers.kinds.fcm.wire import WIRE

KIND = Kind(
    adapter=FcmAdapter,
    label="Firebase Cloud Messaging (FCM)",
    default_base_url="https://fcm.googleapis.com",
    wire=WIRE,
    fields=(
        credential(
            "service_account",
            "Service account JSON",
            json=True,
            help="The JSON key file of a service account with the Firebase Messaging role.",
        ),
        setting("project_id", "Project id", help="Defaults to the service account's."),
    ),
)
