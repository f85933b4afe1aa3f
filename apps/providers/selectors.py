"""Reads for the provider pages and for sending."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.providers.models import Channel, Provider, ProviderGroup, ProviderGroupMember


def provider_list(*, channel: str | None = None) -> QuerySet[Provider]:
    providers = Provider.objects.order_by("channel", "nickname")
    return providers.filter(channel=channel) if channel else providers


def sms_provider_choices() -> QuerySet[Provider]:
    return Provider.objects.filter(channel=Channel.SMS).order_by("nickname")


def provider_group_list() -> QuerySet[ProviderGroup]:
    return ProviderGroup.objects.order_by("-is_default", "name").prefetch_related(
        Prefetch(
            "members",
            queryset=ProviderGroupMember.objects.select_related("provider").order_by("priority"),
        )
    )


def provider_group_members(*, group: ProviderGroup) -> list[Provider]:
    """The group's providers in priority order (priority 1 first)."""
    return [m.provider for m in group.members.select_related("provider").order_by("priority")]


def provider_group_default() -> ProviderGroup | None:
    return ProviderGroup.objects.filter(is_default=True).first()
