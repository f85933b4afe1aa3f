"""Providers (how Herald reaches people) and SMS provider groups (ordered failover)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from apps.providers.adapters.base import ProviderConfig
from apps.providers.crypto import credentials_decrypt
from apps.providers.kinds import KINDS, kinds_of_channel


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    PUSH = "push", "Push"


KINDS_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    channel: kinds_of_channel(channel) for channel in Channel
}
KIND_CHOICES = [(name, kind.label) for name, kind in KINDS.items()]

MAX_GROUP_PROVIDERS = 10


class Provider(models.Model):
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    # The API selects a provider by nickname (provider_nick_name), within its channel.
    nickname = models.CharField(max_length=100)
    base_url = models.URLField(max_length=500, blank=True)
    # A Fernet token of the credentials JSON (apps.providers.crypto); never the plain JSON.
    credentials_encrypted = models.TextField(blank=True, default="")
    # Non-secret settings: from number, messaging service id, sender, request template…
    settings = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["channel", "nickname"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "nickname"], name="provider_nickname_unique_in_channel"
            ),
            models.CheckConstraint(
                condition=(
                    Q(channel="sms", kind__in=KINDS_BY_CHANNEL[Channel.SMS])
                    | Q(channel="email", kind__in=KINDS_BY_CHANNEL[Channel.EMAIL])
                    | Q(channel="push", kind__in=KINDS_BY_CHANNEL[Channel.PUSH])
                ),
                name="provider_kind_matches_channel",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.nickname} ({self.get_kind_display()})"

    @property
    def credentials(self) -> dict[str, Any]:
        return credentials_decrypt(self.credentials_encrypted)

    def config(self) -> ProviderConfig:
        return ProviderConfig(
            kind=self.kind,
            nickname=self.nickname,
            base_url=self.base_url,
            credentials=self.credentials,
            settings=dict(self.settings or {}),
        )


class ProviderGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)
    providers = models.ManyToManyField(
        Provider, through="ProviderGroupMember", related_name="provider_groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="provider_group_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProviderGroupMember(models.Model):
    group = models.ForeignKey(ProviderGroup, on_delete=models.CASCADE, related_name="members")
    # PROTECT: a provider in a group is removed from the group before it can be deleted.
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, related_name="group_memberships"
    )
    priority = models.PositiveSmallIntegerField()  # 1 = tried first

    class Meta:
        ordering = ["group", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "provider"], name="provider_group_member_unique"
            ),
            models.UniqueConstraint(
                fields=["group", "priority"],
                name="provider_group_priority_unique",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=MAX_GROUP_PROVIDERS),
                name="provider_group_priority_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} #{self.priority}: {self.provider}"


class PushPlatform(models.TextChoices):
    """A device's platform, as push routing sees it (audience.Platform's values)."""

    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WEB = "web", "Web"


# The provider kinds that can reach each platform; the first is the platform's own service,
# which routing picks by itself when the admin has chosen nothing (providers.routing).
PLATFORM_KINDS: dict[str, tuple[str, ...]] = {
    PushPlatform.ANDROID: ("fcm",),
    PushPlatform.IOS: ("apns", "fcm"),
    PushPlatform.WEB: ("webpush", "fcm"),
}


class PushRoute(models.Model):
    """The account's choice of provider for one device platform (Settings → Providers):
    every push campaign sends that platform's devices through it."""

    platform = models.CharField(max_length=8, choices=PushPlatform.choices, primary_key=True)
    # CASCADE: deleting the provider removes the choice; routing then falls back to the
    # platform's own service, if there is one.
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="push_routes")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_platform_display()} → {self.provider.nickname}"
