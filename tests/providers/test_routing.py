"""route_for: which provider or group a campaign sends through; push routes per platform."""

import re

import pytest
from django.urls import reverse

from apps.providers.models import Channel, Provider, PushRoute
from apps.providers.routing import push_route_rows, push_routes, route_for, route_providers
from apps.providers.services import (
    ProviderRefused,
    provider_create,
    provider_group_save,
    push_route_set,
)
from tests.audience.factories import DeviceFactory

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


# --- push: one provider per device platform ---------------------------------------------------


def _push(kind: str, nickname: str, **fields):
    return provider_create(channel=Channel.PUSH, kind=kind, nickname=nickname, **fields)


def test_push_routes_default_to_each_platforms_own_service():
    fcm = _push("fcm", "Firebase")
    apns = _push("apns", "Apple")

    routes = push_routes()

    assert routes.providers == {"android": fcm, "ios": apns, "web": None}
    assert routes.chosen == {"android": False, "ios": False, "web": False}
    assert routes.missing() == ["web"]
    assert routes.problem_for("web", web_subscription=True) == (
        "No Web Push provider for Web devices."
    )
    # An FCM web token still goes through FCM (Android's provider), a subscription does not.
    assert routes.provider_for("web") == fcm
    assert routes.provider_for("web", web_subscription=True) is None


def test_fcm_is_never_picked_for_ios_by_itself_but_an_admin_may_choose_it():
    fcm = _push("fcm", "Firebase")

    assert push_routes().provider_for("ios") is None

    push_route_set(platform="ios", provider=fcm)
    routes = push_routes()
    assert routes.provider_for("ios") == fcm and routes.chosen["ios"] is True


def test_a_deactivated_choice_sends_nothing_rather_than_another_provider():
    chosen = _push("apns", "Apple prod")
    _push("apns", "Apple dev")
    push_route_set(platform="ios", provider=chosen)
    Provider.objects.filter(pk=chosen.pk).update(is_active=False)

    routes = push_routes()

    assert routes.provider_for("ios") is None
    assert routes.problem_for("ios") == "The iOS route's provider “Apple prod” is deactivated."


@pytest.mark.parametrize(
    ("platform", "kind", "refusal"),
    [
        ("android", "apns", "Android devices can only go through Firebase Cloud Messaging (FCM)"),
        ("ios", "sendgrid", "iOS devices can only go through Apple Push (APNs) or Firebase"),
    ],
)
def test_a_route_to_a_provider_that_cannot_reach_the_platform_is_refused(platform, kind, refusal):
    channel = Channel.EMAIL if kind == "sendgrid" else Channel.PUSH
    provider = provider_create(channel=channel, kind=kind, nickname="Wrong")

    with pytest.raises(ProviderRefused, match=re.escape(refusal)):
        push_route_set(platform=platform, provider=provider)
    assert not PushRoute.objects.exists()


def test_setting_a_route_back_to_automatic_removes_the_choice():
    fcm = _push("fcm", "Firebase")
    push_route_set(platform="ios", provider=fcm)

    push_route_set(platform="ios", provider=None)

    assert not PushRoute.objects.exists() and push_routes().provider_for("ios") is None


def test_the_route_table_counts_the_devices_a_missing_platform_would_skip():
    _push("fcm", "Firebase")
    for index in range(3):
        DeviceFactory(platform="ios", push_token=f"{index:02x}" * 32)
    DeviceFactory(platform="ios", push_token=None)  # no token: nothing to skip

    rows = {row.platform: row for row in push_route_rows()}

    assert rows["ios"].provider is None and rows["ios"].skipped_devices == 3
    assert rows["ios"].problem == "No APNs provider for iOS devices."
    assert rows["android"].skipped_devices == 0 and rows["android"].provider.nickname == "Firebase"


def test_admins_save_push_routes_on_the_providers_page(admin_client):
    fcm = _push("fcm", "Firebase")

    page = admin_client.get(reverse("providers:provider_list") + "?channel=push").content.decode()
    assert '<select id="route_ios" name="route_ios">' in page
    assert f'<option value="{fcm.pk}">Firebase · Firebase Cloud Messaging (FCM)</option>' in page

    response = admin_client.post(
        reverse("providers:push_routes_save"), {"route_android": "", "route_ios": fcm.pk}
    )

    assert response.status_code == 302
    assert push_routes().provider_for("ios") == fcm
    page = admin_client.get(response["Location"]).content.decode()
    assert "Push routes saved." in page
    assert f'<option value="{fcm.pk}" selected>Firebase' in page


def test_a_refused_route_is_said_and_the_others_are_saved(admin_client):
    fcm = _push("fcm", "Firebase")
    apns = _push("apns", "Apple")

    response = admin_client.post(
        reverse("providers:push_routes_save"),
        {"route_android": apns.pk, "route_ios": fcm.pk},
        follow=True,
    )

    assert "Android devices can only go through Firebase Cloud Messaging (FCM)" in (
        response.content.decode()
    )
    assert push_routes().provider_for("ios") == fcm
    assert not PushRoute.objects.filter(platform="android").exists()


@pytest.mark.parametrize("who", ["marketer_client", "viewer_client"])
def test_only_admins_change_push_routes(request, who):
    fcm = _push("fcm", "Firebase")

    response = request.getfixturevalue(who).post(
        reverse("providers:push_routes_save"), {"route_ios": fcm.pk}
    )

    assert response.status_code == 403
    assert not PushRoute.objects.exists()
