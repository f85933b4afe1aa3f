"""What the campaign's route says about its SMS content (generic provider keys)."""

from __future__ import annotations

import json
from typing import Any

from apps.providers.kinds.generic_sms.adapter import PLACEHOLDER as GENERIC_PLACEHOLDER
from apps.providers.models import Channel
from apps.providers.routing import route_for, route_providers

from .shape import GENERIC_BUILTINS
from .variants import content_clean

# --- routes --------------------------------------------------------------------------------


def campaign_route(campaign):
    """What the campaign sends through (providers.routing.route_for on its channel, provider
    and group): the engine's batches, the Test step and the content checks all ask this."""
    return route_for(
        channel=campaign.channel, provider=campaign.provider, group=campaign.provider_group
    )


def sms_route_providers(campaign) -> list:
    """The providers that may send this SMS campaign: its provider, its group's members, or
    (neither chosen) the default group's."""
    return route_providers(campaign_route(campaign))


def sms_route_kinds(campaign) -> set[str]:
    return {provider.kind for provider in sms_route_providers(campaign)}


def uses_generic_sms(campaign) -> bool:
    """Whether the generic provider's blocks (template variables, key-value pairs) apply."""
    return campaign.channel == Channel.SMS and "generic_sms" in sms_route_kinds(campaign)


def only_generic_sms(campaign) -> bool:
    """Whether every route is a generic provider, so a template id may stand for the body."""
    kinds = sms_route_kinds(campaign) if campaign.channel == Channel.SMS else set()
    return bool(kinds) and kinds == {"generic_sms"}


def generic_sms_keys(campaign) -> list[str]:
    """The custom `$$key`s a generic provider's request uses: the spec's predefined key-value
    pairs, which the campaign must give a value. Built-in placeholders and the provider's own
    secret values (looked up by name only) are not the campaign's to fill."""
    if campaign.channel != Channel.SMS:
        return []
    keys: set[str] = set()
    for provider in sms_route_providers(campaign):
        if provider.kind != "generic_sms":
            continue
        used = set(GENERIC_PLACEHOLDER.findall(json.dumps(provider.settings or {})))
        try:
            secret_names = set(provider.credentials)
        except Exception:  # undecryptable credentials: the provider page says so, not this one
            secret_names = set()
        keys |= used - GENERIC_BUILTINS - secret_names
    return sorted(keys)


def campaign_content_clean(campaign, raw: Any, *, has_goal: bool) -> dict[str, Any]:
    """content_clean with the campaign's channel, type and route."""
    return content_clean(
        raw,
        channel=campaign.channel,
        live=campaign.is_live,
        generic_sms=only_generic_sms(campaign),
        has_goal=has_goal,
        required_keys=generic_sms_keys(campaign),
    )
