"""Every schedule kind the wizard offers, driven by a frozen clock (time-machine) and beat's
own entry point: campaigns are scheduled the way the overview's Schedule button does it
(campaign_schedule, no `now`), then `tasks.tick` — the task function beat calls, without a
`now` — runs while the clock is moved hour by hour. The run task and its send batches run in
this process at the frozen instant (eager Celery) and send through the provider sandbox, so
every occurrence is seen from the tick that starts it to the messages that arrive.

The When step offers: now, one date, several dates, and a recurring series every N days or
every N weeks on chosen weekdays, ending never, on a date or after N sends
(apps/campaigns/when/). There is no monthly series to test.

Beat ticks here at five seconds past every hour, so "started by the first tick after it was
due" reads as `started_at == scheduled_for + 5 s`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from apps.accounts.models import AccountSettings
from apps.accounts.services import account_settings_get
from apps.campaigns.models import Campaign, CampaignStatus, WizardStep
from apps.campaigns.services import campaign_schedule
from apps.delivery import tasks
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus
from tests.campaigns.factories import CampaignFactory, recurring_when, sms_content
from tests.delivery.factories import AUDIENCE, people
from tests.providers.factories import sandbox_twilio

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TICK_PAST_THE_HOUR = timedelta(seconds=5)
MON = date(2030, 3, 4)  # a Monday; the campaigns are created on the Friday before
CREATED = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


def at(day: date, hour: int, minute: int = 0, tz: tzinfo = UTC) -> datetime:
    """An account wall time as the aware UTC instant the engine stores."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)


class Beat:
    """Celery beat for this test: the delivery.tick task function called as beat calls it,
    with the clock moved by time-machine between calls."""

    def __init__(self, clock: time_machine.Traveller, capture_on_commit) -> None:
        self.clock = clock
        self._capture = capture_on_commit

    def tick(self) -> int:
        # The run task is published on commit; capturing runs it (eagerly) at this instant.
        with self._capture(execute=True):
            return tasks.tick()

    def tick_at(self, moment: datetime) -> int:
        self.clock.move_to(moment)
        return self.tick()

    def hourly_until(self, last: datetime) -> None:
        """Tick at 5 s past every hour from the one after the clock's time up to `last`."""
        now = datetime.now(UTC)
        moment = now.replace(minute=0, second=0, microsecond=0) + TICK_PAST_THE_HOUR
        if moment <= now:
            moment += timedelta(hours=1)
        while moment <= last:
            self.tick_at(moment)
            moment += timedelta(hours=1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # run progress and circuit breakers share this run's Redis db
    yield
    cache.clear()


@pytest.fixture
def sandbox_provider(provider_sandbox):
    return sandbox_twilio(provider_sandbox, "clock")


@pytest.fixture
def start_beat(eager_celery_tasks, django_capture_on_commit_callbacks):
    """Freeze the clock at a moment and hand back the beat that ticks under it."""
    travels: list[time_machine.travel] = []

    def start(moment: datetime) -> Beat:
        travel = time_machine.travel(moment, tick=False)
        travels.append(travel)
        return Beat(travel.start(), django_capture_on_commit_callbacks)

    yield start
    for travel in travels:
        travel.stop()


def scheduled_campaign(provider, campaign_type: str, when: dict) -> Campaign:
    """An SMS draft every wizard step accepts, scheduled as the overview's button does it
    (at the frozen clock's time: created_at and scheduled_at are "now")."""
    campaign = CampaignFactory(
        channel="sms",
        campaign_type=campaign_type,
        provider=provider,
        audience_definition=AUDIENCE,
        content=sms_content("Hello {{ Profile.Name }}"),
        when={"user_timezone": {"enabled": False, "late": "wrap"}, "cutoff": None, **when},
        wizard_step=WizardStep.TEST,
    )
    assert campaign.status == CampaignStatus.DRAFT
    return campaign_schedule(campaign=campaign)


def recurring(**series) -> dict:
    return recurring_when(series.pop("start", MON.isoformat()), **series)


def runs_of(campaign: Campaign) -> list[CampaignRun]:
    return list(CampaignRun.objects.filter(campaign=campaign).order_by("scheduled_for"))


def status_of(campaign: Campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def assert_each_occurrence_sent_once(
    campaign: Campaign, occurrences: list[datetime], recipients: list, sandbox, *, late=None
) -> None:
    """One completed run per occurrence, started by the first tick after it (or at the
    `late` start given for it), each recipient sent exactly one message per run at that
    tick, and the sandbox inbox holding exactly those messages."""
    late = late or {}
    runs = runs_of(campaign)
    assert [run.scheduled_for for run in runs] == occurrences
    for run in runs:
        started = late.get(run.scheduled_for, run.scheduled_for + TICK_PAST_THE_HOUR)
        assert (run.status, run.started_at) == (RunStatus.COMPLETED, started)
        sent = Message.objects.filter(run=run)
        assert sorted(sent.values_list("profile_id", "status", "sent_at")) == sorted(
            (person.pk, MessageStatus.SENT, started) for person in recipients
        )
    delivered = sandbox.client.messages(limit=1000)
    assert Counter(d["recipient"] for d in delivered) == {
        person.phone: len(occurrences) for person in recipients
    }


# --- now and one date ----------------------------------------------------------------------------


def test_now_is_sent_by_the_first_tick_after_schedule_and_never_again(
    start_beat, sandbox_provider, provider_sandbox
):
    beat = start_beat(CREATED)
    recipients = people(2)
    draft = CampaignFactory(
        channel="sms",
        provider=sandbox_provider,
        audience_definition=AUDIENCE,
        content=sms_content(),
        when={"type": "now"},
        wizard_step=WizardStep.TEST,
    )
    assert beat.tick() == 0  # a draft is never started

    beat.clock.shift(timedelta(minutes=3))
    campaign = campaign_schedule(campaign=draft)
    assert campaign.next_run_at == CREATED + timedelta(minutes=3)
    beat.clock.shift(timedelta(seconds=5))
    assert beat.tick() == 1
    assert status_of(campaign) == CampaignStatus.COMPLETED
    beat.hourly_until(CREATED + timedelta(days=2))

    assert_each_occurrence_sent_once(
        campaign,
        [CREATED + timedelta(minutes=3)],
        recipients,
        provider_sandbox,
        late={CREATED + timedelta(minutes=3): CREATED + timedelta(minutes=3, seconds=5)},
    )
    assert campaign.next_run_at is None


def test_a_date_is_not_sent_before_it_is_due_and_is_sent_once_when_it_is(
    start_beat, sandbox_provider, provider_sandbox
):
    beat = start_beat(CREATED)
    recipients = people(3)
    campaign = scheduled_campaign(
        sandbox_provider, "one_time", {"type": "at", "at": "2030-03-04T10:00"}
    )
    due = at(MON, 10)
    assert (campaign.status, campaign.next_run_at) == (CampaignStatus.SCHEDULED, due)

    beat.hourly_until(due - timedelta(minutes=1))
    assert beat.tick_at(due - timedelta(seconds=1)) == 0
    assert not runs_of(campaign)
    assert status_of(campaign) == CampaignStatus.SCHEDULED
    assert provider_sandbox.client.messages() == []

    beat.hourly_until(due + timedelta(days=2))
    assert_each_occurrence_sent_once(campaign, [due], recipients, provider_sandbox)
    assert status_of(campaign) == CampaignStatus.COMPLETED
    assert campaign.next_run_at is None


# --- several dates -------------------------------------------------------------------------------

DATES = ["2030-03-06T10:00", "2030-03-04T10:00", "2030-03-09T08:30"]  # stored in any order


def test_several_dates_each_run_once_at_their_time_and_the_campaign_ends_after_the_last(
    start_beat, sandbox_provider, provider_sandbox
):
    beat = start_beat(CREATED)
    recipients = people(2)
    campaign = scheduled_campaign(
        sandbox_provider, "multiple_dates", {"type": "dates", "dates": DATES}
    )
    first, second, third = at(MON, 10), at(date(2030, 3, 6), 10), at(date(2030, 3, 9), 8, 30)
    assert campaign.next_run_at == first

    beat.hourly_until(second - timedelta(minutes=1))
    assert [run.scheduled_for for run in runs_of(campaign)] == [first]
    assert (status_of(campaign), campaign.next_run_at) == (CampaignStatus.RUNNING, second)

    # 08:30 falls between two hourly ticks: the 09:00:05 tick starts it.
    beat.hourly_until(third - timedelta(minutes=1))
    assert beat.tick_at(third - timedelta(seconds=1)) == 0
    assert len(runs_of(campaign)) == 2
    beat.hourly_until(third + timedelta(days=1))

    assert_each_occurrence_sent_once(
        campaign,
        [first, second, third],
        recipients,
        provider_sandbox,
        late={third: at(date(2030, 3, 9), 9) + TICK_PAST_THE_HOUR},
    )
    assert (status_of(campaign), campaign.next_run_at) == (CampaignStatus.COMPLETED, None)


def test_dates_missed_while_beat_was_down_are_not_sent_in_a_burst(
    start_beat, sandbox_provider, provider_sandbox
):
    """runs.py: the occurrence that was due runs once, late; the next one is looked for
    from now, so the dates that went by meanwhile are skipped."""
    beat = start_beat(CREATED)
    recipients = people(2)
    campaign = scheduled_campaign(
        sandbox_provider, "multiple_dates", {"type": "dates", "dates": DATES}
    )
    first, third = at(MON, 10), at(date(2030, 3, 9), 8, 30)

    beat.hourly_until(first - timedelta(hours=1))  # beat goes down before the first date …
    back = at(date(2030, 3, 7), 12) + TICK_PAST_THE_HOUR  # … and is back after the second
    assert beat.tick_at(back) == 1
    assert (status_of(campaign), campaign.next_run_at) == (CampaignStatus.RUNNING, third)
    assert beat.tick() == 0
    beat.hourly_until(third + timedelta(days=1))

    assert_each_occurrence_sent_once(
        campaign,
        [first, third],
        recipients,
        provider_sandbox,
        late={first: back, third: at(date(2030, 3, 9), 9) + TICK_PAST_THE_HOUR},
    )
    assert status_of(campaign) == CampaignStatus.COMPLETED


# --- recurring -----------------------------------------------------------------------------------


def test_a_daily_series_runs_every_day_at_its_time_until_its_end_date(
    start_beat, sandbox_provider, provider_sandbox
):
    beat = start_beat(CREATED)
    recipients = people(2)
    campaign = scheduled_campaign(
        sandbox_provider,
        "recurring",
        recurring(end={"kind": "on", "on": "2030-03-06", "after": None}),
    )
    days = [MON + timedelta(days=n) for n in range(3)]
    assert campaign.next_run_at == at(MON, 10)

    beat.hourly_until(at(MON, 10) - timedelta(minutes=1))
    assert not runs_of(campaign) and status_of(campaign) == CampaignStatus.SCHEDULED
    beat.hourly_until(at(days[1], 9))
    assert len(runs_of(campaign)) == 1
    assert (status_of(campaign), campaign.next_run_at) == (CampaignStatus.RUNNING, at(days[1], 10))
    beat.hourly_until(at(MON, 10) + timedelta(days=7))

    assert_each_occurrence_sent_once(
        campaign, [at(day, 10) for day in days], recipients, provider_sandbox
    )
    assert (status_of(campaign), campaign.next_run_at) == (CampaignStatus.COMPLETED, None)


def test_a_daily_series_sends_a_missed_day_once_and_goes_on_from_now(
    start_beat, sandbox_provider, provider_sandbox
):
    beat = start_beat(CREATED)
    recipients = people(1)
    campaign = scheduled_campaign(sandbox_provider, "recurring", recurring())

    beat.hourly_until(at(MON, 11))  # Monday's send, then beat is down until Thursday noon
    back = at(MON + timedelta(days=3), 12) + TICK_PAST_THE_HOUR
    assert beat.tick_at(back) == 1  # Tuesday's occurrence, the one that was due
    assert beat.tick() == 0
    campaign.refresh_from_db()
    assert campaign.next_run_at == at(MON + timedelta(days=4), 10)  # Friday: Wed and Thu dropped
    beat.hourly_until(at(MON + timedelta(days=5), 11))

    tuesday = at(MON + timedelta(days=1), 10)
    assert_each_occurrence_sent_once(
        campaign,
        [at(MON, 10), tuesday, at(MON + timedelta(days=4), 10), at(MON + timedelta(days=5), 10)],
        recipients,
        provider_sandbox,
        late={tuesday: back},
    )
    # A series without an end keeps going.
    assert (status_of(campaign), campaign.next_run_at) == (
        CampaignStatus.RUNNING,
        at(MON + timedelta(days=6), 10),
    )


@pytest.mark.parametrize(
    ("series", "expected_days"),
    [
        (
            {"unit": "weeks", "weekdays": ["mon", "thu"], "end": {"kind": "after", "after": 3}},
            [MON, MON + timedelta(days=3), MON + timedelta(days=7)],
        ),
        (
            {
                "every": 2,
                "unit": "weeks",
                "weekdays": ["tue", "fri"],
                "end": {"kind": "on", "on": "2030-03-22"},
            },
            [date(2030, 3, 5), date(2030, 3, 8), date(2030, 3, 19), date(2030, 3, 22)],
        ),
    ],
    ids=["weekly mon+thu, after 3 sends", "every 2 weeks tue+fri, until a date"],
)
def test_a_weekly_series_runs_only_on_its_weekdays_and_ends(
    start_beat, sandbox_provider, provider_sandbox, series, expected_days
):
    beat = start_beat(CREATED)
    recipients = people(2)
    choices = {key: value for key, value in series.items() if key != "end"}
    end = {"kind": "never", "on": None, "after": None, **series["end"]}
    campaign = scheduled_campaign(sandbox_provider, "recurring", recurring(**choices, end=end))

    beat.hourly_until(at(expected_days[-1], 10) - timedelta(minutes=1))
    assert status_of(campaign) == CampaignStatus.RUNNING
    assert campaign.next_run_at == at(expected_days[-1], 10)
    beat.hourly_until(at(expected_days[-1], 10) + timedelta(days=15))

    assert_each_occurrence_sent_once(
        campaign, [at(day, 10) for day in expected_days], recipients, provider_sandbox
    )
    assert (status_of(campaign), campaign.next_run_at) == (CampaignStatus.COMPLETED, None)


@pytest.mark.parametrize(
    ("zone", "created", "first_day", "change_day"),
    [
        # Spring forward: 02:00 EST → 03:00 EDT on Sunday 8 March 2026.
        (
            "America/New_York",
            datetime(2026, 3, 5, 12, tzinfo=UTC),
            date(2026, 3, 6),
            date(2026, 3, 8),
        ),
        # Fall back: 03:00 CEST → 02:00 CET on Sunday 25 October 2026.
        (
            "Europe/Paris",
            datetime(2026, 10, 22, 12, tzinfo=UTC),
            date(2026, 10, 23),
            date(2026, 10, 25),
        ),
    ],
)
def test_a_daily_series_keeps_its_local_time_across_a_dst_change(
    start_beat, sandbox_provider, provider_sandbox, zone, created, first_day, change_day
):
    account_settings_get()
    AccountSettings.objects.filter(pk=1).update(timezone=zone)
    tz = ZoneInfo(zone)
    beat = start_beat(created)
    recipients = people(2)
    last_day = first_day + timedelta(days=4)
    campaign = scheduled_campaign(
        sandbox_provider,
        "recurring",
        recurring(
            time="09:00",
            start=first_day.isoformat(),
            end={"kind": "on", "on": last_day.isoformat(), "after": None},
        ),
    )
    days = [first_day + timedelta(days=n) for n in range(5)]
    expected = [at(day, 9, tz=tz) for day in days]
    # The UTC hour moves by one on the day of the change, the local hour does not.
    before, after = expected[0], expected[days.index(change_day)]
    assert before.hour != after.hour

    beat.hourly_until(after - timedelta(minutes=1))
    assert len(runs_of(campaign)) == days.index(change_day)  # not an hour early on that day
    beat.hourly_until(last_day_end := at(last_day, 23, tz=tz))
    assert last_day_end > expected[-1]

    assert_each_occurrence_sent_once(campaign, expected, recipients, provider_sandbox)
    assert [run.scheduled_for.astimezone(tz).strftime("%H:%M") for run in runs_of(campaign)] == [
        "09:00"
    ] * 5
    assert status_of(campaign) == CampaignStatus.COMPLETED
