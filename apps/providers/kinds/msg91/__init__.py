"""Msg91: adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.msg91.adapter import Msg91Adapter
from apps.providers.kinds.msg91.wire import WIRE

KIND = Kind(
    adapter=Msg91Adapter,
    label="Msg91",
    default_base_url="https://control.msg91.com",
    wire=WIRE,
    fields=(
        credential("authkey", "Auth key"),
        setting("template_id", "Default Flow template id"),
        setting(
            "body_variable",
            "Message variable",
            help="The template variable that receives the text, e.g. message for ##message##.",
        ),
    ),
)
