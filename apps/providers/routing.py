"""Which provider or provider group a campaign sends through: one rule for the delivery
engine, the wizard's test send and the content checks (which providers an SMS may reach).

The order: the campaign's group (groups are SMS only), else its provider, else for SMS the
default group. A campaign names at most one of provider and group (the database's
campaign_provider_xor_group and group-only-for-SMS constraints), so for a valid row the order
of the first two never decides anything; it is fixed here so that no caller can disagree."""

from __future__ import annotations

from apps.providers.models import Channel, Provider, ProviderGroup
from apps.providers.selectors import provider_group_default, provider_group_members

Route = Provider | ProviderGroup


def route_for(
    *, channel: str, provider: Provider | None, group: ProviderGroup | None
) -> Route | None:
    """What a campaign on `channel` naming `provider` or `group` sends through; None when
    there is nothing (no provider chosen and, for SMS, no default group)."""
    if group is not None and channel == Channel.SMS:
        return group
    if provider is not None:
        return provider
    if channel == Channel.SMS:
        return provider_group_default()
    return None


def route_providers(route: Route | None) -> list[Provider]:
    """The providers a route may send through: the provider itself, or every member of the
    group (active or not) in priority order."""
    if route is None:
        return []
    if isinstance(route, ProviderGroup):
        return provider_group_members(group=route)
    return [route]
