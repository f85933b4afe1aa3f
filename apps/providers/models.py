"""Providers (how Herald reaches people) and SMS provider groups (ordered failover)."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from apps.providers.adapters import EMAIL_KINDS, PUSH_KINDS, SMS_KINDS
from apps.providers.adapters.base import ProviderConfig
from apps.providers.crypto import credentials_decrypt

KIND_LABELS = {
    "twilio": "Twilio",
    "vonage": "Vonage (Nexmo)",
    "msg91": "Msg91",
    "exotel": "Exotel",
    "netcore": "Netcore",
    "generic_sms": "Generic SMS (HTTP)",
    "sendgrid": "SendGrid",
    "infobip": "Infobip",
    "ses": "Amazon SES",
    "smtp": "SMTP",
    "fcm": "Firebase Cloud Messaging (FCM)",
    "apns": "Apple Push (APNs)",
}


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    PUSH = "push", "Push"


KINDS_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    Channel.SMS: SMS_KINDS,
    Channel.EMAIL: EMAIL_KINDS,
    Channel.PUSH: PUSH_KINDS,
}
KIND_CHOICES = [(kind, KIND_LABELS[kind]) for kinds in KINDS_BY_CHANNEL.values() for kind in kinds]

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
                    Q(channel="sms", kind__in=SMS_KINDS)
                    | Q(channel="email", kind__in=EMAIL_KINDS)
                    | Q(channel="push", kind__in=PUSH_KINDS)
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
