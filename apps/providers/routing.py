"""Which provider or provider group a campaign sends through: one rule for the delivery
engine, the wizard's test send and the content checks (which providers an SMS may reach).

SMS and email: the campaign's group (groups are SMS only), else its provider, else for SMS the
default group. A campaign names at most one of provider and group (the database's
campaign_provider_xor_group and group-only-for-SMS constraints), so for a valid row the order
of the first two never decides anything; it is fixed here so that no caller can disagree.

Push: every device goes through the account's provider for its platform (`PushRoutes`), the
admin's choice (PushRoute) or else the platform's own service — FCM for Android, APNs for
iOS, Web Push for browsers. A Web Push subscription can only go through a Web Push provider
and an FCM web token only through FCM, whatever the web route says."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from apps.audience.models import Device
from apps.providers.models import (
    PLATFORM_KINDS,
    Channel,
    Provider,
    ProviderGroup,
    PushPlatform,
    PushRoute,
)
from apps.providers.selectors import provider_group_default, provider_group_members

KIND_WORDS = {"fcm": "FCM", "apns": "APNs", "webpush": "Web Push"}


@dataclass(frozen=True)
class PushRoutes:
    """The provider for each device platform (None: that platform's devices are skipped),
    and whether the admin chose it or routing picked the platform's own service."""

    providers: dict[str, Provider | None]
    chosen: dict[str, bool]
    # Web devices hold either a Web Push subscription (an endpoint with keys) or an FCM web
    # token, and each needs its own kind: the web route when it is that kind, else an active
    # provider of the kind (for FCM tokens, Android's FCM provider first).
    web_push: Provider | None = None
    web_fcm: Provider | None = None
    # Why a platform's devices are skipped, in the admin's words, for each missing route.
    problems: dict[str, str] = field(default_factory=dict)

    def provider_for(self, platform: str, *, web_subscription: bool = False) -> Provider | None:
        """The provider a device of `platform` goes through (no query)."""
        if platform == PushPlatform.WEB:
            return self.web_push if web_subscription else self.web_fcm
        return self.providers.get(platform)

    def problem_for(self, platform: str, *, web_subscription: bool = False) -> str:
        """Why a device of `platform` has no provider (for the skipped row and the pages)."""
        if platform == PushPlatform.WEB and self.providers.get(platform) is not None:
            kind = "Web Push" if web_subscription else "FCM"
            what = "Web Push subscriptions" if web_subscription else "FCM web tokens"
            return f"No {kind} provider for {what}."
        return self.problems.get(platform) or f"No provider for {platform} devices."

    def described(self, *, unrouted: str | None) -> str:
        """ "Android: FCM …; iOS: …" in platform order; a platform without a provider reads
        `unrouted`, or is left out when that is None."""
        return "; ".join(
            f"{PushPlatform(platform).label}: {provider.nickname if provider else unrouted}"
            for platform in PushPlatform.values
            if (provider := self.providers.get(platform)) is not None or unrouted is not None
        )

    def missing(self) -> list[str]:
        """The platforms no provider reaches."""
        return [
            platform for platform in PushPlatform.values if self.providers.get(platform) is None
        ]

    def distinct(self) -> list[Provider]:
        seen: dict[int, Provider] = {}
        for provider in self.providers.values():
            if provider is not None:
                seen.setdefault(provider.pk, provider)
        return list(seen.values())


def push_routes() -> PushRoutes:
    """The account's push route per platform (two queries)."""
    chosen_rows = {
        route.platform: route.provider for route in PushRoute.objects.select_related("provider")
    }
    active = list(Provider.objects.filter(channel=Channel.PUSH, is_active=True).order_by("pk"))
    providers: dict[str, Provider | None] = {}
    chosen: dict[str, bool] = {}
    problems: dict[str, str] = {}
    for platform in PushPlatform.values:
        label = PushPlatform(platform).label
        if platform in chosen_rows:
            provider = chosen_rows[platform]
            # A deactivated choice sends nothing rather than quietly using another provider.
            providers[platform] = provider if provider.is_active else None
            chosen[platform] = True
            if not provider.is_active:
                problems[platform] = (
                    f"The {label} route's provider “{provider.nickname}” is deactivated."
                )
            continue
        own_kind = PLATFORM_KINDS[platform][0]
        providers[platform] = next((p for p in active if p.kind == own_kind), None)
        chosen[platform] = False
        if providers[platform] is None:
            problems[platform] = f"No {KIND_WORDS[own_kind]} provider for {label} devices."
    web = providers[PushPlatform.WEB]
    android = providers[PushPlatform.ANDROID]

    def web_provider(kind: str, *preferred: Provider | None) -> Provider | None:
        if chosen[PushPlatform.WEB] and web is None:
            return None  # the admin's web choice is deactivated: web devices wait for it
        for provider in preferred:
            if provider is not None and provider.kind == kind:
                return provider
        return next((p for p in active if p.kind == kind), None)

    return PushRoutes(
        providers=providers,
        chosen=chosen,
        web_push=web_provider("webpush", web),
        web_fcm=web_provider("fcm", web, android),
        problems=problems,
    )


Route = Provider | ProviderGroup | PushRoutes


def route_for(
    *, channel: str, provider: Provider | None, group: ProviderGroup | None
) -> Route | None:
    """What a campaign on `channel` naming `provider` or `group` sends through; None when
    there is nothing (no provider chosen and, for SMS, no default group). Push ignores the
    campaign's provider: its devices follow the account's push routes."""
    if channel == Channel.PUSH:
        return push_routes()
    if group is not None and channel == Channel.SMS:
        return group
    if provider is not None:
        return provider
    if channel == Channel.SMS:
        return provider_group_default()
    return None


def route_providers(route: Route | None) -> list[Provider]:
    """The providers a route may send through: the provider itself, every member of the
    group (active or not) in priority order, or each platform's push provider."""
    if route is None:
        return []
    if isinstance(route, ProviderGroup):
        return provider_group_members(group=route)
    if isinstance(route, PushRoutes):
        return route.distinct()
    return [route]


@dataclass(frozen=True)
class PushRouteRow:
    """One platform's line of the route table (Setup, Settings → Providers)."""

    platform: str
    label: str
    provider: Provider | None
    chosen: bool
    problem: str
    skipped_devices: int  # devices with a token that would be skipped (0 when routed)


def push_route_rows(routes: PushRoutes | None = None) -> list[PushRouteRow]:
    """The route per platform with, for each platform without one, how many devices it would
    skip (one GROUP BY over the missing platforms' devices, none when all are routed)."""
    routes = routes or push_routes()
    missing = routes.missing()
    counts: dict[str, int] = {}
    if missing:
        counts = dict(
            Device.objects.filter(platform__in=missing, push_token__isnull=False)
            .values_list("platform")
            .annotate(n=Count("id"))
            .values_list("platform", "n")
        )
    return [
        PushRouteRow(
            platform=platform,
            label=PushPlatform(platform).label,
            provider=routes.providers.get(platform),
            chosen=routes.chosen.get(platform, False),
            problem=routes.problems.get(platform, ""),
            skipped_devices=counts.get(platform, 0),
        )
        for platform in PushPlatform.values
    ]


def push_route_choices() -> dict[str, list[Provider]]:
    """The providers an admin may choose for each platform: active push providers of a kind
    that reaches it (FCM for Android; APNs or FCM for iOS; Web Push or FCM for the web)."""
    active = list(
        Provider.objects.filter(channel=Channel.PUSH, is_active=True).order_by("nickname")
    )
    return {
        platform: [p for p in active if p.kind in PLATFORM_KINDS[platform]]
        for platform in PushPlatform.values
    }
