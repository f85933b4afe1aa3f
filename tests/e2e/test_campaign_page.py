"""The campaign page in a real browser while the engine finishes a run: the header's status
badge follows the polled delivery panel (swapped out of band), with no reload, and a run that
sent nothing never reads "Completed"."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.campaigns.models import Campaign, CampaignStatus
from apps.core.roles import Role
from apps.delivery import completion, runs
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from tests.accounts.factories import UserFactory
from tests.audience.factories import ProfileFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _sending(name: str, **fields) -> tuple[Campaign, CampaignRun]:
    """A one-time SMS campaign on its only run, two messages still queued."""
    campaign = Campaign.objects.create(
        name=name, channel="sms", status=CampaignStatus.RUNNING, next_run_at=None, **fields
    )
    run = CampaignRun.objects.create(
        campaign=campaign,
        scheduled_for=timezone.now(),
        status=RunStatus.SENDING,
        qualified=2,
        recipients=2,
        control=0,
        started_at=timezone.now(),
    )
    for i in range(2):
        Message.objects.create(run=run, profile=ProfileFactory(phone=f"+3360000000{i}"))
    return campaign, run


def test_the_header_badge_follows_the_panel_when_the_run_ends_with_nothing_sent(page):
    UserFactory(username="mia", role=Role.MARKETER)
    campaign, run = _sending("Flash sale")
    log_in(page, "mia")
    page.goto(f"/campaigns/{campaign.pk}/")
    status = page.locator("h1 #campaign-status")
    expect(status).to_have_text("Running")
    expect(page.locator("#campaign-delivery")).to_have_attribute("data-polling", "on")
    stop = page.locator("#campaign-actions").get_by_role("button", name="Stop")
    expect(stop).to_be_visible()

    # Every recipient unsubscribed meanwhile: the batch skips them, the engine ends the run.
    Message.objects.filter(run=run).update(
        status=MessageStatus.SKIPPED, reason=SkipReason.UNSUBSCRIBED
    )
    assert completion.run_finish_if_done(run.pk)

    expect(status).to_have_text("Completed — nothing sent", timeout=8_000)
    expect(status.locator(".badge")).to_have_attribute("title", "2 skipped: Unsubscribed (2).")
    panel = page.locator("#campaign-delivery")
    expect(panel.locator("h2").first).to_have_text("Delivery Completed — nothing sent")
    expect(panel).to_contain_text("Nothing sent: 2 skipped: Unsubscribed (2).")
    assert page.locator("#campaign-status").count() == 1  # swapped, not added
    # The header's actions follow too: a finished campaign cannot be stopped.
    expect(stop).to_have_count(0)
    expect(page.locator("#campaign-actions").get_by_role("button", name="Clone")).to_be_visible()
    assert page.locator("#campaign-actions").count() == 1


def test_a_run_refused_at_the_start_sends_the_header_back_to_draft(page):
    UserFactory(username="mia", role=Role.MARKETER)
    campaign = Campaign.objects.create(
        name="No audience", channel="sms", status=CampaignStatus.RUNNING, next_run_at=None
    )
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=timezone.now())
    log_in(page, "mia")
    page.goto(f"/campaigns/{campaign.pk}/")
    status = page.locator("h1 #campaign-status")
    expect(status).to_have_text("Running")

    runs.run_start_and_fan_out(run.pk)  # the run task: refused, the campaign has no audience

    expect(status).to_have_text("DraftRun refused", timeout=8_000)
    expect(page.locator("#campaign-delivery")).to_contain_text(
        "Refused: The campaign has no audience."
    )
    expect(page.locator("body")).not_to_contain_text("Completed")
