"""The demo providers `make run` sets up, aimed at the local provider sandbox."""

from __future__ import annotations

from django.conf import settings

from apps.providers.kinds.webpush.vapid import generate_vapid_key
from apps.providers.models import Provider, ProviderGroup
from apps.providers.services import (
    provider_create,
    provider_group_save,
    throwaway_fcm_service_account,
)

# The sandbox label of the demo's Web Push service: the demo's web devices are subscriptions
# on it (apps.demo.audience), and the "Web Push (sandbox)" provider may post there.
DEMO_WEB_PUSH_LABEL = "webpush"


def _demo_base_url(label: str) -> str:
    """A demo provider's base URL: the local provider sandbox (PROVIDER_SANDBOX_HOST/PORT)
    under its own label."""
    host, port = settings.PROVIDER_SANDBOX_HOST, settings.PROVIDER_SANDBOX_PORT
    return f"http://{host}:{port}/p/{label}"


def demo_web_push_base() -> str:
    """The base URL of the demo's Web Push provider: its subscriptions' endpoints are on it."""
    return _demo_base_url(DEMO_WEB_PUSH_LABEL)


def demo_providers_ensure() -> None:
    """The demo providers `make run` sets up (bootstrap_demo): one per sandboxed kind,
    pointing at the local provider sandbox (PROVIDER_SANDBOX_HOST/PORT), and a default "Demo
    SMS" group of Twilio then Vonage, so a new user can send a test SMS and see it in the
    Sandbox inbox. Safe to call every time: what exists (by nickname, by group name) is kept.
    Tests call it too, with the settings aimed at their own sandbox."""
    demo = [
        (
            "sms",
            "twilio",
            "Twilio (sandbox)",
            "twilio",
            {"account_sid": "ACdemo", "auth_token": "demo"},
            {"from_number": "+15550000001"},
        ),
        (
            "sms",
            "vonage",
            "Vonage (sandbox)",
            "vonage",
            {"api_key": "demo", "api_secret": "demo"},
            {"from": "Herald"},
        ),
        (
            "email",
            "sendgrid",
            "SendGrid (sandbox)",
            "sendgrid",
            {"api_key": "SG.demo"},
            {"from_email": "demo@herald.test", "from_name": "Herald"},
        ),
        (
            "push",
            "fcm",
            "FCM (sandbox)",
            "fcm",
            lambda: {
                "service_account": throwaway_fcm_service_account(
                    token_uri=_demo_base_url("fcm") + "/token"
                )
            },
            {"project_id": "herald-demo"},
        ),
        (
            "push",
            "apns",
            "APNs (sandbox)",
            "apns",
            lambda: {
                "key_id": "DEMOKEY123",
                "team_id": "DEMOTEAM12",
                "private_key": throwaway_apns_key(),
            },
            {"topic": "test.herald.demo"},
        ),
        (
            "push",
            "webpush",
            "Web Push (sandbox)",
            DEMO_WEB_PUSH_LABEL,
            lambda: {"vapid_private_key": generate_vapid_key()["private_key"]},
            {"subject": "mailto:demo@herald.test"},
        ),
    ]
    for channel, kind, nickname, label, credentials, provider_settings in demo:
        if not Provider.objects.filter(channel=channel, nickname=nickname).exists():
            provider_create(
                channel=channel,
                kind=kind,
                nickname=nickname,
                base_url=_demo_base_url(label),
                # Push keys are generated only when the provider is first created.
                credentials=credentials() if callable(credentials) else credentials,
                settings=provider_settings,
            )
    if not ProviderGroup.objects.filter(name="Demo SMS").exists():
        sms = [
            Provider.objects.get(channel="sms", nickname=n)
            for n in ("Twilio (sandbox)", "Vonage (sandbox)")
        ]
        provider_group_save(
            name="Demo SMS",
            providers=sms,
            is_default=not ProviderGroup.objects.filter(is_default=True).exists(),
        )


def throwaway_apns_key() -> str:
    """A throwaway P-256 key in the .p8 (PKCS#8 PEM) form Apple hands out."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
