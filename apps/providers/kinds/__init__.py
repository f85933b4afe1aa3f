"""Every provider kind Herald speaks, one package each (label, form fields, default URL,
adapter, sandbox wire), listed here by hand: adding a kind is a package and a line below.

`adapter_send` is how everything else sends through a provider."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from apps.providers.adapters.base import Adapter, ProviderConfig, SendResult, SendStatus
from apps.providers.kinds import (
    apns,
    exotel,
    fcm,
    generic_sms,
    infobip,
    msg91,
    netcore,
    sendgrid,
    ses,
    smtp,
    twilio,
    vonage,
    webpush,
)
from apps.providers.kinds.base import Kind
from apps.providers.sandbox.wire import Wire

# In the order the "Add a provider" menu lists them: SMS, then email, then push.
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        twilio.KIND,
        vonage.KIND,
        msg91.KIND,
        exotel.KIND,
        netcore.KIND,
        generic_sms.KIND,
        sendgrid.KIND,
        infobip.KIND,
        ses.KIND,
        smtp.KIND,
        fcm.KIND,
        apns.KIND,
        webpush.KIND,
    )
}


def kinds_of_channel(channel: str) -> tuple[str, ...]:
    return tuple(name for name, kind in KINDS.items() if kind.channel == channel)


def sandbox_wires() -> list[Wire]:
    """Every wire format the sandbox answers."""
    return [kind.wire for kind in KINDS.values() if kind.wire is not None]


def adapter_for(config: ProviderConfig) -> Adapter:
    try:
        kind = KINDS[config.kind]
    except KeyError:
        raise KeyError(f"unknown provider kind {config.kind!r}") from None
    return kind.adapter(config)


class Configured(Protocol):
    """A Provider row, as far as sending needs it."""

    def config(self) -> ProviderConfig: ...


def adapter_send(
    provider: Configured,
    messages: Sequence,
    *,
    status_if_raised: SendStatus = SendStatus.PERMANENT,
) -> list[SendResult]:
    """One result per message, in order. An adapter reports a provider's answer as results
    and does not raise; if sending raises all the same (an unknown kind, undecryptable
    credentials, a bad configuration, a bug) every message gets `status_if_raised` with the
    exception as its error: PERMANENT by default, so a broken configuration is shown rather
    than retried in a loop; a group passes RETRYABLE to fail over to its next provider."""
    try:
        return adapter_for(provider.config()).send(list(messages))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        return [
            SendResult(_recipient(message), status_if_raised, error=error) for message in messages
        ]


def _recipient(message: object) -> str:
    """The address a message is for: a phone number or email address, or a push token."""
    return getattr(message, "to", "") or getattr(message, "token", "")
