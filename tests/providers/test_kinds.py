"""The registry of provider kinds and adapter_send."""

from dataclasses import replace

from apps.providers.adapters.base import (
    Adapter,
    ProviderConfig,
    PushMessage,
    SendResult,
    SendStatus,
    SmsMessage,
)
from apps.providers.kinds import KINDS, adapter_send, kinds_of_channel, sandbox_wires
from apps.providers.models import KIND_CHOICES, Channel


def test_every_kind_is_registered_under_its_adapters_kind_and_channel():
    for name, kind in KINDS.items():
        assert kind.name == name == kind.adapter.kind
        assert kind.channel in Channel.values
        assert kind.wire is None or kind.wire.kind == name


def test_the_model_choices_are_the_registry_in_its_order():
    assert [(name, kind.label) for name, kind in KINDS.items()] == KIND_CHOICES
    assert kinds_of_channel(Channel.SMS) == (
        "twilio",
        "vonage",
        "msg91",
        "exotel",
        "netcore",
        "generic_sms",
    )


def test_the_sandbox_answers_every_kind_but_smtp_over_http():
    assert sorted(wire.kind for wire in sandbox_wires()) == sorted(set(KINDS) - {"smtp"})


class _Provider:
    def __init__(self, kind: str):
        self.kind = kind

    def config(self) -> ProviderConfig:
        return ProviderConfig(
            kind=self.kind, nickname="x", base_url="", credentials={}, settings={}
        )


class _Unreadable:
    def config(self) -> ProviderConfig:
        raise ValueError("credentials cannot be decrypted")


def test_an_unknown_kind_is_a_permanent_failure_for_every_message():
    messages = [SmsMessage(to="+15550001111", body="a"), PushMessage(token="tok", platform="ios")]

    results = adapter_send(_Provider("carrier-pigeon"), messages)

    assert [(r.recipient, r.status) for r in results] == [
        ("+15550001111", SendStatus.PERMANENT),
        ("tok", SendStatus.PERMANENT),
    ]
    assert results[0].error.startswith("KeyError:")


def test_unreadable_credentials_are_reported_not_raised():
    results = adapter_send(_Unreadable(), [SmsMessage(to="+15550001111", body="a")])

    assert results[0].status is SendStatus.PERMANENT
    assert results[0].error == "ValueError: credentials cannot be decrypted"


def test_a_group_asks_for_a_raising_adapter_to_be_retryable(monkeypatch):
    class Raising(Adapter):
        kind = "twilio"
        channel = "sms"

        def send(self, messages: list) -> list[SendResult]:
            raise RuntimeError("boom")

    monkeypatch.setitem(KINDS, "twilio", replace(KINDS["twilio"], adapter=Raising))

    results = adapter_send(
        _Provider("twilio"),
        [SmsMessage(to="+15550001111", body="a")],
        status_if_raised=SendStatus.RETRYABLE,
    )

    assert results[0].status is SendStatus.RETRYABLE
    assert results[0].error == "RuntimeError: boom"
