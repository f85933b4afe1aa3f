from collections.abc import Iterator

from django.core.cache import cache

from apps.providers.kinds.fcm import adapter as fcm_module
from apps.providers.models import Provider
from apps.providers.services import provider_create, throwaway_fcm_service_account


def sandbox_twilio(sandbox, label: str) -> Provider:
    """A Twilio provider whose base URL is the test sandbox under `label` (its own faults and
    inbox), nicknamed after the label."""
    return provider_create(
        channel="sms",
        kind="twilio",
        nickname=label.title(),
        base_url=sandbox.url_for(label),
        credentials={"account_sid": f"AC{label}", "auth_token": "token"},
        settings={"from_number": "+15550000000"},
    )


def sandbox_fcm(sandbox, label: str) -> Provider:
    """An FCM provider on the test sandbox under `label`, with a throwaway service account
    whose tokens the sandbox issues; the process's cached access tokens are dropped first."""
    fcm_module._token_cache.clear()
    base_url = sandbox.url_for(label)
    return provider_create(
        channel="push",
        kind="fcm",
        nickname=label.title(),
        base_url=base_url,
        credentials={
            "service_account": throwaway_fcm_service_account(token_uri=base_url + "/token")
        },
        settings={"project_id": "herald-demo"},
    )


def sandbox_apns(sandbox, label: str, *, topic: str = "com.herald.demo") -> Provider:
    """An APNs provider on the test sandbox under `label`, with a throwaway .p8 key (the
    sandbox checks the JWT's shape and age, not its signature); cached JWTs are dropped."""
    from apps.demo.providers import throwaway_apns_key
    from apps.providers.kinds.apns import adapter as apns_module

    apns_module._jwt_cache.clear()
    return provider_create(
        channel="push",
        kind="apns",
        nickname=label.title(),
        base_url=sandbox.url_for(label),
        credentials={
            "key_id": "ABC123DEFG",
            "team_id": "TEAM123456",
            "private_key": throwaway_apns_key(),
        },
        settings={"topic": topic},
    )


def sandbox_webpush(sandbox, label: str) -> Provider:
    """A Web Push provider on the test sandbox under `label` (subscriptions minted with
    `sandbox_web_subscription(sandbox, label, id)` are on its origin), with a fresh VAPID key."""
    from apps.providers.kinds.webpush.vapid import generate_vapid_key

    return provider_create(
        channel="push",
        kind="webpush",
        nickname=label.title(),
        base_url=sandbox.url_for(label),
        credentials={"vapid_private_key": generate_vapid_key()["private_key"]},
        settings={"subject": "mailto:tests@herald.test"},
    )


def sandbox_web_subscription(sandbox, label: str, subscription_id: str) -> dict:
    """A browser's push subscription on the sandbox's Web Push service under `label`."""
    from apps.providers.kinds.webpush.wire import sandbox_subscription

    return sandbox_subscription(sandbox.url_for(label), subscription_id)


def fresh_provider_state() -> Iterator[None]:
    """Around a test that sends: no circuit breaker state (in this run's Redis db) and no
    cached FCM access token from an earlier test, before and after. Use as the body of an
    autouse fixture: `yield from fresh_provider_state()`."""
    cache.clear()
    fcm_module._token_cache.clear()
    yield
    cache.clear()
    fcm_module._token_cache.clear()
