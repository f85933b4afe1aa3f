import pytest
from django.db import IntegrityError, transaction

from apps.providers.models import Provider, ProviderGroup, ProviderGroupMember
from apps.providers.selectors import provider_group_members
from apps.providers.services import (
    ProviderRefused,
    provider_create,
    provider_delete,
    provider_group_delete,
    provider_group_make_default,
    provider_group_save,
)


def _sms(nickname: str) -> Provider:
    return provider_create(channel="sms", kind="twilio", nickname=nickname)


@pytest.mark.django_db
def test_a_nickname_is_unique_within_its_channel_but_may_repeat_across_channels():
    _sms("Main")
    provider_create(channel="email", kind="sendgrid", nickname="Main")
    with pytest.raises(ProviderRefused, match="already exists"):
        _sms("Main")
    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.create(channel="sms", kind="vonage", nickname="Main")


@pytest.mark.django_db
def test_a_kind_must_belong_to_its_channel():
    with pytest.raises(ProviderRefused, match="not a sms provider kind"):
        provider_create(channel="sms", kind="sendgrid", nickname="Wrong")
    with pytest.raises(IntegrityError), transaction.atomic():
        Provider.objects.create(channel="push", kind="twilio", nickname="Wrong")
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_a_group_keeps_its_providers_in_priority_order_and_allows_at_most_ten():
    providers = [_sms(f"P{i}") for i in range(11)]
    group = provider_group_save(name="Global", providers=providers[:10][::-1])
    assert provider_group_members(group=group) == providers[:10][::-1]
    assert list(group.members.values_list("priority", flat=True)) == list(range(1, 11))

    with pytest.raises(ProviderRefused, match="at most 10 providers"):
        provider_group_save(name="Global", group=group, providers=providers)
    assert group.members.count() == 10


@pytest.mark.django_db
def test_a_group_accepts_only_sms_providers_each_once():
    sms = _sms("Sms")
    email = provider_create(channel="email", kind="sendgrid", nickname="Mail")
    with pytest.raises(ProviderRefused, match="Only SMS providers"):
        provider_group_save(name="G", providers=[sms, email])
    with pytest.raises(ProviderRefused, match="only once"):
        provider_group_save(name="G", providers=[sms, sms])
    assert not ProviderGroup.objects.exists()


@pytest.mark.django_db
def test_only_one_group_is_the_default():
    a = provider_group_save(name="A", providers=[_sms("One")], is_default=True)
    b = provider_group_save(name="B", providers=[_sms("Two")])
    provider_group_make_default(group=b)
    assert list(ProviderGroup.objects.filter(is_default=True)) == [b]
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderGroup.objects.filter(pk=a.pk).update(is_default=True)


@pytest.mark.django_db
def test_the_database_refuses_a_duplicate_priority_in_a_group():
    group = provider_group_save(name="G", providers=[_sms("One")])
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderGroupMember.objects.create(group=group, provider=_sms("Two"), priority=1)


@pytest.mark.django_db
def test_a_provider_in_a_group_cannot_be_deleted_until_removed_from_it():
    one, two = _sms("One"), _sms("Two")
    group = provider_group_save(name="G", providers=[one, two])
    with pytest.raises(ProviderRefused, match="remove it from them first"):
        provider_delete(provider=one)
    provider_group_save(name="G", group=group, providers=[two])
    provider_delete(provider=one)
    assert list(Provider.objects.all()) == [two]


@pytest.mark.django_db
def test_a_group_used_by_a_campaign_that_may_still_send_is_not_deleted():
    from tests.campaigns.factories import CampaignFactory

    group = provider_group_save(name="Main", providers=[_sms("One")])
    CampaignFactory(name="Weekly digest", channel="sms", provider_group=group, status="draft")
    CampaignFactory(name="Diwali sale", channel="sms", provider_group=group, status="running")

    with pytest.raises(ProviderRefused, match="used by the campaign\\(s\\) Diwali sale, Weekly"):
        provider_group_delete(group=group)
    assert ProviderGroup.objects.filter(pk=group.pk).exists()


@pytest.mark.django_db
def test_deleting_a_group_makes_archived_campaigns_let_go_of_it():
    from apps.campaigns.models import Campaign
    from tests.campaigns.factories import CampaignFactory

    group = provider_group_save(name="Main", providers=[_sms("One")])
    archived = CampaignFactory(
        channel="sms", provider_group=group, status="archived", status_before_archive="completed"
    )

    provider_group_delete(group=group)

    assert not ProviderGroup.objects.exists()
    assert Campaign.objects.get(pk=archived.pk).provider_group is None


@pytest.mark.django_db
def test_a_provider_used_by_a_campaign_is_not_deleted_until_it_is_archived():
    from apps.campaigns.models import Campaign
    from tests.campaigns.factories import CampaignFactory

    provider = _sms("One")
    campaign = CampaignFactory(name="Promo", channel="sms", provider=provider, status="completed")
    with pytest.raises(ProviderRefused, match="“One” is used by the campaign\\(s\\) Promo"):
        provider_delete(provider=provider)

    Campaign.objects.filter(pk=campaign.pk).update(
        status="archived", status_before_archive="completed"
    )
    provider_delete(provider=provider)
    assert not Provider.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).provider is None
