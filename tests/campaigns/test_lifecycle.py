import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.campaigns import services
from apps.campaigns.models import Campaign, CampaignStatus, WizardStep
from apps.campaigns.services import ACTIONS_BY_STATUS, CampaignActionRefused
from apps.providers.services import provider_create, provider_group_save
from tests.campaigns.factories import CampaignFactory
from tests.segments.factories import SegmentFactory

pytestmark = pytest.mark.django_db

ALL_STATUSES = list(CampaignStatus.values)


def _in_status(status: str) -> Campaign:
    if status == CampaignStatus.ARCHIVED:
        return CampaignFactory(status=status, status_before_archive=CampaignStatus.COMPLETED)
    return CampaignFactory(status=status)


# What each action turns each allowed status into.
EXPECTED = {
    "stop": lambda before: CampaignStatus.STOPPED,
    "archive": lambda before: CampaignStatus.ARCHIVED,
    "unarchive": lambda before: CampaignStatus.COMPLETED,  # what _in_status archived from
}
SERVICES = {
    "stop": services.campaign_stop,
    "archive": services.campaign_archive,
    "unarchive": services.campaign_unarchive,
}


@pytest.mark.parametrize("status", ALL_STATUSES)
@pytest.mark.parametrize("action", ["stop", "archive", "unarchive"])
def test_each_status_change_happens_exactly_where_the_table_allows_it(action, status):
    campaign = _in_status(status)
    before = Campaign.objects.filter(pk=campaign.pk).values().get()

    if action in ACTIONS_BY_STATUS[status]:
        SERVICES[action](campaign=campaign)
        campaign.refresh_from_db()
        assert campaign.status == EXPECTED[action](status)
        assert campaign.status == Campaign.objects.get(pk=campaign.pk).status
    else:
        with pytest.raises(CampaignActionRefused) as refused:
            SERVICES[action](campaign=campaign)
        message = str(refused.value)
        assert campaign.name in message
        assert CampaignStatus(status).label.lower() in message
        assert Campaign.objects.filter(pk=campaign.pk).values().get() == before


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_only_drafts_are_deleted(status):
    campaign = _in_status(status)
    if status == CampaignStatus.DRAFT:
        services.campaign_delete_draft(campaign=campaign)
        assert not Campaign.objects.filter(pk=campaign.pk).exists()
    else:
        with pytest.raises(CampaignActionRefused, match="only draft campaigns can be deleted"):
            services.campaign_delete_draft(campaign=campaign)
        assert Campaign.objects.get(pk=campaign.pk).status == status


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_any_campaign_but_an_archived_one_can_be_cloned_into_a_draft(status):
    campaign = _in_status(status)
    if status == CampaignStatus.ARCHIVED:
        with pytest.raises(CampaignActionRefused, match="is archived: only draft, scheduled"):
            services.campaign_clone(campaign=campaign)
        assert Campaign.objects.count() == 1
        return
    copy = services.campaign_clone(campaign=campaign)
    assert copy.pk != campaign.pk and copy.status == CampaignStatus.DRAFT
    assert Campaign.objects.get(pk=campaign.pk).status == status


@pytest.mark.parametrize("before", ["draft", "stopped", "completed"])
def test_unarchive_restores_the_status_the_campaign_had(before):
    campaign = CampaignFactory(status=before)
    services.campaign_archive(campaign=campaign)
    assert (campaign.status, campaign.status_before_archive) == ("archived", before)
    services.campaign_unarchive(campaign=campaign)
    assert (campaign.status, campaign.status_before_archive) == (before, "")


def test_stop_clears_the_next_run_and_records_when():
    campaign = CampaignFactory(status="scheduled", next_run_at=timezone.now() + timedelta(hours=1))
    services.campaign_stop(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.next_run_at is None
    assert campaign.stopped_at is not None and campaign.status == "stopped"


def test_a_refusal_reads_the_status_that_changed_under_the_caller():
    campaign = CampaignFactory(status="running")
    Campaign.objects.filter(pk=campaign.pk).update(status="completed")  # the engine finished
    with pytest.raises(CampaignActionRefused, match="is completed: only scheduled, running"):
        services.campaign_stop(campaign=campaign)  # the caller still holds "running"
    assert Campaign.objects.get(pk=campaign.pk).stopped_at is None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_stops_one_wins_and_the_other_is_refused():
    campaign = CampaignFactory(status="running")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def stop():
        try:
            copy = Campaign.objects.get(pk=campaign.pk)  # each holds "running"
            barrier.wait()
            services.campaign_stop(campaign=copy)
            outcomes.append("stopped")
        except CampaignActionRefused as refused:
            outcomes.append(str(refused))
        finally:
            connection.close()

    threads = [threading.Thread(target=stop) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 2 and outcomes.count("stopped") == 1
    (refusal,) = [outcome for outcome in outcomes if outcome != "stopped"]
    assert "is stopped: only scheduled, running campaigns can be stopped" in refusal
    assert Campaign.objects.get(pk=campaign.pk).status == "stopped"


def test_clone_copies_what_the_campaign_says_but_not_its_schedule(marketer_user):
    segment = SegmentFactory()
    provider = provider_create(channel="sms", kind="twilio", nickname="tw")
    original = CampaignFactory(
        name="Diwali sale",
        channel="sms",
        campaign_type="recurring",
        status="running",
        provider=provider,
        segment=segment,
        limit_daily=500,
        control_group_percent=10,
        content={"variants": [{"body": "Hi {{Profile.Name}}"}]},
        delivery={"dnd": {"mode": "delay"}},
        conversion_goal={"event": "Charged", "window": "3D"},
        when={"type": "recurring", "every": 1, "unit": "weeks"},
        scheduled_at=timezone.now(),
        next_run_at=timezone.now() + timedelta(days=1),
        wizard_step=WizardStep.SCHEDULE,
    )

    copy = services.campaign_clone(campaign=original, created_by=marketer_user)
    copy.refresh_from_db()

    assert copy.name == "Copy of Diwali sale"
    assert copy.status == "draft" and copy.created_by == marketer_user
    assert (copy.channel, copy.campaign_type) == ("sms", "recurring")
    assert (copy.provider, copy.segment) == (provider, segment)
    assert (copy.limit_daily, copy.control_group_percent) == (500, 10)
    assert copy.content == original.content and copy.delivery == original.delivery
    assert copy.conversion_goal == original.conversion_goal
    assert copy.when == {}
    assert (copy.scheduled_at, copy.next_run_at, copy.stopped_at) == (None, None, None)
    assert copy.wizard_step == WizardStep.WHO


def test_a_clone_of_a_long_name_still_fits():
    copy = services.campaign_clone(campaign=CampaignFactory(name="x" * 200))
    assert len(copy.name) == 200 and copy.name.startswith("Copy of ")


def test_create_draft_names_the_field_it_refuses():
    with pytest.raises(CampaignActionRefused, match=r"^name:"):
        services.campaign_create_draft(name="  ", channel="push")
    with pytest.raises(CampaignActionRefused, match=r"^channel:"):
        services.campaign_create_draft(name="A", channel="fax")
    with pytest.raises(CampaignActionRefused, match=r"^campaign_type:"):
        services.campaign_create_draft(name="A", channel="sms", campaign_type="weekly")
    with pytest.raises(CampaignActionRefused, match=r"^control_group_percent:"):
        services.campaign_create_draft(name="A", channel="sms", control_group_percent=101)
    with pytest.raises(CampaignActionRefused, match=r"^limit_daily:"):
        services.campaign_create_draft(name="A", channel="sms", limit_daily=0)
    assert not Campaign.objects.exists()
    draft = services.campaign_create_draft(name=" Spring ", channel="email")
    assert (draft.name, draft.status, draft.wizard_step) == ("Spring", "draft", 0)


# --- What the database itself refuses ----------------------------------------------------------


def _violates(**fields) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignFactory(**fields)


def test_the_database_refuses_a_provider_and_a_group_together_and_groups_outside_sms():
    provider = provider_create(channel="sms", kind="twilio", nickname="tw")
    group = provider_group_save(name="G", providers=[provider])
    _violates(channel="sms", provider=provider, provider_group=group)
    _violates(channel="push", provider_group=group)
    assert CampaignFactory(channel="sms", provider_group=group).provider_group == group


def test_the_database_refuses_bad_limits_percentages_and_archive_states():
    _violates(control_group_percent=101)
    for field in ("limit_overall", "limit_per_run", "limit_daily", "safety_cap"):
        _violates(**{field: 0})
    _violates(status="archived")  # archived must remember what it was
    _violates(status="archived", status_before_archive="archived")
    _violates(status="draft", status_before_archive="running")
    _violates(status="paused")
    _violates(segment=SegmentFactory(), audience_definition={"version": 1})
