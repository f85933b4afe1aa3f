"""How a campaign ends once its last run is final (completion.campaign_complete_if_done through
campaigns.services): completed when something was sent; completed and saying why when every
message was skipped or failed; back to draft, with the refusal's reason, when its last run
was refused and nothing was ever sent. "Completed" never says a campaign sent that did not.
The pages that read it are in tests/delivery/test_progress.py and tests/campaigns/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.campaigns.models import Campaign, CampaignStatus, WizardStep
from apps.campaigns.services import campaign_schedule
from apps.delivery import batch, completion, runs
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from apps.providers.services import provider_create
from tests.delivery.factories import AUDIENCE, T0, people, sms_campaign, started_run
from tests.delivery.helpers import queued_ids

pytestmark = pytest.mark.django_db


def _finishing(**fields) -> Campaign:
    """A campaign the tick has started on its last occurrence."""
    return sms_campaign(status=CampaignStatus.RUNNING, next_run_at=None, **fields)


def _settle(run, status: str, reason: str = "", n: int | None = None) -> None:
    """The run's queued rows as a batch leaves them."""
    rows = Message.objects.filter(run=run, status=MessageStatus.QUEUED)
    if n is not None:
        rows = Message.objects.filter(pk__in=list(rows.values_list("pk", flat=True)[:n]))
    rows.update(status=status, reason=reason, sent_at=timezone.now())


def test_a_campaign_whose_messages_all_failed_completes_saying_nothing_was_sent():
    people(2)
    campaign = _finishing()  # no provider, and no default SMS group to fall back on
    run = started_run(campaign)

    batch.send_batch(run.pk, queued_ids(run), now=T0)

    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaign.nothing_sent_reason == "2 failed: No provider to send through (2)."


def test_skips_and_failures_are_both_named_with_their_reasons():
    people(5)
    campaign = _finishing()
    run = started_run(campaign)
    _settle(run, MessageStatus.SKIPPED, SkipReason.UNSUBSCRIBED, n=2)
    _settle(run, MessageStatus.SKIPPED, SkipReason.CAPPED, n=1)
    _settle(run, MessageStatus.FAILED, "permanent")

    assert completion.run_finish_if_done(run.pk, now=T0)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaign.nothing_sent_reason == (
        "3 skipped: Unsubscribed (2), Frequency cap (1); 2 failed: Refused by the provider (2)."
    )


def test_a_run_with_nobody_completes_saying_nobody_could_be_reached():
    campaign = _finishing()
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)

    runs.run_start_and_fan_out(run.pk, now=T0)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert campaign.nothing_sent_reason == (
        "Nobody in the audience could be reached on this channel."
    )


def test_a_campaign_that_sent_one_message_completes_plainly():
    people(3)
    campaign = _finishing()
    run = started_run(campaign)
    _settle(run, MessageStatus.SENT, n=1)
    _settle(run, MessageStatus.SKIPPED, SkipReason.CAPPED)

    assert completion.run_finish_if_done(run.pk, now=T0)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED and campaign.nothing_sent_reason == ""


def test_an_earlier_send_keeps_a_campaign_with_a_refused_last_run_completed():
    people(1)
    campaign = _finishing(campaign_type="multiple_dates")
    earlier = started_run(campaign, at=T0 - timedelta(days=1))
    _settle(earlier, MessageStatus.SENT)
    CampaignRun.objects.filter(pk=earlier.pk).update(status=RunStatus.COMPLETED)
    CampaignRun.objects.create(
        campaign=campaign, scheduled_for=T0, status=RunStatus.REFUSED, refused_reason="No."
    )

    assert completion.campaign_complete_if_done(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED and campaign.nothing_sent_reason == ""


def test_a_one_time_campaign_whose_only_run_was_refused_goes_back_to_draft_saying_why():
    campaign = _finishing(audience_definition=None, scheduled_at=T0 - timedelta(hours=1))
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)

    runs.run_start_and_fan_out(run.pk, now=T0)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and campaign.was_refused
    assert campaign.nothing_sent_reason == "The campaign has no audience."
    assert campaign.scheduled_at is None and campaign.next_run_at is None
    assert not campaign.is_safety_held


def test_a_run_still_going_keeps_the_campaign_running():
    people(2)
    campaign = _finishing(campaign_type="multiple_dates")
    CampaignRun.objects.create(campaign=campaign, scheduled_for=T0 - timedelta(days=1))
    CampaignRun.objects.create(
        campaign=campaign, scheduled_for=T0, status=RunStatus.REFUSED, refused_reason="No."
    )

    assert not completion.campaign_complete_if_done(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING and campaign.nothing_sent_reason == ""


def test_a_stopped_campaign_is_never_completed_nor_sent_back():
    campaign = sms_campaign(status=CampaignStatus.STOPPED, next_run_at=None)
    CampaignRun.objects.create(
        campaign=campaign, scheduled_for=T0, status=RunStatus.REFUSED, refused_reason="No."
    )

    assert not completion.campaign_complete_if_done(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.STOPPED and campaign.nothing_sent_reason == ""


def test_scheduling_the_refused_draft_again_clears_its_reason_and_keeps_the_run():
    provider = provider_create(
        channel="sms",
        kind="twilio",
        nickname="Twilio",
        credentials={"account_sid": "ACx", "auth_token": "token"},
        settings={"from_number": "+15550000000"},
    )
    campaign = _finishing(
        audience_definition=None,
        provider=provider,
        wizard_step=WizardStep.SCHEDULE,
        when={"type": "at", "at": "2031-06-01T10:00"},
    )
    runs.run_start_and_fan_out(
        CampaignRun.objects.create(campaign=campaign, scheduled_for=T0).pk, now=T0
    )
    Campaign.objects.filter(pk=campaign.pk).update(  # the marketer's fix in Who
        audience_definition=AUDIENCE
    )

    campaign_schedule(campaign=campaign, now=T0 + timedelta(hours=1))

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.nothing_sent_reason == ""
    assert list(campaign.runs.values_list("status", flat=True)) == [RunStatus.REFUSED]
