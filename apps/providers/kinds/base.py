"""What a provider kind is: its adapter, the sandbox's wire for it, and what the provider
form asks for. Each kind's package builds one `KIND`; apps.providers.kinds lists them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.providers.adapters.base import Adapter
from apps.providers.sandbox.wire import Wire


@dataclass(frozen=True)
class FieldSpec:
    """One field of the provider form, stored under `key` in the provider's credentials
    (secret) or settings (not secret), as the adapter reads it."""

    key: str
    label: str
    secret: bool = False  # True: stored encrypted in credentials, never rendered back
    required: bool = False
    help: str = ""
    json: bool = False  # a JSON value (object) typed in a textarea


def credential(key: str, label: str, **kw: Any) -> FieldSpec:
    return FieldSpec(key, label, secret=True, required=kw.pop("required", True), **kw)


def setting(key: str, label: str, **kw: Any) -> FieldSpec:
    return FieldSpec(key, label, **kw)


@dataclass(frozen=True)
class Kind:
    adapter: type[Adapter]
    label: str
    # Where the real service lives ("" for none: SES builds it from the region); the
    # sandbox's URL is typed in for tests and demos.
    default_base_url: str = ""
    fields: tuple[FieldSpec, ...] = ()
    # The sandbox's answer to this kind's requests; None when it speaks no HTTP (SMTP has
    # the sandbox's SMTP server).
    wire: Wire | None = None
    uses_base_url: bool = True
    # Set when the form's JSON settings box is this kind's required request template.
    request_template_help: str = ""

    @property
    def name(self) -> str:
        """The kind as stored in Provider.kind."""
        return self.adapter.kind

    @property
    def channel(self) -> str:
        return self.adapter.channel
