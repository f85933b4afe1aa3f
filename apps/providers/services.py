"""Writes for providers and provider groups. Credentials are only ever handled here as a
dict on their way into the encrypted column."""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction

from apps.providers.adapters.base import (
    EmailMessage,
    PushMessage,
    SendResult,
    SmsMessage,
)
from apps.providers.crypto import credentials_encrypt, credentials_reencrypt
from apps.providers.kinds import KINDS, adapter_send
from apps.providers.models import (
    KINDS_BY_CHANNEL,
    MAX_GROUP_PROVIDERS,
    PLATFORM_KINDS,
    Channel,
    Provider,
    ProviderGroup,
    ProviderGroupMember,
    PushPlatform,
    PushRoute,
)


class ProviderRefused(Exception):
    """A change the rules do not allow; the message is shown to the admin as is."""


# --- Providers -------------------------------------------------------------------------------


def provider_create(
    *,
    channel: str,
    kind: str,
    nickname: str,
    base_url: str = "",
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    is_active: bool = True,
) -> Provider:
    if kind not in KINDS_BY_CHANNEL.get(channel, ()):
        raise ProviderRefused(f"{kind!r} is not a {channel} provider kind.")
    if Provider.objects.filter(channel=channel, nickname=nickname).exists():
        raise ProviderRefused(f"A {channel} provider named “{nickname}” already exists.")
    return Provider.objects.create(
        channel=channel,
        kind=kind,
        nickname=nickname,
        base_url=base_url,
        credentials_encrypted=credentials_encrypt(credentials or {}),
        settings=settings or {},
        is_active=is_active,
    )


def provider_update(
    *,
    provider: Provider,
    nickname: str,
    base_url: str,
    settings: dict[str, Any],
    credential_changes: dict[str, Any],
) -> Provider:
    """`credential_changes` holds only the secrets the admin typed again; the others keep
    their stored value (the form shows them as "set" and never receives them back)."""
    if (
        Provider.objects.filter(channel=provider.channel, nickname=nickname)
        .exclude(pk=provider.pk)
        .exists()
    ):
        raise ProviderRefused(f"A {provider.channel} provider named “{nickname}” already exists.")
    provider.nickname = nickname
    provider.base_url = base_url
    provider.settings = settings
    if credential_changes:
        credentials = provider.credentials
        credentials.update(credential_changes)
        provider.credentials_encrypted = credentials_encrypt(credentials)
    provider.save()
    return provider


def provider_set_active(*, provider: Provider, is_active: bool) -> Provider:
    Provider.objects.filter(pk=provider.pk).update(is_active=is_active)
    provider.is_active = is_active
    return provider


def provider_delete(*, provider: Provider) -> None:
    groups = list(provider.provider_groups.values_list("name", flat=True))
    if groups:
        raise ProviderRefused(
            f"“{provider.nickname}” is in the provider group(s) {', '.join(groups)}: "
            "remove it from them first."
        )
    with transaction.atomic():
        _release_from_campaigns(provider, what=f"“{provider.nickname}”")
        provider.delete()


def provider_credentials_rotate() -> int:
    """Re-encrypt every provider's credentials with the newest key; returns the count.
    All or nothing: a row no configured key can read leaves every row as it was."""
    with transaction.atomic():
        providers = list(Provider.objects.select_for_update().only("pk", "credentials_encrypted"))
        for provider in providers:
            Provider.objects.filter(pk=provider.pk).update(
                credentials_encrypted=credentials_reencrypt(provider.credentials_encrypted)
            )
    return len(providers)


def provider_test_send(*, provider: Provider, to: str, text: str = "") -> SendResult:
    """Send one test message and return the provider's answer as is."""
    text = text or "Test message from Herald."
    if provider.channel == Channel.SMS:
        message = SmsMessage(to=to, body=text)
    elif provider.channel == Channel.EMAIL:
        message = EmailMessage(
            to=to,
            subject="Herald test email",
            text=text,
            html=f"<p>{text}</p>",
            from_email=provider.settings.get("from_email", ""),
            from_name=provider.settings.get("from_name", ""),
        )
    else:
        platform = provider.settings.get("platform") or (
            "ios" if provider.kind == "apns" else "android"
        )
        message = PushMessage(token=to, platform=platform, title="Herald test", body=text)
    return adapter_send(provider, [message])[0]


# --- Provider groups -------------------------------------------------------------------------


def _check_members(providers: list[Provider]) -> None:
    if not providers:
        raise ProviderRefused("A provider group needs at least one provider.")
    if len(providers) > MAX_GROUP_PROVIDERS:
        raise ProviderRefused(
            f"A provider group can have at most {MAX_GROUP_PROVIDERS} providers "
            f"({len(providers)} chosen)."
        )
    if len({p.pk for p in providers}) != len(providers):
        raise ProviderRefused("Each provider can appear only once in a group.")
    not_sms = [p.nickname for p in providers if p.channel != Channel.SMS]
    if not_sms:
        raise ProviderRefused(f"Only SMS providers can be in a group: {', '.join(not_sms)}.")


@transaction.atomic
def provider_group_save(
    *,
    name: str,
    providers: list[Provider],
    group: ProviderGroup | None = None,
    is_default: bool = False,
) -> ProviderGroup:
    """Create or update a group; `providers` in priority order (first = priority 1)."""
    _check_members(providers)
    if ProviderGroup.objects.filter(name=name).exclude(pk=group.pk if group else None).exists():
        raise ProviderRefused(f"A provider group named “{name}” already exists.")
    if group is None:
        group = ProviderGroup.objects.create(name=name)
    elif group.name != name:
        group.name = name
        group.save(update_fields=["name", "updated_at"])
    # Replacing the rows keeps (group, priority) unique without deferred constraints.
    group.members.all().delete()
    ProviderGroupMember.objects.bulk_create(
        ProviderGroupMember(group=group, provider=provider, priority=index)
        for index, provider in enumerate(providers, start=1)
    )
    if is_default:
        provider_group_make_default(group=group)
    return group


@transaction.atomic
def provider_group_make_default(*, group: ProviderGroup) -> ProviderGroup:
    # Clear the old default first: the partial unique index allows only one at a time.
    ProviderGroup.objects.filter(is_default=True).exclude(pk=group.pk).update(is_default=False)
    try:
        ProviderGroup.objects.filter(pk=group.pk).update(is_default=True)
    except IntegrityError as exc:  # another admin made a different group default meanwhile
        raise ProviderRefused("Another group became the default at the same time; retry.") from exc
    group.is_default = True
    return group


def _release_from_campaigns(sender: Provider | ProviderGroup, *, what: str) -> None:
    """Refuse while a campaign that may still send (anything but archived) uses `sender`;
    archived campaigns let go of it (unarchived, an SMS campaign falls back to the default
    group, and the wizard asks for a provider again). Read through the reverse relation so
    this app does not import campaigns. Call inside a transaction: the row lock makes a
    campaign saved meanwhile wait, then fail its foreign key, instead of slipping through."""
    type(sender).objects.select_for_update().filter(pk=sender.pk).first()
    in_use = list(
        sender.campaigns.exclude(status="archived").order_by("name").values_list("name", flat=True)
    )
    if in_use:
        shown = ", ".join(in_use[:5]) + (f" and {len(in_use) - 5} more" if len(in_use) > 5 else "")
        raise ProviderRefused(
            f"{what} is used by the campaign(s) {shown}: stop and archive them, or give them "
            "another provider, first."
        )
    sender.campaigns.filter(status="archived").update(
        **{"provider_group" if isinstance(sender, ProviderGroup) else "provider": None}
    )


def provider_group_delete(*, group: ProviderGroup) -> None:
    with transaction.atomic():
        _release_from_campaigns(group, what=f"The group “{group.name}”")
        group.delete()


# --- Throwaway keys (demo, tests, benchmarks) ------------------------------------------------


def throwaway_fcm_service_account(*, token_uri: str, project_id: str = "herald-demo") -> str:
    """A throwaway FCM service account (JSON) whose token requests go to `token_uri`: the
    sandbox checks the JWT's claims, not its signature, so a freshly generated key is all the
    demo, the tests and the benchmark need (and nothing real is ever stored)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": project_id,
            "client_email": f"herald@{project_id}.iam.gserviceaccount.com",
            "private_key": pem,
            "token_uri": token_uri,
        }
    )


# --- Push routes -----------------------------------------------------------------------------


def push_route_set(*, platform: str, provider: Provider | None) -> None:
    """Route `platform`'s devices through `provider`, or (None) back to the platform's own
    service, picked automatically (providers.routing)."""
    if platform not in PushPlatform.values:
        raise ProviderRefused(f"Unknown platform “{platform}”.")
    if provider is None:
        PushRoute.objects.filter(platform=platform).delete()
        return
    if provider.channel != Channel.PUSH or provider.kind not in PLATFORM_KINDS[platform]:
        kinds = " or ".join(KINDS[kind].label for kind in PLATFORM_KINDS[platform] if kind in KINDS)
        raise ProviderRefused(
            f"{PushPlatform(platform).label} devices can only go through {kinds}, "
            f"not “{provider.nickname}”."
        )
    if not provider.is_active:
        raise ProviderRefused(f"“{provider.nickname}” is deactivated: activate it first.")
    PushRoute.objects.update_or_create(platform=platform, defaults={"provider": provider})
