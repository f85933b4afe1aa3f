"""Amazon SES: adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential, setting
from apps.providers.kinds.ses.adapter import SesAdapter
from apps.providers.kinds.ses.wire import WIRE

KIND = Kind(
    adapter=SesAdapter,
    label="Amazon SES",
    default_base_url="https://email.eu-west-1.amazonaws.com",
    wire=WIRE,
    fields=(
        credential("access_key_id", "Access key id"),
        credential("secret_access_key", "Secret access key"),
        setting(
            "region",
            "Region",
            required=True,
            help="e.g. eu-west-1; the base URL is https://email.&lt;region&gt;.amazonaws.com.",
        ),
        setting("from_email", "From email", required=True, help="A verified SES identity."),
        setting("from_name", "From name"),
        setting("configuration_set", "Configuration set", help="Sent as ConfigurationSetName."),
    ),
)
