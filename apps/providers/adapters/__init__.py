"""Adapters by provider kind. Each kind has a module of the same name here exposing
`ADAPTER` (a subclass of base.Adapter); they load on first use."""

import importlib

from apps.providers.adapters.base import Adapter, ProviderConfig

SMS_KINDS = ("twilio", "vonage", "msg91", "exotel", "netcore", "generic_sms")
EMAIL_KINDS = ("sendgrid", "infobip", "ses", "smtp")
PUSH_KINDS = ("fcm", "apns")
ALL_KINDS = SMS_KINDS + EMAIL_KINDS + PUSH_KINDS


def adapter_class(kind: str) -> type[Adapter]:
    if kind not in ALL_KINDS:
        raise KeyError(f"unknown provider kind {kind!r}")
    return importlib.import_module(f"apps.providers.adapters.{kind}").ADAPTER


def adapter_for(config: ProviderConfig) -> Adapter:
    return adapter_class(config.kind)(config)
