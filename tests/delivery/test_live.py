"""Live campaigns: events uploaded through /1/upload trigger Message rows; the daily job
finds the profiles whose event date comes up."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.accounts.services import account_settings_get
from apps.audience.models import Event
from apps.campaigns.services import campaign_stop
from apps.delivery import live, release
from apps.delivery.models import CampaignRun, Message, MessageStatus
from config.celery_app import app as celery_app
from tests.api.helpers import upload
from tests.audience.factories import DeviceFactory, EventFactory
from tests.delivery.factories import (
    BOUGHT,
    CART,
    inaction_trigger,
    live_campaign,
    live_event,
    live_person,
    wall,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_index_and_eager_tasks():
    """Each test's rolled-back campaigns must not linger in this process's index, and the
    triggers task runs in-process (the matching is what is tested here, not the broker)."""
    live.index_forget()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager
    live.index_forget()


def _cart_campaign(**kwargs):
    trigger = {
        "type": "action",
        "event": CART,
        "properties": [{"name": "Amount", "operator": "greater_than", "value": 100}],
    }
    return live_campaign(trigger, **kwargs)


def _upload(client, headers, records, capture):
    with capture(execute=True):
        response = upload(client, headers, records)
    assert response.status_code == 200, response.content
    assert response.json()["processed"] == len(records)


def _a_minute_ago() -> datetime:
    return (timezone.now() - timedelta(minutes=1)).replace(microsecond=0)


def _past_start_of_one_day(span: timedelta) -> datetime:
    """A past moment about half an hour ago from which `span` stays within one day of the
    account's time zone (a live campaign's run is one day): just after midnight, that is
    late yesterday evening."""
    tz = ZoneInfo(account_settings_get().timezone or "UTC")
    start = (_a_minute_ago() - timedelta(minutes=30)).astimezone(tz)
    if (start + span).date() != start.date():
        start = start.replace(hour=23, minute=59, second=0) - span
    return start


# --------------------------------------------------------------------------- single action


def test_a_single_action_makes_one_waiting_row_after_the_delay_with_the_event_properties(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign(when={"delay_minutes": 30})
    jane = live_person()
    ts = _a_minute_ago()
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, ts, Amount=150, Item="Watch")],
        django_capture_on_commit_callbacks,
    )

    row = Message.objects.get(run__campaign=campaign)
    assert (row.profile_id, row.status, row.variant) == (jane.pk, MessageStatus.WAITING, "A")
    campaign.refresh_from_db()
    assert campaign.status == "running"  # its first message
    assert row.release_at == ts + timedelta(minutes=30)
    assert row.event_properties == {"Amount": 150, "Item": "Watch"}
    # The day's live run, labelled with that day's UTC midnight.
    assert row.run.scheduled_for == datetime.combine(ts.date(), datetime.min.time(), tzinfo=UTC)


def test_an_event_whose_properties_do_not_match_makes_no_row(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign()
    live_person()
    _upload(
        client,
        api_headers,
        [
            live_event("jane", CART, _a_minute_ago(), Amount=99),
            live_event("jane", "Viewed", _a_minute_ago()),
        ],
        django_capture_on_commit_callbacks,
    )
    assert not Message.objects.filter(run__campaign=campaign).exists()


def test_a_profile_outside_the_filters_or_unreachable_gets_no_row(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign()
    live_person("hans", country="DE")
    live_person("pierre", sms_unsubscribed=True)
    live_person("marie", phone="")
    live_person("jane")
    ts = _a_minute_ago()
    _upload(
        client,
        api_headers,
        [live_event(who, CART, ts, Amount=500) for who in ("hans", "pierre", "marie", "jane")],
        django_capture_on_commit_callbacks,
    )
    rows = Message.objects.filter(run__campaign=campaign)
    assert [r.profile.identity for r in rows.select_related("profile")] == ["jane"]


def test_the_per_user_limit_allows_one_message_a_day(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign(when={"per_user": {"limit": 1, "per": "day"}})
    jane = live_person()
    ts = _a_minute_ago()
    for minutes in (0, 1):
        _upload(
            client,
            api_headers,
            [live_event("jane", CART, ts - timedelta(minutes=minutes), Amount=200)],
            django_capture_on_commit_callbacks,
        )
    rows = Message.objects.filter(run__campaign=campaign, profile_id=jane.pk)
    assert rows.count() == 1 and rows.get().status == MessageStatus.WAITING


def test_the_per_user_limit_for_the_whole_campaign_skips_a_trigger_on_the_next_day(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign(when={"per_user": {"limit": 1, "per": "campaign"}})
    jane = live_person()
    today = _a_minute_ago()
    yesterday = today - timedelta(days=1)
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, yesterday, Amount=200)],
        django_capture_on_commit_callbacks,
    )
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, today, Amount=200)],
        django_capture_on_commit_callbacks,
    )
    rows = {
        r.run.scheduled_for.date(): (r.status, r.reason)
        for r in Message.objects.filter(run__campaign=campaign, profile_id=jane.pk).select_related(
            "run"
        )
    }
    assert rows == {
        yesterday.date(): (MessageStatus.WAITING, ""),
        today.date(): (MessageStatus.SKIPPED, "per_user_limit"),
    }


def test_without_a_limit_another_day_triggers_again(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign()
    today = _a_minute_ago()
    live_person()
    _upload(
        client,
        api_headers,
        [
            live_event("jane", CART, today - timedelta(days=1), Amount=200),
            live_event("jane", CART, today, Amount=200),
        ],
        django_capture_on_commit_callbacks,
    )
    statuses = Message.objects.filter(run__campaign=campaign).values_list("status", flat=True)
    assert list(statuses) == [MessageStatus.WAITING] * 2


def test_the_daily_limit_reaches_the_first_people_to_trigger(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign(limit_daily=2)
    ts = _a_minute_ago()
    for i, who in enumerate(("ann", "bob", "cat")):
        live_person(who, phone=f"+3361234567{i}")
    _upload(
        client,
        api_headers,
        [
            live_event(who, CART, ts - timedelta(seconds=i), Amount=200)
            for i, who in enumerate(("ann", "bob", "cat"))
        ],
        django_capture_on_commit_callbacks,
    )
    live_person("dan", phone="+33612345679")
    _upload(
        client,
        api_headers,
        [live_event("dan", CART, ts, Amount=200)],
        django_capture_on_commit_callbacks,
    )
    reached = Message.objects.filter(run__campaign=campaign).values_list(
        "profile__identity", flat=True
    )
    assert sorted(reached) == ["bob", "cat"]  # the two earliest; dan came after the limit


def test_the_overall_limit_counts_the_people_of_earlier_days(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign(limit_overall=3)
    ts = _a_minute_ago()
    people = ("ann", "bob", "cat", "dan")
    for i, who in enumerate(people):
        live_person(who, phone=f"+3361234567{i}")
    _upload(
        client,
        api_headers,
        [live_event(who, CART, ts - timedelta(days=1), Amount=200) for who in people[:2]],
        django_capture_on_commit_callbacks,
    )
    _upload(
        client,
        api_headers,
        [live_event(who, CART, ts, Amount=200) for who in people[2:]],
        django_capture_on_commit_callbacks,
    )
    assert Message.objects.filter(run__campaign=campaign).count() == 3


def test_a_push_trigger_goes_to_the_last_active_device_and_control_gets_nothing(
    client, api_headers, django_capture_on_commit_callbacks
):
    push = _cart_campaign(channel="push")
    control = _cart_campaign(channel="push", control_group_percent=100)
    jane = live_person()
    DeviceFactory(profile=jane, last_active=timezone.now() - timedelta(days=2))
    recent = DeviceFactory(profile=jane)
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, _a_minute_ago(), Amount=200)],
        django_capture_on_commit_callbacks,
    )
    row = Message.objects.get(run__campaign=push)
    assert (row.device_id, row.status) == (recent.pk, MessageStatus.WAITING)
    held = Message.objects.get(run__campaign=control)
    assert (held.status, held.reason, held.device_id) == (MessageStatus.CONTROL, "control", None)


def test_live_ab_content_splits_triggers_between_the_variants(
    client, api_headers, django_capture_on_commit_callbacks
):
    content = {
        "mode": "ab",
        "variants": [{"key": k, "message": {"body": k}} for k in ("A", "B")],
        "ab": {"size_kind": "percent", "size": 20, "window_hours": 2},
    }
    campaign = _cart_campaign(content=content)
    people = [live_person(f"p{i}", phone=f"+336100000{i:02d}") for i in range(40)]
    _upload(
        client,
        api_headers,
        [live_event(p.identity, CART, _a_minute_ago(), Amount=200) for p in people],
        django_capture_on_commit_callbacks,
    )
    variants = Counter(
        Message.objects.filter(run__campaign=campaign).values_list("variant", flat=True)
    )
    assert set(variants) == {"A", "B"} and sum(variants.values()) == 40


@pytest.mark.parametrize(
    "window",
    [
        {"start": wall(timezone.now() + timedelta(hours=2))},  # not started yet
        {  # already over
            "start": wall(timezone.now() - timedelta(days=3)),
            "end": wall(timezone.now() - timedelta(hours=2)),
        },
    ],
)
def test_an_event_outside_the_start_and_end_makes_no_row(
    window, client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign(when=window)
    live_person()
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, _a_minute_ago(), Amount=200)],
        django_capture_on_commit_callbacks,
    )
    assert not Message.objects.filter(run__campaign=campaign).exists()


def test_a_draft_or_stopped_live_campaign_does_not_trigger(
    client, api_headers, django_capture_on_commit_callbacks
):
    _cart_campaign(status="draft")
    _cart_campaign(status="stopped")
    live_person()
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, _a_minute_ago(), Amount=200)],
        django_capture_on_commit_callbacks,
    )
    assert not Message.objects.exists()


def test_the_index_forgets_a_stopped_campaign(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _cart_campaign()
    live_person()
    ts = _a_minute_ago()
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, ts - timedelta(days=1), Amount=200)],
        django_capture_on_commit_callbacks,
    )
    assert CART in live.live_index()
    campaign_stop(campaign=campaign)
    assert CART not in live.live_index()  # rebuilt: the stop bumped the version
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, ts, Amount=200)],
        django_capture_on_commit_callbacks,
    )
    assert Message.objects.filter(run__campaign=campaign).count() == 1  # only yesterday's


def test_a_campaign_saved_live_is_picked_up_by_the_index():
    assert live.live_index() == {}
    campaign = _cart_campaign()
    assert [m.campaign_id for m in live.live_index()[CART]] == [campaign.pk]


@pytest.fixture
def enqueued(monkeypatch) -> list:
    """The event ids the Upload API hands to the live-events task (its .delay recorded)."""
    called: list = []
    task = celery_app.tasks["delivery.live_events_stored"]
    monkeypatch.setattr(task, "delay", lambda ids: called.append(ids))
    return called


def test_an_upload_without_live_events_enqueues_nothing(
    client, api_headers, django_capture_on_commit_callbacks, enqueued
):
    _cart_campaign()
    live_person()
    events = [live_event("jane", "App Launched", _a_minute_ago())]
    _upload(client, api_headers, events, django_capture_on_commit_callbacks)
    assert enqueued == []


def test_an_upload_with_a_live_event_enqueues_only_its_id(
    client, api_headers, django_capture_on_commit_callbacks, enqueued
):
    _cart_campaign()
    live_person()
    events = [
        live_event("jane", "App Launched", _a_minute_ago()),
        live_event("jane", CART, _a_minute_ago()),
    ]
    _upload(client, api_headers, events, django_capture_on_commit_callbacks)
    assert enqueued == [[Event.objects.get(name=CART).pk]]


# --------------------------------------------------------------------------- inaction


def _abandoned_cart(**when):
    trigger = inaction_trigger(CART, BOUGHT, minutes=10)
    return live_campaign(trigger, when={"inaction_minutes": 10, **when})


def test_inaction_without_the_follow_up_is_released_when_the_window_closes(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _abandoned_cart()
    live_person()
    ts = _a_minute_ago()
    _upload(client, api_headers, [live_event("jane", CART, ts)], django_capture_on_commit_callbacks)
    row = Message.objects.get(run__campaign=campaign)
    assert (row.status, row.release_at) == (MessageStatus.WAITING, ts + timedelta(minutes=10))

    release.release_due(ts + timedelta(minutes=9))
    row.refresh_from_db()
    assert row.status == MessageStatus.WAITING
    release.release_due(ts + timedelta(minutes=10, seconds=1))
    row.refresh_from_db()
    assert row.status == MessageStatus.QUEUED  # the send batch is published on commit


def test_the_follow_up_within_the_window_cancels_the_pending_row(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _abandoned_cart()
    live_person()
    live_person("hans")
    ts = _a_minute_ago() - timedelta(minutes=5)
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, ts), live_event("hans", CART, ts)],
        django_capture_on_commit_callbacks,
    )
    _upload(
        client,
        api_headers,
        [live_event("jane", BOUGHT, ts + timedelta(minutes=4))],
        django_capture_on_commit_callbacks,
    )
    rows = {
        r.profile.identity: (r.status, r.reason)
        for r in Message.objects.filter(run__campaign=campaign).select_related("profile")
    }
    assert rows == {
        "jane": (MessageStatus.SKIPPED, "trigger_cancelled"),
        "hans": (MessageStatus.WAITING, ""),
    }


def test_a_follow_up_after_the_window_closed_cancels_nothing(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _abandoned_cart(delay_minutes=30)  # the window closed; the send is delayed
    live_person()
    ts = _a_minute_ago() - timedelta(minutes=20)
    _upload(client, api_headers, [live_event("jane", CART, ts)], django_capture_on_commit_callbacks)
    _upload(
        client,
        api_headers,
        [live_event("jane", BOUGHT, ts + timedelta(minutes=15))],
        django_capture_on_commit_callbacks,
    )
    row = Message.objects.get(run__campaign=campaign)
    assert (row.status, row.release_at) == (MessageStatus.WAITING, ts + timedelta(minutes=40))


def test_the_follow_up_in_the_same_upload_cancels_and_a_new_trigger_rearms(
    client, api_headers, django_capture_on_commit_callbacks
):
    campaign = _abandoned_cart()
    live_person()
    ts = _past_start_of_one_day(timedelta(minutes=20))
    _upload(
        client,
        api_headers,
        [live_event("jane", CART, ts), live_event("jane", BOUGHT, ts + timedelta(minutes=2))],
        django_capture_on_commit_callbacks,
    )
    row = Message.objects.get(run__campaign=campaign)
    assert (row.status, row.reason) == (MessageStatus.SKIPPED, "trigger_cancelled")

    again = ts + timedelta(minutes=20)
    _upload(
        client, api_headers, [live_event("jane", CART, again)], django_capture_on_commit_callbacks
    )
    row.refresh_from_db()
    assert (row.status, row.reason) == (MessageStatus.WAITING, "")
    assert row.release_at == again + timedelta(minutes=10)


# --------------------------------------------------------------------------- on a date/time


def _travel_reminder(direction: str = "before", amount: int = 1, start_time: str = "09:30"):
    trigger = {
        "type": "date_property",
        "event": "Flight booked",
        "property": "Departure",
        "offset": {"direction": direction, "amount": amount, "unit": "days"},
    }
    start = (timezone.now() - timedelta(days=3)).strftime("%Y-%m-%d") + "T" + start_time
    return live_campaign(
        trigger,
        when={
            "start": start,
            "date_offset": {"direction": direction, "amount": amount, "unit": "days"},
        },
    )


def test_the_date_job_picks_the_profiles_whose_date_is_due_today():
    campaign = _travel_reminder("before", 1)
    now = datetime(2030, 6, 10, 6, 0, tzinfo=UTC)
    due, later, past = live_person("due"), live_person("later"), live_person("past")
    elsewhere, broken = live_person("elsewhere", country="DE"), live_person("broken")
    EventFactory(profile=due, name="Flight booked", properties={"Departure": "2030-06-11"})
    EventFactory(profile=later, name="Flight booked", properties={"Departure": "2030-06-12"})
    EventFactory(profile=past, name="Flight booked", properties={"Departure": "2030-06-10"})
    EventFactory(profile=elsewhere, name="Flight booked", properties={"Departure": "2030-06-11"})
    EventFactory(profile=broken, name="Flight booked", properties={"Departure": "2030-06-11x"})
    EventFactory(profile=later, name="Other", properties={"Departure": "2030-06-11"})

    assert live.live_date_due(now) == 1
    row = Message.objects.get(run__campaign=campaign)
    assert row.profile_id == due.pk and row.status == MessageStatus.WAITING
    assert row.release_at == datetime(2030, 6, 10, 9, 30, tzinfo=UTC)  # the start's time
    assert row.event_properties == {"Departure": "2030-06-11"}

    assert live.live_date_due(now + timedelta(minutes=15)) == 0  # idempotent per day
    assert Message.objects.filter(run__campaign=campaign).count() == 1
    assert CampaignRun.objects.filter(campaign=campaign).count() == 1


def test_the_date_job_shifts_a_date_and_time_by_the_offset():
    campaign = _travel_reminder("after", 2)
    now = datetime(2030, 6, 10, 6, 0, tzinfo=UTC)
    back = live_person("back")
    EventFactory(
        profile=back, name="Flight booked", properties={"Departure": "2030-06-08T17:45:00Z"}
    )
    assert live.live_date_due(now) == 1
    assert Message.objects.get(run__campaign=campaign).release_at == datetime(
        2030, 6, 10, 17, 45, tzinfo=UTC
    )


def test_the_date_job_reads_clevertap_epoch_dates():
    campaign = _travel_reminder("before", 1)
    now = datetime(2030, 6, 10, 6, 0, tzinfo=UTC)
    due, later = live_person("due"), live_person("later")
    departure = int(datetime(2030, 6, 11, 8, 0, tzinfo=UTC).timestamp())
    EventFactory(profile=due, name="Flight booked", properties={"Departure": f"$D_{departure}"})
    EventFactory(
        profile=later, name="Flight booked", properties={"Departure": f"$D_{departure + 86400}"}
    )
    EventFactory(profile=later, name="Flight booked", properties={"Departure": "$D_99999999999999"})
    assert live.live_date_due(now) == 1
    row = Message.objects.get(run__campaign=campaign)
    assert (row.profile_id, row.release_at) == (due.pk, datetime(2030, 6, 10, 8, 0, tzinfo=UTC))


def test_the_date_job_ignores_stopped_campaigns():
    campaign = _travel_reminder()
    campaign_stop(campaign=campaign)
    EventFactory(
        profile=live_person(), name="Flight booked", properties={"Departure": "2030-06-11"}
    )
    assert live.live_date_due(datetime(2030, 6, 10, 6, 0, tzinfo=UTC)) == 0


# --------------------------------------------------------------------------- cost


def _cart_events(n: int, start: int) -> list[int]:
    ts = _a_minute_ago()
    people = [live_person(f"p{start + i}", phone=f"+336{start + i:08d}") for i in range(n)]
    return [
        EventFactory(profile=p, name=CART, ts=ts, properties={"Amount": 150 + i}).pk
        for i, p in enumerate(people)
    ]


def test_a_batch_costs_the_same_queries_for_ten_events_or_a_hundred(
    django_assert_max_num_queries, django_assert_num_queries
):
    _cart_campaign()
    _abandoned_cart()
    warm_up = _cart_events(1, 0)
    assert live.events_stored(warm_up) == 2  # builds the index, creates the day's runs
    few = _cart_events(10, 100)
    many = _cart_events(100, 1000)
    # The events, the campaigns, the account's zone, then per campaign: the day's run, ONE
    # INSERT … SELECT (in a savepoint) and the scheduled → running flip. The index's version
    # check reads the cache.
    with django_assert_max_num_queries(13) as first:
        assert live.events_stored(few) == 20
    with django_assert_num_queries(len(first.captured_queries)):
        assert live.events_stored(many) == 200


# --------------------------------------------------------------------------- event properties


@pytest.mark.parametrize(
    ("conditions", "properties", "expected"),
    [
        ([{"name": "Amount", "operator": "greater_than", "value": 100}], {"Amount": 101}, True),
        ([{"name": "Amount", "operator": "greater_than", "value": 100}], {"Amount": "101.5"}, True),
        ([{"name": "Amount", "operator": "greater_than", "value": 100}], {"Amount": "lots"}, False),
        ([{"name": "Amount", "operator": "greater_than", "value": 100}], {}, False),
        ([{"name": "Plan", "operator": "equals", "value": "Gold"}], {"Plan": "gold"}, False),
        ([{"name": "Plan", "operator": "equals", "value": ["Gold", "Pro"]}], {"Plan": "Pro"}, True),
        ([{"name": "Tags", "operator": "equals", "value": "a"}], {"Tags": ["b", "a"]}, True),
        ([{"name": "Plan", "operator": "not_equals", "value": "Gold"}], {}, True),
        ([{"name": "Tags", "operator": "not_equals", "value": "a"}], {"Tags": ["a", "b"]}, False),
        ([{"name": "Item", "operator": "contains", "value": "WATCH"}], {"Item": "a watch"}, True),
        ([{"name": "Item", "operator": "does_not_contain", "value": "x"}], {"Item": 5}, True),
        ([{"name": "Item", "operator": "exists", "value": None}], {"Item": None}, False),
        ([{"name": "Item", "operator": "does_not_exist", "value": None}], {"Other": 1}, True),
        ([{"name": "Paid", "operator": "equals", "value": True}], {"Paid": True}, True),
        ([{"name": "Paid", "operator": "equals", "value": True}], {"Paid": "true"}, False),
        ([{"name": "On", "operator": "between", "value": ["2026-01-01", "2026-01-31"]}],
         {"On": "2026-01-15T10:00:00"}, True),
        ([{"name": "On", "operator": "less_than", "value": "2026-01-01"}],
         {"On": "2027-01-01"}, False),
        ([{"name": "Cart|Total", "operator": "greater_than_equals", "value": 5}],
         {"Cart": [{"Total": 2}, {"Total": 5}]}, True),
        ([{"name": "Amount", "operator": "greater_than", "value": 1},
          {"name": "Plan", "operator": "equals", "value": "Gold"}], {"Amount": 2, "Plan": "Pro"},
         False),
    ],
)  # fmt: skip
def test_event_property_conditions_follow_the_segment_compiler(conditions, properties, expected):
    assert live.properties_match(conditions, properties) is expected
