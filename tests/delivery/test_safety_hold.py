"""The safety check through the engine: a run whose audience is above the campaign's safety
cap sends nothing and holds its campaign (back to draft, marked with what the check saw) via
campaigns.services.campaign_safety_hold, once, whatever the run task's redeliveries do. The
service itself, the pages and clearing on reschedule are in tests/campaigns/test_safety_hold.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.campaigns.models import Campaign, CampaignStatus
from apps.delivery import runs
from apps.delivery.models import CampaignRun, Message, RunStatus
from tests.delivery.factories import T0, people, sms_campaign

pytestmark = pytest.mark.django_db


def _run(campaign) -> CampaignRun:
    """The run beat creates for the occurrence at T0 (its task not run yet)."""
    return CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)


def test_a_run_above_the_safety_cap_sends_nothing_and_holds_its_campaign():
    people(3)
    campaign = sms_campaign(status=CampaignStatus.RUNNING, next_run_at=None, safety_cap=2)
    run = _run(campaign)

    assert runs.run_start_and_fan_out(run.pk, now=T0) == 0

    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.REFUSED and run.qualified == 3
    assert not Message.objects.filter(run=run).exists()
    # Held, not completed: nothing was sent, and a draft is what the marketer can fix.
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.is_safety_held
    assert campaign.safety_held_at == T0
    assert (campaign.safety_hold_audience, campaign.safety_hold_cap) == (3, 2)
    assert campaign.safety_hold_reason == run.refused_reason
    assert "above the safety cap (2)" in campaign.safety_hold_reason
    assert campaign.next_run_at is None and campaign.scheduled_at is None


def test_a_held_recurring_campaign_starts_no_later_occurrence():
    people(3)
    tomorrow = T0 + timedelta(days=1)
    # As the tick leaves a recurring campaign: running, next_run_at moved to the next day.
    campaign = sms_campaign(
        campaign_type="recurring", status=CampaignStatus.RUNNING, next_run_at=tomorrow, safety_cap=2
    )
    runs.run_start_and_fan_out(_run(campaign).pk, now=T0)

    assert runs.tick(now=tomorrow + timedelta(minutes=1)) == 0

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT and campaign.next_run_at is None
    assert list(CampaignRun.objects.filter(campaign=campaign).values_list("status", flat=True)) == [
        RunStatus.REFUSED
    ]


def test_a_redelivered_run_task_holds_the_campaign_once():
    people(3)
    campaign = sms_campaign(status=CampaignStatus.RUNNING, next_run_at=None, safety_cap=2)
    run = _run(campaign)
    runs.run_start_and_fan_out(run.pk, now=T0)

    runs.run_start_and_fan_out(run.pk, now=T0 + timedelta(minutes=5))

    campaign.refresh_from_db()
    assert campaign.safety_held_at == T0  # the first refusal's mark, not re-stamped


def test_a_stale_refusal_does_not_hold_a_campaign_scheduled_again_since():
    people(3)
    campaign = sms_campaign(status=CampaignStatus.RUNNING, next_run_at=None, safety_cap=2)
    run = _run(campaign)
    runs.run_start_and_fan_out(run.pk, now=T0)
    # The marketer narrowed nothing yet but scheduled it again for later (mark cleared)…
    later = T0 + timedelta(hours=1)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.SCHEDULED,
        scheduled_at=later,
        next_run_at=later + timedelta(days=1),
        safety_held_at=None,
        safety_hold_reason="",
        safety_hold_audience=None,
        safety_hold_cap=None,
    )

    # …then the old run's task is redelivered.
    runs.run_start_and_fan_out(run.pk, now=later + timedelta(minutes=1))

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and not campaign.is_safety_held
    assert campaign.next_run_at == later + timedelta(days=1)


def test_a_run_refused_for_want_of_an_audience_does_not_hold_the_campaign():
    people(3)
    campaign = sms_campaign(
        status=CampaignStatus.RUNNING, next_run_at=None, safety_cap=2, audience_definition=None
    )
    run = _run(campaign)
    runs.run_start_and_fan_out(run.pk, now=T0)
    # The redelivered task finds the run refused: it is not the safety check's refusal.
    runs.run_start_and_fan_out(run.pk, now=T0 + timedelta(minutes=5))

    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.REFUSED and run.qualified is None
    assert not campaign.is_safety_held
    # Not "completed": nothing was sent. Back to draft with the refusal's reason, to fix.
    assert campaign.status == CampaignStatus.DRAFT and campaign.was_refused
    assert campaign.nothing_sent_reason == "The campaign has no audience."


def test_a_run_within_the_safety_cap_does_not_hold_the_campaign():
    people(2)
    campaign = sms_campaign(status=CampaignStatus.RUNNING, next_run_at=None, safety_cap=2)
    run = _run(campaign)

    assert runs.run_start_and_fan_out(run.pk, now=T0) == 1

    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.SENDING and run.recipients == 2
    assert campaign.status == CampaignStatus.RUNNING and not campaign.is_safety_held
