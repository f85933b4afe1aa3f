"""The A/B winner: measured on the test share once the window has passed, recorded with its
numbers, and handed to the waiting rest — once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from apps.delivery.snapshot import run_start
from apps.delivery.winner import choose_winners, measure_variants
from tests.audience.factories import DeviceFactory, EventFactory, ProfileFactory
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

GOAL = {"event": "Charged", "filters": [], "window": "1D"}


def _variant(key: str) -> dict:
    return {"key": key, "name": f"Variant {key}", "match": "", "message": {"body": f"Hi {key}"}}


def _ab_campaign(metric="conversions", keys="AB", goal=GOAL, **fields):
    content = {
        "mode": "ab",
        "variants": [_variant(k) for k in keys],
        "ab": {"size_kind": "percent", "size": 50, "metric": metric, "window_hours": 2},
    }
    defaults = {"channel": "sms", "status": "running", "content": content, "conversion_goal": goal}
    return CampaignFactory(**{**defaults, **fields})


class ABRun:
    """A TESTING run built row by row: the test share sent `hours_ago`, the rest waiting."""

    def __init__(self, campaign, *, now, hours_ago=3, window_hours=2):
        self.now = now
        self.sent_at = now - timedelta(hours=hours_ago)
        self.run = CampaignRun.objects.create(
            campaign=campaign,
            scheduled_for=self.sent_at,
            status=RunStatus.TESTING,
            recipients=0,
        )
        self.release_at = self.sent_at + timedelta(hours=window_hours)

    def sent(self, variant: str, profile=None, device=None):
        profile = profile or ProfileFactory()
        Message.objects.create(
            run=self.run,
            profile=profile,
            device=device,
            variant=variant,
            status=MessageStatus.SENT,
            sent_at=self.sent_at,
        )
        return profile

    def waiting(self, n: int) -> list:
        profiles = [ProfileFactory() for _ in range(n)]
        Message.objects.bulk_create(
            Message(
                run=self.run, profile=p, status=MessageStatus.WAITING, release_at=self.release_at
            )
            for p in profiles
        )
        return profiles

    def rest(self):
        return Message.objects.filter(run=self.run).exclude(profile_id__in=self.share_profiles())

    def share_profiles(self):
        return Message.objects.filter(run=self.run, status=MessageStatus.SENT).values("profile_id")


def _event(profile, name, at, **properties):
    return EventFactory(profile=profile, name=name, ts=at, properties=properties)


def test_conversions_pick_b_and_the_waiting_rest_gets_b_released_now():
    now = timezone.now()
    campaign = _ab_campaign()
    run = ABRun(campaign, now=now)
    a_people = [run.sent("A") for _ in range(3)]
    b_people = [run.sent("B") for _ in range(3)]
    run.waiting(4)
    for person in b_people[:2]:
        _event(person, "Charged", run.sent_at + timedelta(hours=1), Amount=10)
    _event(a_people[0], "App Launched", run.sent_at + timedelta(hours=1))  # not the goal

    assert choose_winners(now) == 1

    decided = CampaignRun.objects.get(pk=run.run.pk)
    assert decided.status == RunStatus.SENDING and decided.winner_variant == "B"
    details = decided.winner_details
    assert details["metric"] == "conversions"
    assert details["decided_at"] == now.isoformat()
    assert details["variants"]["A"] == {"sent": 3, "metric": 0, "rate": 0.0}
    assert details["variants"]["B"] == {"sent": 3, "metric": 2, "rate": round(2 / 3, 6)}
    rest = list(run.rest())
    assert len(rest) == 4
    assert {(m.status, m.variant, m.release_at) for m in rest} == {
        (MessageStatus.WAITING, "B", now)
    }
    # The test share keeps what it was sent.
    share = Message.objects.filter(run=run.run, status=MessageStatus.SENT)
    assert sorted(share.values_list("variant", flat=True)) == ["A", "A", "A", "B", "B", "B"]


def test_a_conversion_outside_the_goal_window_or_before_the_send_does_not_count():
    now = timezone.now()
    campaign = _ab_campaign(goal={**GOAL, "window": "2H"})
    run = ABRun(campaign, now=now, hours_ago=30)
    a, b = run.sent("A"), run.sent("B")
    run.waiting(1)
    _event(a, "Charged", run.sent_at + timedelta(hours=1))  # inside 2 hours
    _event(b, "Charged", run.sent_at + timedelta(hours=3))  # too late
    _event(b, "Charged", run.sent_at - timedelta(minutes=5))  # before the message
    results = measure_variants(run.run, campaign, "conversions", now=now)
    assert (results["A"].metric, results["B"].metric) == (1, 0)


def test_conversion_goal_filters_use_the_event_properties():
    now = timezone.now()
    goal = {
        "event": "Charged",
        "filters": [{"name": "Amount", "operator": "greater_than", "value": 100}],
        "window": "1D",
    }
    campaign = _ab_campaign(goal=goal)
    run = ABRun(campaign, now=now)
    a, b = run.sent("A"), run.sent("B")
    run.waiting(1)
    _event(a, "Charged", run.sent_at + timedelta(hours=1), Amount=250)
    _event(b, "Charged", run.sent_at + timedelta(hours=1), Amount=50)
    _event(b, "Charged", run.sent_at + timedelta(hours=2), Amount="cheap")  # never raises

    assert choose_winners(now) == 1
    assert CampaignRun.objects.get(pk=run.run.pk).winner_variant == "A"


def test_clicks_count_notification_clicked_events_naming_this_campaign_and_variant():
    now = timezone.now()
    campaign = _ab_campaign(metric="clicks", goal=None, channel="push")
    other = _ab_campaign(metric="clicks", goal=None, channel="push")
    run = ABRun(campaign, now=now)
    a1, a2 = run.sent("A"), run.sent("A")
    b1, b2, b3 = run.sent("B"), run.sent("B"), run.sent("B")
    run.waiting(2)
    later = run.sent_at + timedelta(minutes=10)
    _event(a1, "Notification Clicked", later, campaign_id=campaign.pk, variant="A")
    _event(a2, "Notification Clicked", later, wzrk_id=f"{campaign.pk}_20261123")  # CleverTap's
    _event(b1, "Notification Clicked", later, campaign_id=str(other.pk))  # another campaign
    _event(b2, "Notification Clicked", later, campaign_id=campaign.pk, variant="A")  # not theirs
    _event(b3, "Notification Viewed", later, campaign_id=campaign.pk)  # a view, not a click
    _event(b3, "Notification Clicked", now + timedelta(minutes=1), campaign_id=campaign.pk)

    results = measure_variants(run.run, campaign, "clicks", now=now)
    assert (results["A"].sent, results["A"].metric) == (2, 2)
    assert (results["B"].sent, results["B"].metric) == (3, 0)
    assert measure_variants(run.run, campaign, "opens", now=now)["B"].metric == 1


def test_rates_count_people_not_devices():
    now = timezone.now()
    campaign = _ab_campaign(metric="clicks", goal=None, channel="push")
    run = ABRun(campaign, now=now)
    multi_device = ProfileFactory()
    for _ in range(3):
        run.sent("A", profile=multi_device, device=DeviceFactory(profile=multi_device))
    run.sent("B")
    run.waiting(1)
    clicked = run.sent_at + timedelta(minutes=1)
    _event(multi_device, "Notification Clicked", clicked, campaign_id=campaign.pk)
    _event(multi_device, "Notification Clicked", clicked, campaign_id=campaign.pk)
    results = measure_variants(run.run, campaign, "clicks", now=now)
    assert (results["A"].sent, results["A"].metric) == (1, 1)


def test_measuring_every_variant_is_one_query(django_assert_num_queries):
    now = timezone.now()
    campaign = _ab_campaign(keys="ABC")
    run = ABRun(campaign, now=now)
    for key in "ABC":
        run.sent(key)
    with django_assert_num_queries(1):
        results = measure_variants(run.run, campaign, "conversions", now=now)
    assert list(results) == ["A", "B", "C"]


def test_a_tie_goes_to_the_lowest_key():
    now = timezone.now()
    campaign = _ab_campaign(keys="ABC")
    run = ABRun(campaign, now=now)
    c1 = run.sent("C")
    run.sent("C")
    b1 = run.sent("B")
    run.sent("B")
    run.sent("A")  # A converts nobody
    run.waiting(1)
    _event(c1, "Charged", run.sent_at + timedelta(hours=1))
    _event(b1, "Charged", run.sent_at + timedelta(hours=1))  # B and C both 1 of 2
    choose_winners(now)
    assert CampaignRun.objects.get(pk=run.run.pk).winner_variant == "B"


def test_nothing_measured_anywhere_is_a_tie_won_by_a():
    now = timezone.now()
    campaign = _ab_campaign()
    run = ABRun(campaign, now=now)
    run.waiting(3)  # the test share never went out (all DND-delayed, say)
    choose_winners(now)
    decided = CampaignRun.objects.get(pk=run.run.pk)
    assert decided.winner_variant == "A"
    assert decided.winner_details["variants"]["B"] == {"sent": 0, "metric": 0, "rate": 0.0}


def test_choosing_twice_decides_once_and_leaves_the_first_result():
    now = timezone.now()
    campaign = _ab_campaign()
    run = ABRun(campaign, now=now)
    b = run.sent("B")
    run.sent("A")
    run.waiting(2)
    _event(b, "Charged", run.sent_at + timedelta(hours=1))
    assert choose_winners(now) == 1
    first = CampaignRun.objects.get(pk=run.run.pk)
    # New evidence for A after the decision changes nothing: the run is no longer testing.
    _event(run.sent("A"), "Charged", run.sent_at + timedelta(hours=1))
    later = now + timedelta(minutes=1)
    assert choose_winners(later) == 0
    again = CampaignRun.objects.get(pk=run.run.pk)
    assert (again.winner_variant, again.winner_details) == ("B", first.winner_details)
    assert set(run.rest().values_list("variant", "release_at")) == {("B", now)}


def test_a_run_whose_test_window_has_not_passed_waits():
    now = timezone.now()
    campaign = _ab_campaign()
    run = ABRun(campaign, now=now, hours_ago=1, window_hours=2)
    run.sent("A")
    run.waiting(2)
    assert choose_winners(now) == 0
    assert CampaignRun.objects.get(pk=run.run.pk).status == RunStatus.TESTING
    assert set(run.rest().values_list("variant", flat=True)) == {""}
    assert choose_winners(run.release_at) == 1


def test_a_stopped_campaign_records_the_winner_but_sends_nothing_more():
    now = timezone.now()
    campaign = _ab_campaign(status="stopped")
    run = ABRun(campaign, now=now)
    _event(run.sent("B"), "Charged", run.sent_at + timedelta(hours=1))
    run.waiting(2)
    assert choose_winners(now) == 1
    decided = CampaignRun.objects.get(pk=run.run.pk)
    assert (decided.status, decided.winner_variant) == (RunStatus.STOPPED, "B")
    assert decided.finished_at == now
    assert set(run.rest().values_list("status", "reason")) == {
        (MessageStatus.SKIPPED, SkipReason.STOPPED)
    }


def test_conversions_without_a_goal_left_fall_back_to_clicks():
    now = timezone.now()
    campaign = _ab_campaign(goal=None)
    run = ABRun(campaign, now=now)
    run.sent("A")
    b = run.sent("B")
    run.waiting(1)
    _event(b, "Notification Clicked", run.sent_at + timedelta(minutes=1), campaign_id=campaign.pk)
    choose_winners(now)
    decided = CampaignRun.objects.get(pk=run.run.pk)
    assert (decided.winner_variant, decided.winner_details["metric"]) == ("B", "clicks")


def test_the_whole_test_from_the_snapshot_to_the_rest_receiving_the_winner():
    """Snapshot an A/B campaign (half the audience tests, the rest waits), send the test share
    as the engine would, record conversions for B only, and let the winner job decide."""
    people = [ProfileFactory(country="FR", phone=f"+3361000{i:04d}") for i in range(40)]
    start = timezone.now() - timedelta(hours=3)
    campaign = _ab_campaign(
        audience_definition={
            "version": 1,
            "profile": [{"name": "country", "operator": "equals", "value": "FR"}],
        }
    )
    run = run_start(CampaignRun.objects.create(campaign=campaign, scheduled_for=start))
    assert run.status == RunStatus.TESTING
    test_share = Message.objects.filter(run=run, status=MessageStatus.QUEUED)
    rest_ids = set(
        Message.objects.filter(run=run, status=MessageStatus.WAITING, variant="").values_list(
            "id", flat=True
        )
    )
    assert test_share.exists() and rest_ids
    by_variant = {
        key: set(test_share.filter(variant=key).values_list("profile_id", flat=True))
        for key in "AB"
    }
    assert abs(len(by_variant["A"]) - len(by_variant["B"])) <= 1  # split evenly
    test_share.update(status=MessageStatus.SENT, sent_at=start)  # the engine's send
    for person in people:
        if person.pk in by_variant["B"]:
            _event(person, "Charged", start + timedelta(minutes=30), Amount=20)

    now = timezone.now()
    assert choose_winners(now) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING and run.winner_variant == "B"
    assert run.winner_details["variants"]["B"]["rate"] == 1.0
    assert run.winner_details["variants"]["A"]["rate"] == 0.0
    rest = Message.objects.filter(pk__in=rest_ids)
    assert set(rest.values_list("status", "variant", "release_at")) == {
        (MessageStatus.WAITING, "B", now)
    }
    assert choose_winners(now) == 0
