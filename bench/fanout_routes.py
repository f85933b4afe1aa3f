"""What bench/fanout.py's run sends through: one push provider per platform of the mix, each
on a sandbox label of its own (so the check can tell which provider each device went
through), chosen as that platform's push route; and the web devices' endpoints pointed at
this run's sandbox."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.fanout_seed import WEB_SUBSCRIPTION_PREFIX
from bench.sandbox_process import Sandbox, log

PROJECT_ID = "herald-bench"


@dataclass(frozen=True)
class PlatformRoute:
    platform: str
    kind: str
    nickname: str
    label: str  # the sandbox label the provider's base URL names


ROUTES = {
    "android": PlatformRoute("android", "fcm", "Bench FCM", "bench-fcm"),
    "ios": PlatformRoute("ios", "apns", "Bench APNs", "bench-apns"),
    "web": PlatformRoute("web", "webpush", "Bench Web Push", "bench-webpush"),
}


def _credentials_and_settings(route: PlatformRoute, base_url: str) -> tuple[dict, dict]:
    if route.kind == "fcm":
        from apps.providers.services import throwaway_fcm_service_account

        account = throwaway_fcm_service_account(
            token_uri=base_url + "/token", project_id=PROJECT_ID
        )
        return {"service_account": account}, {"project_id": PROJECT_ID}
    if route.kind == "apns":
        from apps.demo.providers import throwaway_apns_key

        return (
            {"key_id": "BENCHKEY01", "team_id": "BENCHTEAM1", "private_key": throwaway_apns_key()},
            {"topic": "com.example.herald.bench"},
        )
    from apps.providers.kinds.webpush.vapid import generate_vapid_key

    return (
        {"vapid_private_key": generate_vapid_key()["private_key"]},
        {"subject": "mailto:bench@example.com"},
    )


def providers_create(sandbox: Sandbox, platforms: list[str]) -> dict[str, PlatformRoute]:
    """A fresh provider for each platform (earlier bench providers are deleted), each the
    account's push route for its platform, so no other push provider in the database can
    take a device; the other platforms have no route (none of their devices are seeded)."""
    from apps.providers.models import Provider, PushPlatform
    from apps.providers.services import provider_create, push_route_set

    Provider.objects.filter(
        channel="push", nickname__in=[route.nickname for route in ROUTES.values()]
    ).delete()
    for platform in PushPlatform.values:
        if platform not in platforms:
            push_route_set(platform=platform, provider=None)
    chosen = {}
    for platform in platforms:
        route = ROUTES[platform]
        base_url = sandbox.client.url_for(route.label)
        credentials, settings = _credentials_and_settings(route, base_url)
        provider = provider_create(
            channel="push",
            kind=route.kind,
            nickname=route.nickname,
            base_url=base_url,
            credentials=credentials,
            settings=settings,
        )
        push_route_set(platform=platform, provider=provider)
        chosen[platform] = route
    return chosen


def web_endpoints_point_at(sandbox: Sandbox) -> dict:
    """Point every web device's endpoint at this run's sandbox: one set-based UPDATE (the
    keys stay: the sandbox derives them from the subscription id, not from the URL), then a
    VACUUM, since this server runs without autovacuum and the next snapshot reads the
    devices. Untimed: it happens before the run starts."""
    from django.db import connection

    from apps.providers.kinds.webpush.wire import sandbox_subscription

    # The endpoint's shape is the wire's: whatever it puts before the subscription id.
    marker = "SUBSCRIPTION"
    base_url = sandbox.client.url_for(ROUTES["web"].label)
    prefix = sandbox_subscription(base_url, marker)["endpoint"].removesuffix(marker)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE audience_device
            SET push_token = %(prefix)s || %(subscription)s || profile_id
            WHERE platform = 'web' AND push_keys IS NOT NULL
              AND push_token IS DISTINCT FROM %(prefix)s || %(subscription)s || profile_id
            """,
            {"prefix": prefix, "subscription": WEB_SUBSCRIPTION_PREFIX},
        )
        updated = cursor.rowcount
        if updated:
            cursor.execute("VACUUM audience_device")
    seconds = round(time.monotonic() - started, 2)
    log(f"{updated:,} web endpoints pointed at {base_url} in {seconds} s")
    return {"web_endpoints_updated": updated, "web_endpoints_s": seconds}
