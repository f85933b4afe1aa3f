"""A push campaign to a mixed audience in a real browser: Setup shows each platform's route
and what it would skip, the What step's two priorities are separate settings, and after the
run the campaign page says why messages failed or were skipped, in the provider's words, and
the profile page shows the device an unregistered token deactivated."""

import re

import pytest
from playwright.sync_api import expect

from apps.campaigns.models import Campaign, WizardStep
from apps.core.roles import Role
from apps.delivery import batch
from apps.delivery.models import Message, MessageStatus
from tests.accounts.factories import UserFactory
from tests.audience.factories import DeviceFactory, ProfileFactory
from tests.delivery.factories import T0, sms_campaign, started_run
from tests.delivery.helpers import queued_ids
from tests.e2e.conftest import log_in
from tests.providers.factories import (
    fresh_provider_state,
    sandbox_apns,
    sandbox_fcm,
    sandbox_web_subscription,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GONE_IPHONE = "cd" * 32


@pytest.fixture(autouse=True)
def _fresh_state():
    yield from fresh_provider_state()


def _mixed_audience(sandbox):
    """Three people in France: an Android phone, two iPhones (one whose token APNs says is
    gone) and a browser subscribed to Web Push (the account has no Web Push provider)."""
    ann = ProfileFactory(country="FR", name="Ann", identity="ann")
    DeviceFactory(profile=ann, platform="android", push_token="fcm-android_" + "a" * 40)
    bob = ProfileFactory(country="FR", name="Bob", identity="bob")
    DeviceFactory(profile=bob, platform="ios", push_token="ab" * 32)
    cy = ProfileFactory(country="FR", name="Cy", identity="cy")
    DeviceFactory(profile=cy, platform="ios", push_token=GONE_IPHONE)
    subscription = sandbox_web_subscription(sandbox, "wp-e2e", "cy-firefox")
    DeviceFactory(
        profile=cy,
        platform="web",
        push_token=subscription["endpoint"],
        push_keys=subscription["keys"],
    )
    return ann, bob, cy


def test_a_mixed_push_campaign_from_setup_to_its_failure_reasons(
    page, provider_sandbox, screenshot
):
    UserFactory(username="mia", role=Role.MARKETER)
    _ann, _bob, cy = _mixed_audience(provider_sandbox)
    sandbox_fcm(provider_sandbox, "fcm-e2e")
    sandbox_apns(provider_sandbox, "apns-e2e")
    provider_sandbox.client.set_faults("apns-e2e", reject_recipients=[GONE_IPHONE])
    log_in(page, "mia")

    # Setup: no provider to choose; each platform's route, and the web devices it would skip.
    page.goto("/campaigns/new/?channel=push")
    expect(page.locator("#setup-push-route-android")).to_contain_text("Fcm-E2E")
    expect(page.locator("#setup-push-route-ios")).to_contain_text("Apns-E2E")
    web = page.locator("#setup-push-route-web")
    expect(web).to_contain_text("No Web Push provider for Web devices.")
    expect(web).to_contain_text("1 Web device would be skipped.")
    expect(page.locator("select[name=route]")).to_have_count(0)
    screenshot(page, "push-setup-routes")
    page.fill("#id_name", "Mixed push")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(r"/campaigns/\d+/edit/who/"))
    created = Campaign.objects.get(name="Mixed push")
    assert created.channel == "push" and created.provider_id is None

    # What: delivery priority and the Android tray priority are two settings.
    campaign = sms_campaign(
        channel="push",
        push_all_devices=True,
        name="Weekend push",
        status="draft",
        next_run_at=None,
        wizard_step=WizardStep.WHAT,
    )
    page.goto(f"/campaigns/{campaign.pk}/edit/what/")
    page.locator("details.what-advanced summary").first.click()
    page.select_option("select[name$='delivery_priority']", "normal")
    page.select_option("select[name$='android_priority']", "max")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).not_to_have_url(re.compile(r"/what/$"))
    campaign.refresh_from_db()
    message = campaign.content["variants"][0]["message"]
    assert (message["delivery_priority"], message["android_priority"]) == ("normal", "max")

    # The run: Android and Bob's iPhone sent, Cy's iPhone unregistered, Cy's browser skipped.
    run = started_run(campaign)
    batch.send_batch(run.pk, queued_ids(run), now=T0)
    assert Message.objects.filter(run=run, status=MessageStatus.SENT).count() == 2
    [android] = provider_sandbox.client.messages("fcm-e2e")
    assert android["extra"]["android"]["priority"] == "NORMAL"
    assert android["extra"]["android"]["notification"]["notification_priority"] == "PRIORITY_MAX"

    page.goto(f"/campaigns/{campaign.pk}/")
    failures = page.locator("#campaign-failures")
    unregistered = failures.locator("tr", has_text="Device unregistered (deactivated)")
    expect(unregistered).to_contain_text("Apns-E2E")
    expect(unregistered).to_contain_text("Unregistered")
    expect(unregistered.locator("td[data-count]")).to_have_text("1")
    skipped = failures.locator("tr", has_text="No provider for the device's platform")
    expect(skipped).to_contain_text("No Web Push provider for Web devices.")
    screenshot(page, "push-campaign-failures")

    # The profile page: Cy's iPhone is deactivated, with APNs' words.
    page.goto(f"/audience/{cy.pk}/")
    expect(page.get_by_text("deactivated", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("the provider said “Unregistered”")
