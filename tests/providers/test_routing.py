"""route_for: which provider or group a campaign sends through."""

import pytest

from apps.providers.models import Channel
from apps.providers.routing import route_for, route_providers
from apps.providers.services import provider_create, provider_group_save

pytestmark = pytest.mark.django_db


def _sms(nickname: str):
    return provider_create(channel=Channel.SMS, kind="twilio", nickname=nickname)


def test_an_sms_campaign_with_a_group_sends_through_the_group():
    group = provider_group_save(name="Failover", providers=[_sms("first"), _sms("second")])
    provider_group_save(name="Default", providers=[_sms("third")], is_default=True)

    assert route_for(channel=Channel.SMS, provider=None, group=group) == group


def test_the_group_comes_before_the_provider_when_a_row_names_both():
    provider = _sms("first")
    group = provider_group_save(name="Failover", providers=[_sms("second")])

    assert route_for(channel=Channel.SMS, provider=provider, group=group) == group


def test_a_campaign_with_a_provider_sends_through_it_even_with_a_default_group():
    provider = _sms("first")
    provider_group_save(name="Default", providers=[_sms("second")], is_default=True)

    assert route_for(channel=Channel.SMS, provider=provider, group=None) == provider


def test_an_sms_campaign_naming_neither_sends_through_the_default_group():
    default = provider_group_save(name="Default", providers=[_sms("first")], is_default=True)

    assert route_for(channel=Channel.SMS, provider=None, group=None) == default


def test_an_sms_campaign_naming_neither_has_no_route_without_a_default_group():
    provider_group_save(name="Failover", providers=[_sms("first")])

    assert route_for(channel=Channel.SMS, provider=None, group=None) is None


def test_email_and_push_never_fall_back_to_the_sms_default_group():
    provider_group_save(name="Default", providers=[_sms("first")], is_default=True)
    email = provider_create(channel=Channel.EMAIL, kind="sendgrid", nickname="mail")

    assert route_for(channel=Channel.EMAIL, provider=None, group=None) is None
    push = route_for(channel=Channel.PUSH, provider=None, group=None)
    assert push.distinct() == []  # push routes per platform, never through an SMS group
    assert route_for(channel=Channel.EMAIL, provider=email, group=None) == email


def test_a_group_is_ignored_outside_sms():
    email = provider_create(channel=Channel.EMAIL, kind="sendgrid", nickname="mail")
    group = provider_group_save(name="Failover", providers=[_sms("first")])

    assert route_for(channel=Channel.EMAIL, provider=email, group=group) == email


def test_a_routes_providers_are_the_provider_or_every_group_member_in_priority_order():
    first, second = _sms("first"), _sms("second")
    group = provider_group_save(name="Failover", providers=[second, first])

    assert route_providers(group) == [second, first]
    assert route_providers(first) == [first]
    assert route_providers(None) == []
