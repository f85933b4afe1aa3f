"""A push run to a mixed audience: each device through its platform's provider, devices of a
platform without one skipped with the reason, an unregistered token deactivating its device
at once (so the next run skips it), and every option reaching the wire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache

from apps.audience.models import Device, Profile
from apps.delivery import batch
from apps.delivery.models import Message, MessageStatus, SkipReason
from apps.providers.services import push_route_set
from tests.audience.factories import DeviceFactory, ProfileFactory
from tests.delivery.factories import T0, sms_campaign, started_run
from tests.delivery.helpers import queued_ids
from tests.providers.factories import (
    fresh_provider_state,
    sandbox_apns,
    sandbox_fcm,
    sandbox_web_subscription,
    sandbox_webpush,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

APNS_TOKEN = "ab" * 32  # what an iPhone's APNs registration gives: 32 bytes, in hex
ANDROID_TOKEN = "fcm-android_" + "a" * 40


@pytest.fixture(autouse=True)
def _fresh_state():
    cache.clear()
    yield from fresh_provider_state()


def _mixed_audience() -> dict[str, Device]:
    ann = ProfileFactory(country="FR", name="Ann")
    return {
        "android": DeviceFactory(profile=ann, platform="android", push_token=ANDROID_TOKEN),
        "ios": DeviceFactory(profile=ann, platform="ios", push_token=APNS_TOKEN),
        "web": DeviceFactory(profile=ann, platform="web", push_token="fcm-web_" + "w" * 40),
    }


def _push_campaign(**fields):
    return sms_campaign(channel="push", push_all_devices=True, **fields)


def test_each_device_goes_through_its_platforms_provider(provider_sandbox):
    devices = _mixed_audience()
    sandbox_fcm(provider_sandbox, "fcm-mixed")
    sandbox_apns(provider_sandbox, "apns-mixed")
    run = started_run(_push_campaign())

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    fcm = provider_sandbox.client.messages("fcm-mixed")
    apns = provider_sandbox.client.messages("apns-mixed")
    # Android and the FCM web token through FCM; the APNs token through APNs, never FCM.
    assert sorted(d["recipient"] for d in fcm) == sorted(
        [devices["android"].push_token, devices["web"].push_token]
    )
    assert [d["recipient"] for d in apns] == [APNS_TOKEN]
    rows = {m.device_id: m for m in Message.objects.filter(run=run)}
    assert {rows[d.pk].status for d in devices.values()} == {MessageStatus.SENT}
    assert rows[devices["ios"].pk].provider.kind == "apns"
    # The app reports views and clicks with the message's own id.
    [ios_push] = apns
    assert ios_push["extra"]["request"]["herald_mid"] == str(rows[devices["ios"].pk].pk)
    assert ios_push["extra"]["request"]["wzrk_pn"] == "true"  # CleverTap's SDKs: "ours"


def test_an_admins_choice_of_fcm_for_ios_is_followed(provider_sandbox):
    ann = ProfileFactory(country="FR", name="Ann")
    ios = DeviceFactory(profile=ann, platform="ios", push_token="fcm-ios_" + "i" * 40)
    firebase = sandbox_fcm(provider_sandbox, "fcm-ios")
    sandbox_apns(provider_sandbox, "apns-unused")
    push_route_set(platform="ios", provider=firebase)
    run = started_run(_push_campaign())

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    [delivered] = provider_sandbox.client.messages("fcm-ios")
    assert delivered["recipient"] == ios.push_token
    assert provider_sandbox.client.messages("apns-unused") == []


def test_devices_of_a_platform_without_a_provider_are_skipped_with_the_reason(provider_sandbox):
    devices = _mixed_audience()
    sandbox_fcm(provider_sandbox, "fcm-only")  # no APNs provider
    run = started_run(_push_campaign())

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    ios_row = Message.objects.get(run=run, device=devices["ios"])
    assert (ios_row.status, ios_row.reason) == (MessageStatus.SKIPPED, SkipReason.NO_PUSH_ROUTE)
    assert ios_row.error == "No APNs provider for iOS devices."
    # FCM would refuse an APNs token anyway: it is never offered one.
    assert APNS_TOKEN not in {d["recipient"] for d in provider_sandbox.client.messages("fcm-only")}
    sent = Message.objects.filter(run=run, status=MessageStatus.SENT).count()
    assert sent == 2


def test_an_unregistered_token_deactivates_its_device_and_the_next_run_skips_it(
    provider_sandbox,
):
    devices = _mixed_audience()
    sandbox_fcm(provider_sandbox, "fcm-life")
    sandbox_apns(provider_sandbox, "apns-life")
    provider_sandbox.client.set_faults("apns-life", reject_recipients=[APNS_TOKEN])
    provider_sandbox.client.set_faults("fcm-life", reject_recipients=[ANDROID_TOKEN])
    campaign = _push_campaign()
    run = started_run(campaign)

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    for platform, words in (("ios", "Unregistered"), ("android", "UNREGISTERED")):
        row = Message.objects.get(run=run, device=devices[platform])
        assert (row.status, row.reason) == (MessageStatus.FAILED, batch.FAILED_UNREGISTERED)
        assert words in row.error
        device = Device.objects.get(pk=devices[platform].pk)
        assert device.push_token is None and device.deactivated_at is not None
        assert device.deactivated_token == devices[platform].push_token
        assert words in device.deactivated_reason
    # The web device was accepted and stays; the profile's reach flags follow the devices.
    assert Device.objects.get(pk=devices["web"].pk).push_token is not None
    profile = Profile.objects.get(pk=devices["web"].profile_id)
    assert (profile.push_android, profile.push_ios, profile.push_web) == (False, False, True)

    next_run = started_run(campaign, at=T0 + timedelta(days=1))
    assert set(
        Message.objects.filter(run=next_run).exclude(device=None).values_list("device", flat=True)
    ) == {devices["web"].pk}


def test_a_retryable_failure_never_deactivates(provider_sandbox):
    devices = _mixed_audience()
    sandbox_fcm(provider_sandbox, "fcm-5xx")
    sandbox_apns(provider_sandbox, "apns-5xx")
    provider_sandbox.client.set_faults("apns-5xx", error_rate=1.0, error_status=503)
    run = started_run(_push_campaign())

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    row = Message.objects.get(run=run, device=devices["ios"])
    assert row.status == MessageStatus.WAITING
    assert Device.objects.get(pk=devices["ios"].pk).push_token == APNS_TOKEN


def test_a_browser_subscription_goes_through_web_push_and_an_fcm_web_token_through_fcm(
    provider_sandbox,
):
    ann = ProfileFactory(country="FR", name="Ann")
    subscription = sandbox_web_subscription(provider_sandbox, "wp-mixed", "ann-firefox")
    browser = DeviceFactory(
        profile=ann,
        platform="web",
        push_token=subscription["endpoint"],
        push_keys=subscription["keys"],
    )
    fcm_web = DeviceFactory(profile=ann, platform="web", push_token="fcm-web_" + "w" * 40)
    sandbox_fcm(provider_sandbox, "fcm-web")
    sandbox_webpush(provider_sandbox, "wp-mixed")
    run = started_run(_push_campaign())

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    [pushed] = provider_sandbox.client.messages("wp-mixed")
    assert pushed["recipient"] == browser.push_token
    # The sandbox decrypted the aes128gcm body with the subscription's own keys.
    row = Message.objects.get(run=run, device=browser)
    assert pushed["extra"]["payload"]["title"] == "Hi Ann"
    assert pushed["extra"]["payload"]["data"]["herald_mid"] == str(row.pk)
    assert [d["recipient"] for d in provider_sandbox.client.messages("fcm-web")] == [
        fcm_web.push_token
    ]
    assert set(Message.objects.filter(run=run).values_list("status", flat=True)) == {
        MessageStatus.SENT
    }


def test_a_gone_subscription_deactivates_the_browser(provider_sandbox):
    ann = ProfileFactory(country="FR", name="Ann")
    subscription = sandbox_web_subscription(provider_sandbox, "wp-gone", "ann-chrome")
    browser = DeviceFactory(
        profile=ann,
        platform="web",
        push_token=subscription["endpoint"],
        push_keys=subscription["keys"],
    )
    sandbox_webpush(provider_sandbox, "wp-gone")
    provider_sandbox.client.set_faults("wp-gone", reject_recipients=["ann-chrome"])
    run = started_run(_push_campaign())

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    row = Message.objects.get(run=run, device=browser)
    assert (row.status, row.reason) == (MessageStatus.FAILED, batch.FAILED_UNREGISTERED)
    browser.refresh_from_db()
    assert browser.push_token is None and browser.deactivated_token == subscription["endpoint"]
