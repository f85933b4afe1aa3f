"""apps/campaigns/when/: cleaning the when and delivery documents, the occurrences of a
schedule (with properties checked by hypothesis, DST included), first_occurrence,
when_problems and the overview's sentences."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.accounts.services import account_settings_get
from apps.campaigns import when as schedule
from apps.campaigns.models import Campaign, CampaignType
from apps.campaigns.when import WEEKDAYS

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday 11:00 in New York


def when_for(campaign_type, raw, *, now=NOW, tz=NEW_YORK):
    return schedule.clean_when(raw, campaign_type=campaign_type, now=now, tz=tz)


def recurring(**overrides):
    doc = {
        "every": 1,
        "unit": "days",
        "weekdays": [],
        "time": "10:00",
        "start": "2026-12-01",
        "end": {"kind": "never", "on": None, "after": None},
    }
    doc.update(overrides)
    return {"type": "recurring", "recurring": doc, "cutoff": None}


def local(moments, tz=NEW_YORK):
    return [moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M") for moment in moments]


# --- One time ------------------------------------------------------------------------------------


def test_a_date_in_the_past_is_an_error_that_names_it():
    _, errors = when_for("one_time", {"type": "at", "at": "2026-01-01T10:00"})
    assert errors == {"at": "The date 2026-01-01 10:00 is in the past."}


def test_a_date_earlier_today_in_the_account_zone_is_in_the_past_even_if_utc_is_not():
    # 10:30 in New York is 15:30 UTC: before NOW (16:00 UTC) though "10:30" < "16:00" looks fine.
    _, errors = when_for("one_time", {"type": "at", "at": "2026-11-23T10:30"})
    assert errors["at"] == "The date 2026-11-23 10:30 is in the past."
    _, errors = when_for("one_time", {"type": "at", "at": "2026-11-23T11:30"})
    assert errors == {}


def test_a_date_is_stored_as_the_wall_time_to_the_minute():
    doc, errors = when_for("one_time", {"type": "at", "at": "2026-12-01 10:00:45"})
    assert errors == {} and doc["at"] == "2026-12-01T10:00" and doc["type"] == "at"


@pytest.mark.parametrize(
    "value", ["tomorrow", "2026-13-01T10:00", "2026-12-01T25:00", "2026-12-01T10:00+02:00", 7]
)
def test_a_date_that_is_not_a_wall_time_is_refused(value):
    _, errors = when_for("one_time", {"type": "at", "at": value})
    assert errors == {"at": "Enter a date and time like 2026-12-01 10:00."}


def test_a_missing_date_asks_for_one():
    _, errors = when_for("one_time", {"type": "at", "at": ""})
    assert errors == {"at": "Enter the date and time to send."}


def test_a_one_time_campaign_must_choose_now_or_a_date():
    _, errors = when_for("one_time", {"type": "recurring"})
    assert errors["type"] == "Choose to send now or at a date and time."
    doc, errors = when_for("one_time", {"type": "now", "at": "2026-01-01T10:00"})
    assert errors == {} and doc == {
        "type": "now",
        "user_timezone": {"enabled": False, "late": "wrap"},
        "cutoff": None,
    }


def test_the_when_type_follows_the_campaign_type():
    doc, _ = when_for("recurring", {"type": "at", "recurring": recurring()["recurring"]})
    assert doc["type"] == "recurring"
    doc, _ = when_for("live_action", {"type": "now", "live": {"start": "2026-12-01T00:00"}})
    assert doc["type"] == "live"


@pytest.mark.parametrize("campaign_type", [choice for choice, _ in CampaignType.choices])
@pytest.mark.parametrize(
    "raw",
    [
        None,
        "now",
        [],
        {"type": 5},
        {"at": ["x"], "dates": "x", "recurring": [], "live": "x", "cutoff": 3},
        {"dates": [None, {}, 4], "recurring": {"every": True, "weekdays": "mon", "end": []}},
        {"live": {"start": {}, "end": [], "per_user": {"limit": {}, "per": 3}}},
        {"user_timezone": "yes", "recurring": {"end": {"kind": "after", "after": "1e9"}}},
    ],
)
def test_garbage_gives_errors_never_an_exception(campaign_type, raw):
    doc, errors = when_for(campaign_type, raw)
    assert errors and doc["type"] in schedule.when_types(campaign_type)
    assert all(isinstance(message, str) and message.endswith(".") for message in errors.values())


# --- Multiple dates ------------------------------------------------------------------------------


def test_dates_are_sorted_and_duplicates_merged():
    doc, errors = when_for(
        "multiple_dates",
        {"dates": ["2026-12-03T09:00", "", "2026-12-01T10:00", "2026-12-03 09:00"]},
    )
    assert errors == {} and doc["dates"] == ["2026-12-01T10:00", "2026-12-03T09:00"]


def test_each_bad_date_is_an_error_on_its_own_row():
    _, errors = when_for(
        "multiple_dates", {"dates": ["2026-12-01T10:00", "soon", "2025-01-01T10:00"]}
    )
    assert errors == {
        "dates.1": "Enter a date and time like 2026-12-01 10:00.",
        "dates.2": "The date 2025-01-01 10:00 is in the past.",
    }


def test_no_dates_is_an_error():
    _, errors = when_for("multiple_dates", {"dates": ["", " "]})
    assert errors == {"dates": "Add at least one date and time."}


def test_more_dates_than_allowed_are_refused():
    dates = [f"2026-12-{day:02d}T10:00" for day in range(1, schedule.MAX_DATES + 3)]
    _, errors = when_for("multiple_dates", {"dates": dates})
    assert errors == {"dates": f"At most {schedule.MAX_DATES} dates: remove 2."}
    _, errors = when_for("multiple_dates", {"dates": dates[: schedule.MAX_DATES]})
    assert errors == {}


# --- Recurring -----------------------------------------------------------------------------------


def test_a_weekly_series_needs_a_weekday_and_keeps_them_in_week_order():
    _, errors = when_for("recurring", recurring(unit="weeks", weekdays=[]))
    assert errors == {"recurring.weekdays": "Choose at least one weekday."}
    doc, errors = when_for("recurring", recurring(unit="weeks", weekdays=["thu", "xx", "mon"]))
    assert errors == {} and doc["recurring"]["weekdays"] == ["mon", "thu"]


def test_a_daily_series_drops_weekdays():
    doc, _ = when_for("recurring", recurring(unit="days", weekdays=["mon"]))
    assert doc["recurring"]["weekdays"] == []


@pytest.mark.parametrize("every", [0, 100, "x", "", -1, "2.5"])
def test_every_must_be_a_whole_number_from_1_to_99(every):
    _, errors = when_for("recurring", recurring(every=every))
    assert "recurring.every" in errors


def test_every_is_stored_as_a_number():
    doc, _ = when_for("recurring", recurring(every="3"))
    assert doc["recurring"]["every"] == 3


def test_a_start_date_in_the_past_is_an_error_but_today_is_fine():
    _, errors = when_for("recurring", recurring(start="2026-11-22"))
    assert errors == {"recurring.start": "The start date 2026-11-22 is in the past."}
    _, errors = when_for("recurring", recurring(start="2026-11-23"))
    assert errors == {}


def test_the_unit_time_and_end_kind_are_required():
    _, errors = when_for(
        "recurring", recurring(unit="months", time="25:00", end={"kind": "sometime"})
    )
    assert errors == {
        "recurring.unit": "Choose days or weeks.",
        "recurring.time": "Enter the time to send, like 10:00.",
        "recurring.end.kind": "Choose when the series ends.",
    }


def test_an_end_date_before_the_start_is_refused():
    _, errors = when_for("recurring", recurring(end={"kind": "on", "on": "2026-11-30"}))
    assert errors == {"recurring.end.on": "The end date is before the start date."}


@pytest.mark.parametrize("after", [0, 501, "", "many"])
def test_ending_after_n_sends_needs_a_count_from_1_to_500(after):
    _, errors = when_for("recurring", recurring(end={"kind": "after", "after": after}))
    assert "recurring.end.after" in errors


def test_ending_stores_only_the_chosen_kind():
    doc, _ = when_for(
        "recurring", recurring(end={"kind": "after", "after": "4", "on": "2027-01-01"})
    )
    assert doc["recurring"]["end"] == {"kind": "after", "on": None, "after": 4}


def test_a_series_that_never_sends_is_refused():
    # Weekly on Mondays from Tuesday 1 Dec to Sunday 6 Dec: no Monday in between.
    raw = recurring(unit="weeks", weekdays=["mon"], end={"kind": "on", "on": "2026-12-06"})
    _, errors = when_for("recurring", raw)
    assert errors == {
        "recurring.end.on": (
            "This series never sends: no chosen day falls between the start and the end."
        )
    }


# --- Live ----------------------------------------------------------------------------------------


def test_a_live_campaign_keeps_its_window_delay_and_per_user_limit():
    doc, errors = when_for(
        "live_action",
        {
            "live": {
                "start": "2026-12-01T00:00",
                "end": "2027-01-01T00:00",
                "delay_minutes": "15",
                "per_user": {"limit": "2", "per": "week"},
            }
        },
    )
    assert errors == {}
    assert doc["live"] == {
        "start": "2026-12-01T00:00",
        "end": "2027-01-01T00:00",
        "delay_minutes": 15,
        "per_user": {"limit": 2, "per": "week"},
    }


def test_a_live_start_in_the_past_is_allowed_it_means_right_away():
    _, errors = when_for("live_action", {"live": {"start": "2026-01-01T00:00"}})
    assert errors == {}


def test_a_live_end_must_follow_the_start():
    _, errors = when_for(
        "live_action", {"live": {"start": "2026-12-01T00:00", "end": "2026-12-01T00:00"}}
    )
    assert errors == {"live.end": "The end must be after the start."}


def test_an_inaction_campaign_needs_its_window():
    _, errors = when_for("live_inaction", {"live": {"start": "2026-12-01T00:00"}})
    assert errors == {"live.inaction_minutes": "Enter the inaction window in minutes."}
    doc, _ = when_for("live_action", {"live": {"start": "2026-12-01T00:00", "inaction_minutes": 5}})
    assert "inaction_minutes" not in doc["live"]  # only for inaction campaigns


def test_a_date_campaign_needs_its_offset_unless_on_the_date():
    raw = {"start": "2026-12-01T00:00", "date_offset": {"direction": "before", "unit": "days"}}
    _, errors = when_for("live_date", {"live": raw})
    assert "live.date_offset.amount" in errors
    raw["date_offset"] = {"direction": "on", "unit": "days"}
    doc, errors = when_for("live_date", {"live": raw})
    assert errors == {}
    assert doc["live"]["date_offset"] == {"direction": "on", "amount": 0, "unit": "days"}


def test_a_per_user_limit_needs_its_period():
    _, errors = when_for(
        "live_action", {"live": {"start": "2026-12-01T00:00", "per_user": {"limit": 1}}}
    )
    assert errors == {"live.per_user.per": "Choose per day, per week or for the whole campaign."}


def test_live_campaigns_have_no_cutoff_nor_user_timezone():
    doc, _ = when_for(
        "live_action",
        {
            "live": {"start": "2026-12-01T00:00"},
            "cutoff": "2026-12-01T22:00",
            "user_timezone": {"enabled": True, "late": "drop"},
        },
    )
    assert doc["cutoff"] is None and doc["user_timezone"]["enabled"] is False


# --- Cut-off and user time zone ------------------------------------------------------------------


def test_the_cutoff_must_be_after_the_first_send():
    raw = {"type": "at", "at": "2026-12-01T10:00", "cutoff": "2026-12-01T10:00"}
    _, errors = when_for("one_time", raw)
    assert errors == {
        "cutoff": (
            "The cut-off 2026-12-01 10:00 is not after the first send (2026-12-01 10:00): "
            "nothing would be sent."
        )
    }
    raw["cutoff"] = "2026-12-01T22:00"
    doc, errors = when_for("one_time", raw)
    assert errors == {} and doc["cutoff"] == "2026-12-01T22:00"


def test_a_cutoff_in_the_past_is_refused():
    _, errors = when_for("one_time", {"type": "now", "cutoff": "2026-11-23T10:00"})
    assert errors == {"cutoff": "The cut-off 2026-11-23 10:00 is in the past."}


def test_user_timezone_delivery_is_kept_for_wall_times_only():
    user_tz = {"enabled": "on", "late": "drop"}
    doc, _ = when_for(
        "one_time", {"type": "at", "at": "2026-12-01T10:00", "user_timezone": user_tz}
    )
    assert doc["user_timezone"] == {"enabled": True, "late": "drop"}
    doc, _ = when_for("one_time", {"type": "now", "user_timezone": user_tz})
    assert doc["user_timezone"]["enabled"] is False


# --- Delivery ------------------------------------------------------------------------------------


def test_delivery_defaults_respect_caps_and_throttle_with_dnd_off():
    doc, errors = schedule.clean_delivery({}, channel="sms")
    assert errors == {} and doc == schedule.default_delivery()


def test_dnd_windows_are_kept_per_weekday():
    windows = {"mon": {"start": "21:00", "end": "9:00"}, "sun": {"start": "22:00", "end": "08:00"}}
    doc, errors = schedule.clean_delivery(
        {"dnd": {"enabled": True, "timezone": "account", "action": "delay", "windows": windows}},
        channel="sms",
    )
    assert errors == {}
    assert doc["dnd"] == {
        "enabled": True,
        "timezone": "account",
        "action": "delay",
        "windows": {
            "mon": {"start": "21:00", "end": "09:00"},
            "sun": {"start": "22:00", "end": "08:00"},
        },
    }


def test_dnd_needs_a_day_and_windows_that_end_at_another_time():
    _, errors = schedule.clean_delivery({"dnd": {"enabled": True, "windows": {}}}, channel="sms")
    assert errors == {"dnd.windows": "Choose at least one day for Do Not Disturb."}
    _, errors = schedule.clean_delivery(
        {"dnd": {"enabled": True, "windows": {"tue": {"start": "21:00", "end": "21:00"}}}},
        channel="sms",
    )
    assert errors == {"dnd.windows.tue.end": "DND must end at another time than it starts."}
    _, errors = schedule.clean_delivery(
        {"dnd": {"enabled": True, "windows": {"tue": {"start": "late", "end": ""}}}},
        channel="sms",
    )
    assert set(errors) == {"dnd.windows.tue.start", "dnd.windows.tue.end"}


def test_dnd_switched_off_forgets_its_windows():
    doc, errors = schedule.clean_delivery(
        {"dnd": {"enabled": False, "windows": {"tue": {"start": "bad"}}}}, channel="sms"
    )
    assert errors == {} and doc["dnd"]["windows"] == {}


def test_overriding_caps_and_throttle_is_kept():
    doc, _ = schedule.clean_delivery(
        {
            "respect_frequency_caps": False,
            "respect_throttle": "false",
            "throttle_per_minute": "500",
        },
        channel="email",
    )
    assert doc["respect_frequency_caps"] is False and doc["respect_throttle"] is False
    assert doc["throttle_per_minute"] == 500


@pytest.mark.parametrize("value", [0, 1_000_001, "fast"])
def test_a_throttle_rate_must_be_a_sensible_whole_number(value):
    _, errors = schedule.clean_delivery({"throttle_per_minute": value}, channel="sms")
    assert "throttle_per_minute" in errors


def test_push_time_to_live_is_for_push_only_and_at_most_28_days():
    doc, errors = schedule.clean_delivery({"push_ttl_hours": "48"}, channel="push")
    assert errors == {} and doc["push_ttl_hours"] == 48
    _, errors = schedule.clean_delivery({"push_ttl_hours": "673"}, channel="push")
    assert "push_ttl_hours" in errors
    doc, errors = schedule.clean_delivery({"push_ttl_hours": "48"}, channel="sms")
    assert errors == {} and doc["push_ttl_hours"] is None


@pytest.mark.parametrize(
    "raw", [None, "x", [], {"dnd": "on"}, {"dnd": {"enabled": 1, "windows": []}}]
)
def test_garbage_delivery_gives_errors_or_defaults_never_an_exception(raw):
    doc, errors = schedule.clean_delivery(raw, channel="push")
    assert set(doc) == set(schedule.default_delivery())
    assert all(isinstance(message, str) for message in errors.values())


# --- Occurrences ---------------------------------------------------------------------------------


def test_a_weekly_series_fires_on_the_chosen_days_every_other_week_until_n():
    when, _ = when_for(
        "recurring",
        recurring(
            unit="weeks", every=2, weekdays=["mon", "thu"], end={"kind": "after", "after": 5}
        ),
    )
    found = list(schedule.occurrences(when, start=NOW, tz=NEW_YORK))
    assert local(found) == [
        "Thu 2026-12-03 10:00",
        "Mon 2026-12-14 10:00",
        "Thu 2026-12-17 10:00",
        "Mon 2026-12-28 10:00",
        "Thu 2026-12-31 10:00",
    ]


def test_a_daily_series_keeps_its_local_time_across_the_dst_change():
    when = recurring(start="2027-03-12", end={"kind": "on", "on": "2027-03-16"})["recurring"]
    found = list(
        schedule.occurrences({"type": "recurring", "recurring": when}, start=NOW, tz=NEW_YORK)
    )
    assert local(found) == [
        f"{day} 2027-03-{n} 10:00"
        for day, n in [("Fri", 12), ("Sat", 13), ("Sun", 14), ("Mon", 15), ("Tue", 16)]
    ]
    # 10:00 EST is 15:00 UTC; after the change on 14 March it is 10:00 EDT, 14:00 UTC.
    assert [moment.hour for moment in found] == [15, 15, 14, 14, 14]


def test_a_time_in_the_spring_forward_gap_fires_an_hour_later_not_earlier_nor_never():
    when = recurring(start="2027-03-13", time="02:30", end={"kind": "after", "after": 3})
    found = list(schedule.occurrences(when, start=NOW, tz=NEW_YORK))
    assert local(found) == ["Sat 2027-03-13 02:30", "Sun 2027-03-14 03:30", "Mon 2027-03-15 02:30"]


def test_sends_before_the_campaign_was_created_never_happen_nor_count():
    when = recurring(start="2026-12-01", end={"kind": "after", "after": 2})
    created = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # after the 1st and 2nd at 10:00 NY
    found = list(schedule.occurrences(when, start=NOW, tz=NEW_YORK, not_before=created))
    assert local(found) == ["Thu 2026-12-03 10:00", "Fri 2026-12-04 10:00"]


def test_the_window_and_the_cutoff_bound_the_occurrences():
    when = {**recurring(start="2026-12-01"), "cutoff": "2026-12-04T09:00"}
    found = list(schedule.occurrences(when, start=datetime(2026, 12, 2, tzinfo=UTC), tz=NEW_YORK))
    assert local(found) == ["Wed 2026-12-02 10:00", "Thu 2026-12-03 10:00"]
    bounded = list(
        schedule.occurrences(
            recurring(), start=NOW, end=datetime(2026, 12, 3, 15, 0, tzinfo=UTC), tz=NEW_YORK
        )
    )
    assert local(bounded) == ["Tue 2026-12-01 10:00", "Wed 2026-12-02 10:00"]


def test_dates_occur_in_order_in_the_account_zone():
    when = {"type": "dates", "dates": ["2026-12-02T10:00", "2026-12-01T18:30"]}
    found = list(schedule.occurrences(when, start=NOW, tz=PARIS))
    assert found == [
        datetime(2026, 12, 1, 17, 30, tzinfo=UTC),
        datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    ]


ZONES = ["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]


@st.composite
def series(draw):
    unit = draw(st.sampled_from(["days", "weeks"]))
    weekdays = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    start = draw(st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)))
    at = draw(st.times()).replace(second=0, microsecond=0)
    end_kind = draw(st.sampled_from(["never", "on", "after"]))
    end = {"kind": end_kind, "on": None, "after": None}
    if end_kind == "on":
        end["on"] = (start + timedelta(days=draw(st.integers(0, 400)))).isoformat()
    if end_kind == "after":
        end["after"] = draw(st.integers(1, 40))
    doc = {
        "every": draw(st.integers(1, 5)),
        "unit": unit,
        "weekdays": [day for day in WEEKDAYS if day in weekdays] if unit == "weeks" else [],
        "time": at.strftime("%H:%M"),
        "start": start.isoformat(),
        "end": end,
    }
    created = datetime.combine(start, time(0), tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(-3 * 24 * 60, 30 * 24 * 60))
    )
    return doc, created, ZoneInfo(draw(st.sampled_from(ZONES)))


def _is_chosen_day(doc, start, day):
    if doc["unit"] == "days":
        return (day - start).days % doc["every"] == 0
    # Weeks are counted from the Monday of the start's week.
    weeks = (day - timedelta(days=day.weekday())) - (start - timedelta(days=start.weekday()))
    return WEEKDAYS[day.weekday()] in doc["weekdays"] and (weeks.days // 7) % doc["every"] == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series())
def test_every_occurrence_is_a_chosen_day_at_the_chosen_local_time(drawn):
    doc, created, tz = drawn
    when = {"type": "recurring", "recurring": doc}
    found = []
    for moment in schedule.occurrences(
        when, start=created - timedelta(days=5), tz=tz, not_before=created
    ):
        found.append(moment)
        if len(found) == 60:
            break
    start = date.fromisoformat(doc["start"])
    at = time.fromisoformat(doc["time"])
    assert found == sorted(set(found))  # strictly increasing
    for moment in found:
        assert moment.tzinfo is not None and moment >= created  # never before creation
        wall = moment.astimezone(tz).replace(tzinfo=None)
        asked = datetime.combine(wall.date(), at)
        if wall != asked:
            # Only a wall time that does not exist (the DST gap) moves, and only later.
            round_trip = asked.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)
            assert round_trip.replace(tzinfo=None) != asked and wall > asked
            assert wall.date() == asked.date() or wall - asked < timedelta(hours=3)
        day = asked.date()
        assert day >= start and _is_chosen_day(doc, start, day)
        if doc["end"]["kind"] == "on":
            assert day <= date.fromisoformat(doc["end"]["on"])
    if doc["end"]["kind"] == "after":
        assert len(found) == min(doc["end"]["after"], 60)
    # Nothing skipped: every chosen day from the start up to the last one found is there.
    if found:
        last = found[-1].astimezone(tz).date()
        expected = [
            schedule.to_utc(datetime.combine(start + timedelta(days=n), at), tz)
            for n in range((last - start).days + 1)
            if _is_chosen_day(doc, start, start + timedelta(days=n))
        ]
        assert [moment for moment in expected if moment >= created] == found


# --- first_occurrence and when_problems (the account's zone comes from the database) -------------


@pytest.fixture
def new_york(db):
    account = account_settings_get()
    account.timezone = "America/New_York"
    account.save()
    return account


def campaign_with(campaign_type, when, **fields):
    return Campaign(name="x", channel="push", campaign_type=campaign_type, when=when, **fields)


def test_now_occurs_now_unless_its_cutoff_passed(new_york):
    campaign = campaign_with("one_time", {"type": "now", "cutoff": None})
    assert schedule.first_occurrence(campaign, now=NOW) == NOW
    campaign.when["cutoff"] = "2026-11-23T10:00"
    assert schedule.first_occurrence(campaign, now=NOW) is None


def test_a_date_occurs_in_the_account_zone_and_not_once_it_passed(new_york):
    campaign = campaign_with("one_time", {"type": "at", "at": "2026-12-01T10:00"})
    assert schedule.first_occurrence(campaign, now=NOW) == datetime(2026, 12, 1, 15, tzinfo=UTC)
    later = datetime(2026, 12, 1, 15, 1, tzinfo=UTC)
    assert schedule.first_occurrence(campaign, now=later) is None


def test_the_first_of_several_dates_is_the_next_one_left(new_york):
    campaign = campaign_with(
        "multiple_dates", {"type": "dates", "dates": ["2026-12-01T10:00", "2026-12-05T10:00"]}
    )
    assert schedule.first_occurrence(campaign, now=datetime(2026, 12, 2, tzinfo=UTC)) == datetime(
        2026, 12, 5, 15, tzinfo=UTC
    )


def test_a_live_campaign_starts_at_its_start_or_now_and_not_after_its_end(new_york):
    live = {"start": "2026-12-01T00:00", "end": "2027-01-01T00:00", "delay_minutes": 0}
    campaign = campaign_with("live_action", {"type": "live", "live": live})
    assert schedule.first_occurrence(campaign, now=NOW) == datetime(2026, 12, 1, 5, tzinfo=UTC)
    december = datetime(2026, 12, 10, tzinfo=UTC)
    assert schedule.first_occurrence(campaign, now=december) == december
    assert schedule.first_occurrence(campaign, now=datetime(2027, 2, 1, tzinfo=UTC)) is None


def test_a_recurring_campaign_counts_from_its_creation(new_york):
    campaign = campaign_with(
        "recurring",
        recurring(end={"kind": "after", "after": 2}),
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert schedule.first_occurrence(campaign, now=NOW) == datetime(2026, 12, 1, 15, tzinfo=UTC)
    after_two = datetime(2026, 12, 2, 16, tzinfo=UTC)
    assert schedule.first_occurrence(campaign, now=after_two) is None


def test_no_when_has_no_occurrence_and_asks_for_one(new_york):
    campaign = campaign_with("one_time", {})
    assert schedule.first_occurrence(campaign, now=NOW) is None
    assert schedule.when_problems(campaign, now=NOW) == ["Choose when to send (When step)."]


def test_a_draft_left_until_its_date_passed_has_a_problem(new_york):
    campaign = campaign_with("one_time", {"type": "at", "at": "2026-12-01T10:00"})
    assert schedule.when_problems(campaign, now=NOW) == []
    later = datetime(2026, 12, 2, tzinfo=UTC)
    assert schedule.when_problems(campaign, now=later) == [
        "The date 2026-12-01 10:00 is in the past."
    ]


def test_a_when_saved_for_another_campaign_type_must_be_chosen_again(new_york):
    campaign = campaign_with("recurring", {"type": "at", "at": "2026-12-01T10:00"})
    assert schedule.when_problems(campaign, now=NOW) == [
        "The When was set for another campaign type: choose it again for this recurring campaign."
    ]


def test_a_series_with_no_send_left_has_a_problem(new_york):
    campaign = campaign_with(
        "recurring",
        recurring(start="2026-11-23", end={"kind": "on", "on": "2026-11-23"}),
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    # 10:00 New York on the 23rd went by at 15:00 UTC; NOW is 16:00 UTC.
    assert schedule.when_problems(campaign, now=NOW) == [
        "This series never sends: no chosen day falls between the start and the end."
    ]


def test_a_dates_campaign_cut_off_before_its_next_date_has_no_send_left(new_york):
    campaign = campaign_with(
        "multiple_dates",
        {
            "type": "dates",
            "dates": ["2026-11-23T10:00", "2026-12-05T10:00"],
            "cutoff": "2026-12-01T00:00",
        },
    )
    problems = schedule.when_problems(campaign, now=NOW)
    assert "The date 2026-11-23 10:00 is in the past." in problems


# --- Sentences -----------------------------------------------------------------------------------


def test_a_recurring_series_reads_as_a_sentence():
    when, _ = when_for(
        "recurring",
        recurring(
            unit="weeks", every=2, weekdays=["mon", "thu"], end={"kind": "after", "after": 10}
        ),
    )
    assert schedule.describe_recurring(when["recurring"]) == (
        "Every 2 weeks on Mon, Thu at 10:00 from 1 Dec 2026, 10 times"
    )
    assert (
        schedule.describe_recurring(recurring(end={"kind": "on", "on": "2027-01-31"})["recurring"])
        == "Every day at 10:00 from 1 Dec 2026 until 31 Jan 2027"
    )


def test_dnd_reads_with_day_ranges():
    windows = {day: {"start": "21:00", "end": "09:00"} for day in WEEKDAYS[:5]}
    windows["sun"] = {"start": "22:00", "end": "10:00"}
    text = schedule.describe_dnd(
        {"enabled": True, "timezone": "user", "action": "delay", "windows": windows}
    )
    assert (
        text == "DND 21:00\u201309:00 Mon\u2013Fri; 22:00\u201310:00 Sun, user's timezone, delayed"
    )
    assert schedule.describe_dnd({"enabled": False}) == "Off"


def test_the_when_rows_name_the_zone_and_the_cutoff():
    rows = schedule.describe_when(
        {
            "type": "at",
            "at": "2026-12-01T10:00",
            "user_timezone": {"enabled": True, "late": "drop"},
            "cutoff": "2026-12-01T22:00",
        },
        tz_name="Europe/Paris",
    )
    assert rows == [
        ("When", "Once, on 1 Dec 2026 at 10:00"),
        ("Time zone", "Each user's own (late ones dropped)"),
        ("Cut-off", "Nothing is sent after 1 Dec 2026 22:00"),
    ]


# --- Every remaining rule, one by one ------------------------------------------------------------


def test_a_live_start_is_required_and_must_be_a_wall_time():
    _, errors = when_for("live_action", {"live": {}})
    assert errors == {"live.start": "Enter when the campaign starts."}
    _, errors = when_for("live_action", {"live": {"start": "soon"}})
    assert errors == {"live.start": "Enter the start as a date and time like 2026-12-01 00:00."}
    _, errors = when_for("live_action", {"live": {"start": "2026-12-01T00:00", "end": "x"}})
    assert errors == {"live.end": "Enter the end as a date and time like 2027-01-01 00:00."}


@pytest.mark.parametrize("delay", [-1, schedule.MAX_MINUTES + 1, "soon"])
def test_a_live_delay_is_from_0_to_30_days_of_minutes(delay):
    _, errors = when_for(
        "live_action", {"live": {"start": "2026-12-01T00:00", "delay_minutes": delay}}
    )
    assert "live.delay_minutes" in errors


def test_a_missing_live_delay_means_none():
    doc, errors = when_for("live_action", {"live": {"start": "2026-12-01T00:00"}})
    assert errors == {} and doc["live"]["delay_minutes"] == 0


@pytest.mark.parametrize("limit", [0, schedule.MAX_PER_USER + 1, "once"])
def test_a_per_user_limit_is_a_sensible_whole_number(limit):
    _, errors = when_for(
        "live_action",
        {"live": {"start": "2026-12-01T00:00", "per_user": {"limit": limit, "per": "day"}}},
    )
    assert "live.per_user.limit" in errors


def test_a_date_offset_needs_a_known_direction_and_unit():
    _, errors = when_for(
        "live_date",
        {
            "live": {
                "start": "2026-12-01T00:00",
                "date_offset": {"direction": "around", "amount": 1, "unit": "weeks"},
            }
        },
    )
    assert errors == {
        "live.date_offset.direction": "Choose before, after or on the date.",
        "live.date_offset.unit": "Choose minutes, hours or days.",
    }


def test_a_date_offset_in_days_is_at_most_30_days():
    offset = {"direction": "after", "amount": 31, "unit": "days"}
    _, errors = when_for(
        "live_date", {"live": {"start": "2026-12-01T00:00", "date_offset": offset}}
    )
    assert "live.date_offset.amount" in errors
    offset["amount"] = 30
    _, errors = when_for(
        "live_date", {"live": {"start": "2026-12-01T00:00", "date_offset": offset}}
    )
    assert errors == {}


def test_a_cutoff_that_is_not_a_wall_time_is_refused():
    _, errors = when_for("one_time", {"type": "now", "cutoff": "tonight"})
    assert errors == {"cutoff": "Enter the cut-off as a date and time like 2026-12-01 22:00."}


def test_a_recurring_time_and_start_are_required_and_must_parse():
    _, errors = when_for("recurring", recurring(time="", start=""))
    assert errors == {
        "recurring.time": "Enter the time to send.",
        "recurring.start": "Enter the start date.",
    }
    _, errors = when_for("recurring", recurring(start="01/12/2026"))
    assert errors == {"recurring.start": "Enter the start date like 2026-12-01."}


def test_an_unknown_late_choice_falls_back_to_the_next_day():
    doc, _ = when_for(
        "one_time",
        {"type": "at", "at": "2026-12-01T10:00", "user_timezone": {"enabled": True, "late": "x"}},
    )
    assert doc["user_timezone"] == {"enabled": True, "late": "wrap"}


def test_dnd_unknown_zone_and_action_fall_back_to_the_user_and_discarding():
    doc, _ = schedule.clean_delivery(
        {"dnd": {"enabled": False, "timezone": "mars", "action": "shout"}}, channel="sms"
    )
    assert doc["dnd"]["timezone"] == "user" and doc["dnd"]["action"] == "discard"


def test_a_series_without_a_creation_time_counts_from_its_start(new_york):
    campaign = campaign_with("recurring", recurring(end={"kind": "after", "after": 1}))
    assert campaign.created_at is None
    assert schedule.first_occurrence(campaign, now=NOW) == datetime(2026, 12, 1, 15, tzinfo=UTC)


# --- Do-Not-Disturb release ----------------------------------------------------------------------


def _dnd(**windows):
    return {"dnd": {"enabled": True, "timezone": "user", "action": "delay", "windows": windows}}


NIGHT = {"start": "21:00", "end": "09:00"}


def ny(*args):
    return datetime(*args, tzinfo=NEW_YORK)


def test_a_message_in_an_overnight_window_is_released_the_next_morning():
    delivery = _dnd(mon=NIGHT)
    # Monday 23 Nov 2026, 22:00 New York -> Tuesday 09:00 New York.
    assert schedule.dnd_release_at(delivery, ny(2026, 11, 23, 22), NEW_YORK) == ny(2026, 11, 24, 9)
    # Tuesday 02:00 is still in Monday's window.
    assert schedule.dnd_release_at(delivery, ny(2026, 11, 24, 2), NEW_YORK) == ny(2026, 11, 24, 9)


def test_outside_the_windows_a_message_is_not_held():
    delivery = _dnd(mon=NIGHT)
    assert schedule.dnd_release_at(delivery, ny(2026, 11, 23, 20, 59), NEW_YORK) is None
    assert schedule.dnd_release_at(delivery, ny(2026, 11, 24, 9), NEW_YORK) is None
    # Tuesday night has no window of its own.
    assert schedule.dnd_release_at(delivery, ny(2026, 11, 24, 22), NEW_YORK) is None
    off = {"dnd": {**delivery["dnd"], "enabled": False}}
    assert schedule.dnd_release_at(off, ny(2026, 11, 23, 22), NEW_YORK) is None


def test_a_daytime_window_and_back_to_back_windows():
    lunch = _dnd(wed={"start": "12:00", "end": "14:00"})
    assert schedule.dnd_release_at(lunch, ny(2026, 11, 25, 13), NEW_YORK) == ny(2026, 11, 25, 14)
    chained = _dnd(mon=NIGHT, tue={"start": "09:00", "end": "12:00"})
    assert schedule.dnd_release_at(chained, ny(2026, 11, 23, 23), NEW_YORK) == ny(2026, 11, 24, 12)


def test_the_windows_are_read_in_the_zone_given():
    delivery = _dnd(mon=NIGHT)
    moment = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # Tue 05:00 New York, 11:00 Paris
    assert schedule.dnd_release_at(delivery, moment, NEW_YORK) == ny(2026, 11, 24, 9)
    assert schedule.dnd_release_at(delivery, moment, PARIS) is None


def test_a_window_across_the_dst_change_ends_at_the_local_time():
    delivery = _dnd(sat=NIGHT)
    # Saturday 13 March 2027 22:00 EST -> Sunday 09:00 EDT (13:00 UTC), an hour shorter.
    released = schedule.dnd_release_at(delivery, ny(2027, 3, 13, 22), NEW_YORK)
    assert released == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)


# --- A series that started while it was a draft ---------------------------------------------------


def test_a_series_whose_start_went_by_without_a_send_due_can_still_be_scheduled(new_york):
    # Weekly on Fridays from Monday 23 Nov; checked on Wednesday: no Friday went by.
    campaign = campaign_with(
        "recurring",
        recurring(unit="weeks", weekdays=["fri"], start="2026-11-23"),
        created_at=datetime(2026, 11, 22, tzinfo=UTC),
    )
    wednesday = datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert schedule.when_problems(campaign, now=wednesday) == []
    assert schedule.first_occurrence(campaign, now=wednesday) == datetime(
        2026, 11, 27, 15, tzinfo=UTC
    )


def test_a_series_that_missed_a_send_while_a_draft_has_a_problem(new_york):
    campaign = campaign_with(
        "recurring",
        recurring(start="2026-11-23"),
        created_at=datetime(2026, 11, 22, tzinfo=UTC),
    )
    wednesday = datetime(2026, 11, 25, 16, tzinfo=UTC)
    assert schedule.when_problems(campaign, now=wednesday) == [
        "The series should already have sent on 23 Nov 2026 at 10:00: "
        "move its start to today or later (When)."
    ]


def _in_a_window(windows, moment, tz):
    """Brute force: is `moment` inside any window, reading each one day by day."""
    local_day = moment.astimezone(tz).date()
    for day in (local_day - timedelta(days=1), local_day):
        window = windows.get(WEEKDAYS[day.weekday()])
        if not window:
            continue
        start, end = time.fromisoformat(window["start"]), time.fromisoformat(window["end"])
        opens = schedule.to_utc(datetime.combine(day, start), tz)
        closes = schedule.to_utc(
            datetime.combine(day if end > start else day + timedelta(days=1), end), tz
        )
        if opens <= moment < closes:
            return True
    return False


quarter_hours = st.integers(0, 95).map(lambda n: f"{n // 4:02d}:{n % 4 * 15:02d}")


@st.composite
def dnd_cases(draw):
    windows = {}
    for day in draw(st.lists(st.sampled_from(WEEKDAYS), unique=True, max_size=7)):
        start, end = draw(quarter_hours), draw(quarter_hours)
        if start != end:
            windows[day] = {"start": start, "end": end}
    moment = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(
        minutes=draw(st.integers(0, 365 * 24 * 60))
    )
    return windows, moment, ZoneInfo(draw(st.sampled_from(ZONES)))


@settings(max_examples=300, deadline=None)
@given(dnd_cases())
def test_dnd_holds_exactly_the_moments_in_a_window_and_releases_outside_them(case):
    windows, moment, tz = case
    released = schedule.dnd_release_at(_dnd(**windows), moment, tz)
    if released is None:
        assert not _in_a_window(windows, moment, tz)
    else:
        assert _in_a_window(windows, moment, tz)
        assert released > moment and not _in_a_window(windows, released, tz)


# --- Delivery in the user's time zone ------------------------------------------------------------


def test_users_get_the_run_at_the_same_wall_time_in_their_zone():
    when = {"user_timezone": {"enabled": True, "late": "wrap"}}
    run_at = ny(2026, 12, 1, 10)  # 15:00 UTC
    # Los Angeles is behind: 10:00 there is still to come.
    la = ZoneInfo("America/Los_Angeles")
    assert schedule.user_send_at(when, run_at, account_tz=NEW_YORK, user_tz=la) == datetime(
        2026, 12, 1, 10, tzinfo=la
    )
    # Paris is ahead: 10:00 there went by, so the next day's 10:00 ("wrap").
    assert schedule.user_send_at(when, run_at, account_tz=NEW_YORK, user_tz=PARIS) == datetime(
        2026, 12, 2, 10, tzinfo=PARIS
    )


def test_late_users_are_dropped_when_asked_and_plain_runs_are_unchanged():
    run_at = ny(2026, 12, 1, 10)
    drop = {"user_timezone": {"enabled": True, "late": "drop"}}
    assert schedule.user_send_at(drop, run_at, account_tz=NEW_YORK, user_tz=PARIS) is None
    plain = {"user_timezone": {"enabled": False, "late": "wrap"}}
    assert schedule.user_send_at(plain, run_at, account_tz=NEW_YORK, user_tz=PARIS) == run_at
