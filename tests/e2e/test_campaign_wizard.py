"""A marketer builds an SMS campaign in a real browser, step by step through the wizard, with
the demo SMS group pointed at the provider sandbox. Each step leaves a screenshot in
tests/artifacts/."""

import pytest
from django.core.cache import cache

from apps.accounts.management.commands.bootstrap_demo import _demo_providers
from apps.campaigns.models import Campaign, CampaignType, WizardStep
from apps.core.roles import Role
from apps.providers.models import ProviderGroup
from tests.accounts.factories import UserFactory
from tests.audience.factories import ProfileFactory
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "Diwali SMS reminder"


@pytest.fixture
def demo_sms_group(provider_sandbox, settings) -> ProviderGroup:
    """The providers `make run` creates (bootstrap_demo), aimed at this run's sandbox: the
    default "Demo SMS" group of Twilio then Vonage."""
    settings.PROVIDER_SANDBOX_HOST = provider_sandbox.host
    settings.PROVIDER_SANDBOX_PORT = provider_sandbox.port
    _demo_providers()
    return ProviderGroup.objects.get(name="Demo SMS")


def _seed_audience() -> None:
    ProfileFactory(identity="tess", name="Tess", phone="+919800000001", is_test=True)


def _setup(page, screenshot, group: ProviderGroup) -> Campaign:
    """Step 1: name, SMS (the route part follows the channel through htmx), recurring, and the
    default demo group already chosen."""
    page.goto("/campaigns/")
    page.get_by_role("button", name="New campaign").click()  # a link styled as a button
    page.wait_for_selector("h1:has-text('New campaign')")
    assert "Choose a channel" in page.locator("#setup-route").inner_text()

    page.get_by_label("Name").fill(NAME)
    page.get_by_label("SMS", exact=True).check()
    route = page.get_by_label("Send through")
    route.wait_for()
    # The default group is preselected, and the sandbox providers are there to pick instead.
    assert route.input_value() == f"group:{group.pk}"
    options = route.locator("option").all_inner_texts()
    assert "Demo SMS (default)" in options
    assert "Twilio (sandbox) · Twilio" in options
    page.get_by_label("Recurring").check()
    screenshot(page, "campaign-wizard-1-setup")

    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_selector("li[aria-current=step]:has-text('Who')")
    campaign = Campaign.objects.get(name=NAME)
    assert campaign.channel == "sms" and campaign.campaign_type == CampaignType.RECURRING
    assert campaign.provider_group == group and campaign.provider is None
    assert campaign.wizard_step == WizardStep.SETUP
    assert "Draft “Diwali SMS reminder” created." in page.inner_text("body")
    assert "SMS · Recurring" in page.locator("h1").inner_text()
    return campaign


def test_a_marketer_builds_tests_and_schedules_an_sms_ab_campaign(
    page, screenshot, demo_sms_group, provider_sandbox
):
    cache.clear()  # estimates and circuit states are cached in Redis: start from this test's data
    UserFactory(username="mia", role=Role.MARKETER)
    _seed_audience()
    log_in(page, "mia")

    _setup(page, screenshot, demo_sms_group)
