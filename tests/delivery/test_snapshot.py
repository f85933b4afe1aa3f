"""The run snapshot: who gets a Message row, with which variant and status, in one SQL statement."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus
from apps.delivery.snapshot import run_start, take_snapshot
from tests.audience.factories import DeviceFactory, ProfileFactory
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

EVERYONE_IN_FRANCE = {
    "version": 1,
    "profile": [{"name": "country", "operator": "equals", "value": "FR"}],
}


def _variant(key: str, body: str, match: str = "") -> dict:
    return {"key": key, "name": f"Variant {key}", "match": match, "message": {"body": body}}


def _campaign(channel: str = "sms", **fields):
    """A scheduled campaign with one message, to everyone in France unless `fields` say."""
    fields.setdefault("audience_definition", EVERYONE_IN_FRANCE)
    return CampaignFactory(**{channel: True}, scheduled=True, with_content=True, **fields)


def _people(n: int, **fields):
    return [ProfileFactory(country="FR", phone=f"+3360000{i:04d}", **fields) for i in range(n)]


def _run(campaign, at=None) -> CampaignRun:
    return CampaignRun.objects.create(campaign=campaign, scheduled_for=at or timezone.now())


def test_everyone_reachable_in_the_audience_gets_one_queued_row():
    _people(5)
    ProfileFactory(country="FR", phone="")  # no phone: not reachable by SMS
    ProfileFactory(country="FR", phone="+33611111111", sms_unsubscribed=True)
    ProfileFactory(country="DE", phone="+49111111111")  # outside the audience
    run = _run(_campaign())
    result = take_snapshot(run)
    assert (result.qualified, result.recipients, result.control) == (5, 5, 0)
    rows = Message.objects.filter(run=run)
    assert {r.status for r in rows} == {MessageStatus.QUEUED} and {r.variant for r in rows} == {"A"}
    assert take_snapshot(run).recipients == 5  # a retried snapshot adds nobody twice
    assert rows.count() == 5


def test_the_safety_cap_refuses_the_run_and_writes_nothing():
    _people(4)
    run = run_start(_run(_campaign(safety_cap=3)))
    assert run.status == RunStatus.REFUSED and run.qualified == 4
    assert "above the safety cap (3)" in run.refused_reason
    assert not Message.objects.filter(run=run).exists()


def test_limits_cap_the_receivers_and_count_earlier_runs():
    _people(10)
    campaign = _campaign(limit_per_run=4, limit_overall=6)
    first = run_start(_run(campaign, timezone.now() - timedelta(days=2)))
    assert first.recipients == 4
    second = run_start(_run(campaign))
    assert second.recipients == 2  # 6 overall, 4 already reached
    # 4 then 2: the overall limit of 6 counts the people the first run reached.
    reached = Message.objects.filter(run__campaign=campaign).values_list("profile_id", flat=True)
    assert len(reached) == 6


def test_the_control_group_is_stable_across_runs_and_receives_nothing():
    _people(200)
    campaign = _campaign(control_group_percent=20)
    first = run_start(_run(campaign, timezone.now() - timedelta(days=1)))
    second = run_start(_run(campaign))
    control_first = set(
        Message.objects.filter(run=first, status=MessageStatus.CONTROL).values_list(
            "profile_id", flat=True
        )
    )
    control_second = set(
        Message.objects.filter(run=second, status=MessageStatus.CONTROL).values_list(
            "profile_id", flat=True
        )
    )
    assert control_first == control_second and 20 <= len(control_first) <= 60
    assert first.control == len(control_first) and first.recipients == 200 - len(control_first)
    assert set(
        Message.objects.filter(run=first, status=MessageStatus.CONTROL).values_list(
            "reason", flat=True
        )
    ) == {"control"}


def test_ab_test_share_by_count_is_split_evenly_and_the_rest_waits_for_the_winner():
    _people(30)
    at = timezone.now()
    campaign = _campaign(
        content={
            "mode": "ab",
            "variants": [_variant("A", "a"), _variant("B", "b"), _variant("C", "c")],
            "ab": {"size_kind": "count", "size": 9, "metric": "clicks", "window_hours": 4},
        }
    )
    run = run_start(_run(campaign, at))
    assert run.status == RunStatus.TESTING
    rows = Message.objects.filter(run=run)
    tested = Counter(rows.filter(status=MessageStatus.QUEUED).values_list("variant", flat=True))
    assert tested == {"A": 3, "B": 3, "C": 3}
    waiting = rows.filter(status=MessageStatus.WAITING)
    assert waiting.count() == 21 and set(waiting.values_list("variant", flat=True)) == {""}
    assert {r.release_at for r in waiting} == {at + timedelta(hours=4)}


def test_ab_test_share_by_percent_takes_about_that_share():
    _people(400)
    campaign = _campaign(
        content={
            "mode": "ab",
            "variants": [_variant("A", "a"), _variant("B", "b")],
            "ab": {"size_kind": "percent", "size": 25, "metric": "clicks", "window_hours": 2},
        }
    )
    run = run_start(_run(campaign))
    tested = Counter(
        Message.objects.filter(run=run, status=MessageStatus.QUEUED).values_list(
            "variant", flat=True
        )
    )
    assert 60 <= sum(tested.values()) <= 140  # 25% of 400, give or take the hash
    assert abs(tested["A"] - tested["B"]) <= 1  # round robin within the share


def test_multi_message_picks_the_variant_by_property_with_the_fallback():
    ProfileFactory(country="FR", phone="+33600000001", language="fr")
    ProfileFactory(country="FR", phone="+33600000002", language="EN")
    ProfileFactory(country="FR", phone="+33600000003", language="de")
    ProfileFactory(country="FR", phone="+33600000004", properties={"Tier": "gold"})
    campaign = _campaign(
        content={
            "mode": "multi",
            "variants": [_variant("A", "en", "en"), _variant("B", "fr", "fr"), _variant("C", "x")],
            "multi": {"property": "Language", "fallback": "C"},
        }
    )
    run = run_start(_run(campaign))
    by_phone = dict(Message.objects.filter(run=run).values_list("profile__phone", "variant"))
    assert by_phone == {
        "+33600000001": "B",
        "+33600000002": "A",
        "+33600000003": "C",
        "+33600000004": "C",
    }


def test_push_goes_to_the_last_active_device_or_all_devices():
    now = timezone.now()
    person = ProfileFactory(country="FR")
    old = DeviceFactory(profile=person, last_active=now - timedelta(days=3))
    new = DeviceFactory(profile=person, last_active=now)
    DeviceFactory(profile=person, push_token=None, last_active=now + timedelta(hours=1))
    last = _campaign("push")
    run = run_start(_run(last))
    assert list(Message.objects.filter(run=run).values_list("device_id", flat=True)) == [new.pk]
    every = _campaign("push", push_all_devices=True)
    run = run_start(_run(every))
    assert set(Message.objects.filter(run=run).values_list("device_id", flat=True)) == {
        old.pk,
        new.pk,
    }


def test_a_large_audience_picks_the_same_last_device_in_one_ordered_pass(monkeypatch):
    """Above SET_BASED_LAST_DEVICE_FROM the choice is a DISTINCT ON over the device index
    instead of a probe per profile; it must choose exactly the same devices, ties and
    unknown activity included."""
    from apps.delivery import snapshot

    now = timezone.now()
    expected = {}
    for n in range(6):
        person = ProfileFactory(country="FR")
        DeviceFactory(profile=person, last_active=None)  # unknown activity loses
        older = DeviceFactory(profile=person, last_active=now - timedelta(days=n + 1))
        tie = DeviceFactory(profile=person, last_active=now - timedelta(hours=n))
        newest = DeviceFactory(profile=person, last_active=now - timedelta(hours=n))
        DeviceFactory(profile=person, push_token=None, last_active=now + timedelta(days=1))
        expected[person.pk] = max(tie.pk, newest.pk)  # same moment: the later device
        assert older.pk < expected[person.pk]
    campaigns = [_campaign("push") for _ in range(2)]
    chosen = []
    for threshold, campaign in zip((10**9, 0), campaigns, strict=True):
        monkeypatch.setattr(snapshot, "SET_BASED_LAST_DEVICE_FROM", threshold)
        run = run_start(_run(campaign))
        chosen.append(dict(Message.objects.filter(run=run).values_list("profile_id", "device_id")))
    assert chosen[0] == chosen[1] == expected


def test_two_workers_starting_the_same_run_snapshot_it_once():
    _people(3)
    run = _run(_campaign())
    run_start(run)
    again = run_start(CampaignRun.objects.get(pk=run.pk))
    assert again.status == RunStatus.SENDING
    assert Message.objects.filter(run=run).count() == 3
