"""`make run`'s demo providers really reach the local sandbox: a new user's first test send
arrives in the Sandbox inbox on every channel."""

import pytest

from apps.demo.providers import demo_providers_ensure
from apps.providers.adapters.base import EmailMessage, PushMessage, SendStatus, SmsMessage
from apps.providers.kinds import adapter_for
from apps.providers.kinds.webpush.wire import sandbox_subscription
from apps.providers.models import Provider, ProviderGroup

pytestmark = pytest.mark.slow

FCM_TOKEN = "demo-fcm-token_" + "b" * 40 + ":APA91b"
APNS_TOKEN = "a1" * 32


@pytest.fixture
def demo_providers(db, settings, provider_sandbox):
    settings.PROVIDER_SANDBOX_HOST = provider_sandbox.host
    settings.PROVIDER_SANDBOX_PORT = provider_sandbox.port
    demo_providers_ensure()
    return {p.nickname: p for p in Provider.objects.all()}


@pytest.mark.parametrize(
    ("nickname", "message", "recipient"),
    [
        ("Twilio (sandbox)", SmsMessage(to="+15551230001", body="hello"), "+15551230001"),
        ("Vonage (sandbox)", SmsMessage(to="+15551230002", body="hello"), "+15551230002"),
        (
            "SendGrid (sandbox)",
            EmailMessage(to="ada@example.com", subject="Hi", text="hello"),
            "ada@example.com",
        ),
        (
            "FCM (sandbox)",
            PushMessage(token=FCM_TOKEN, platform="android", title="Hi", body="hello"),
            FCM_TOKEN,
        ),
        (
            "APNs (sandbox)",
            PushMessage(token=APNS_TOKEN, platform="ios", title="Hi", body="hello"),
            APNS_TOKEN,
        ),
    ],
)
def test_each_demo_provider_delivers_to_the_sandbox(
    demo_providers, provider_sandbox, nickname, message, recipient
):
    provider = demo_providers[nickname]

    [result] = adapter_for(provider.config()).send([message])

    assert result.status is SendStatus.ACCEPTED, result.error
    recorded = provider_sandbox.client.messages()
    assert [m["recipient"] for m in recorded] == [recipient]


def test_demo_providers_are_created_once_with_a_default_sms_group(demo_providers):
    demo_providers_ensure()  # every `make run` calls it again

    assert Provider.objects.count() == 6
    assert sorted(Provider.objects.values_list("channel", flat=True)) == [
        "email",
        "push",
        "push",
        "push",
        "sms",
        "sms",
    ]
    group = ProviderGroup.objects.get(name="Demo SMS")
    assert group.is_default
    assert [m.provider.nickname for m in group.members.order_by("priority")] == [
        "Twilio (sandbox)",
        "Vonage (sandbox)",
    ]


def test_demo_push_keys_are_encrypted_at_rest(demo_providers):
    fcm = demo_providers["FCM (sandbox)"]
    raw = Provider.objects.filter(pk=fcm.pk).values_list("credentials_encrypted", flat=True)[0]
    assert "PRIVATE KEY" not in str(raw)
    assert "PRIVATE KEY" in fcm.credentials["service_account"]


def test_the_demo_web_push_provider_delivers_to_a_demo_browser(demo_providers, provider_sandbox):
    """The demo's web devices are subscriptions on the sandbox's push service under the demo
    Web Push provider's own origin (apps.demo.audience), which it may post to."""
    provider = demo_providers["Web Push (sandbox)"]
    subscription = sandbox_subscription(provider.base_url, "demo-0000000000000001")
    message = PushMessage(
        token=subscription["endpoint"],
        platform="web",
        title="Hi",
        body="hello",
        subscription_keys=subscription["keys"],
    )

    [result] = adapter_for(provider.config()).send([message])

    assert result.status is SendStatus.ACCEPTED, result.error
    [recorded] = provider_sandbox.client.messages()
    assert (recorded["recipient"], recorded["body"]) == (subscription["endpoint"], "hello")
