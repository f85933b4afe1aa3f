"""Generic SMS (HTTP): adapter.py sends over its API, wire.py is the sandbox's side of it."""

from apps.providers.kinds.base import Kind, credential
from apps.providers.kinds.generic_sms.adapter import GenericSmsAdapter
from apps.providers.kinds.generic_sms.wire import WIRE

KIND = Kind(
    adapter=GenericSmsAdapter,
    label="Generic SMS (HTTP)",
    wire=WIRE,
    fields=(
        credential(
            "values",
            "Secret values (JSON)",
            required=False,
            json=True,
            help='Referenced in the request as <code>$$key</code>, e.g. {"api_key": "…"}.',
        ),
    ),
    request_template_help=(
        "method, url, headers, body_format (json or form), body_template with "
        "$$To, $$Message, $$TemplateID, $$TemplateVariables and custom $$keys; "
        "optional batch_key, batch_item_template, success_statuses, success_field, "
        "success_value, message_id_path."
    ),
)
