"""The delivery engine as plain functions, with an explicit `now` (a frozen clock): the tick
per schedule kind, one run per occurrence, fan-out into batches, the claim, sending through
the provider sandbox, retries as WAITING rows, release, Stop and run/campaign completion.
The worker end to end is in test_engine_worker.py, the SIGKILL test in test_crash.py."""

from __future__ import annotations

import types
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.campaigns.models import CampaignStatus
from apps.campaigns.services import campaign_stop
from apps.delivery import batch, bookkeeping, completion, release, runs, throttle
from apps.delivery import tasks as delivery_tasks
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from apps.providers.services import provider_create
from tests.audience.factories import ProfileFactory
from tests.campaigns.factories import recurring_when, sms_content
from tests.delivery.factories import T0, people, sms_campaign, started_run
from tests.delivery.helpers import queued_ids
from tests.providers.factories import sandbox_fcm, sandbox_twilio

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # circuit breakers and run progress live in this run's Redis db
    yield
    cache.clear()


@pytest.fixture
def published(monkeypatch):
    """Record the tasks the engine publishes instead of sending them to the broker."""
    calls: list[tuple[str, tuple, str]] = []

    def recorder(name):
        def apply_async(args, queue=None, **_):
            calls.append((name, tuple(args), queue))

        return apply_async

    monkeypatch.setattr(delivery_tasks.send_batch, "apply_async", recorder("send_batch"))
    monkeypatch.setattr(delivery_tasks.run_campaign, "apply_async", recorder("run_campaign"))
    return calls


# --- the tick, per schedule kind ----------------------------------------------------------------


def test_a_date_runs_once_when_due_and_leaves_nothing_next(
    published, django_capture_on_commit_callbacks
):
    campaign = sms_campaign()
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.tick(now=T0 - timedelta(seconds=1)) == 0
    assert not CampaignRun.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        assert runs.tick(now=T0 + timedelta(seconds=3)) == 1
    run = CampaignRun.objects.get()
    assert run.scheduled_for == T0 and run.status == RunStatus.PENDING
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.RUNNING and campaign.next_run_at is None
    assert published == [("run_campaign", (run.pk,), "bulk")]


def test_two_ticks_create_one_run(published, django_capture_on_commit_callbacks):
    sms_campaign()
    with django_capture_on_commit_callbacks(execute=True):
        runs.tick(now=T0)
        runs.tick(now=T0 + timedelta(seconds=10))
    assert CampaignRun.objects.count() == 1
    assert len(published) == 1


def test_a_run_another_beat_already_created_is_not_created_again():
    campaign = sms_campaign(
        campaign_type="multiple_dates",
        when={"type": "dates", "dates": ["2030-03-04T10:00", "2030-03-06T10:00"]},
    )
    CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)  # the other beat's
    runs.tick(now=T0)
    assert CampaignRun.objects.filter(campaign=campaign).count() == 1
    campaign.refresh_from_db()
    assert campaign.next_run_at == T0 + timedelta(days=2)


def test_a_stale_next_run_at_is_not_advanced_twice():
    """The conditional UPDATE: a tick that read an old next_run_at moves nothing."""
    campaign = sms_campaign(
        campaign_type="multiple_dates",
        when={"type": "dates", "dates": ["2030-03-04T10:00", "2030-03-06T10:00"]},
    )
    stale = type(campaign).objects.get(pk=campaign.pk)
    runs.start_occurrence(campaign, now=T0)
    runs.start_occurrence(stale, now=T0)  # a second beat with the value it read before
    campaign.refresh_from_db()
    assert campaign.next_run_at == T0 + timedelta(days=2)
    assert CampaignRun.objects.filter(campaign=campaign).count() == 1


def test_several_dates_run_one_after_the_other():
    campaign = sms_campaign(
        campaign_type="multiple_dates",
        when={
            "type": "dates",
            "dates": ["2030-03-06T10:00", "2030-03-04T10:00", "2030-03-09T08:30"],
        },
    )
    runs.tick(now=T0)
    campaign.refresh_from_db()
    assert campaign.next_run_at == datetime(2030, 3, 6, 10, 0, tzinfo=UTC)
    runs.tick(now=datetime(2030, 3, 5, tzinfo=UTC))  # nothing due
    runs.tick(now=datetime(2030, 3, 6, 10, 0, 5, tzinfo=UTC))
    campaign.refresh_from_db()
    assert campaign.next_run_at == datetime(2030, 3, 9, 8, 30, tzinfo=UTC)
    runs.tick(now=datetime(2030, 3, 9, 8, 30, tzinfo=UTC))
    campaign.refresh_from_db()
    assert campaign.next_run_at is None and campaign.status == CampaignStatus.RUNNING
    assert sorted(CampaignRun.objects.values_list("scheduled_for", flat=True)) == [
        T0,
        datetime(2030, 3, 6, 10, 0, tzinfo=UTC),
        datetime(2030, 3, 9, 8, 30, tzinfo=UTC),
    ]


def _recurring(**recurring) -> dict:
    return recurring_when("2030-03-04", **recurring)


def test_a_recurring_series_moves_to_the_next_day_and_skips_missed_ones():
    campaign = sms_campaign(campaign_type="recurring", when=_recurring())
    runs.tick(now=T0)
    campaign.refresh_from_db()
    assert campaign.next_run_at == T0 + timedelta(days=1)
    # Beat was down for three days: the due occurrence runs once, the missed ones are not
    # sent in a burst, and the series goes on from now.
    runs.tick(now=T0 + timedelta(days=3, hours=1))
    campaign.refresh_from_db()
    assert campaign.next_run_at == T0 + timedelta(days=4)
    assert list(
        CampaignRun.objects.values_list("scheduled_for", flat=True).order_by("scheduled_for")
    ) == [
        T0,
        T0 + timedelta(days=1),
    ]


def test_a_weekly_series_with_an_end_after_two_sends_ends():
    campaign = sms_campaign(
        campaign_type="recurring",
        when=_recurring(
            unit="weeks", weekdays=["mon", "thu"], end={"kind": "after", "after": 2, "on": None}
        ),
    )
    runs.tick(now=T0)
    campaign.refresh_from_db()
    assert campaign.next_run_at == T0 + timedelta(days=3)  # Thursday
    runs.tick(now=T0 + timedelta(days=3))
    campaign.refresh_from_db()
    assert campaign.next_run_at is None


def test_now_runs_once():
    campaign = sms_campaign(when={"type": "now"}, scheduled_at=T0, next_run_at=T0)
    runs.tick(now=T0 + timedelta(seconds=2))
    runs.tick(now=T0 + timedelta(seconds=12))
    campaign.refresh_from_db()
    assert campaign.next_run_at is None
    assert CampaignRun.objects.filter(campaign=campaign).count() == 1


def test_live_campaigns_draft_and_stopped_ones_are_not_run_by_the_tick():
    sms_campaign(campaign_type="live_action", when={"type": "live", "live": {}})
    sms_campaign(status=CampaignStatus.DRAFT)
    sms_campaign(status=CampaignStatus.STOPPED)
    assert runs.tick(now=T0) == 0
    assert not CampaignRun.objects.exists()


def test_live_run_for_is_one_run_per_utc_day():
    campaign = sms_campaign(campaign_type="live_action", when={"type": "live", "live": {}})
    day = T0.date()
    first = runs.live_run_for(campaign, day)
    assert runs.live_run_for(campaign, day).pk == first.pk
    assert first.scheduled_for == datetime(2030, 3, 4, tzinfo=UTC)
    assert first.status == RunStatus.SENDING
    assert runs.live_run_for(campaign, day + timedelta(days=1)).pk != first.pk


# --- fan-out ------------------------------------------------------------------------------------


def test_a_run_fans_out_into_batches_in_id_order(
    published, settings, django_capture_on_commit_callbacks
):
    settings.HERALD_BATCH_SIZE = 2
    people(5)
    campaign = sms_campaign()
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.run_start_and_fan_out(run.pk, now=T0) == 3
    ids = queued_ids(run)
    assert len(ids) == 5
    assert published == [
        ("send_batch", (run.pk, ids[0:2]), "bulk"),
        ("send_batch", (run.pk, ids[2:4]), "bulk"),
        ("send_batch", (run.pk, ids[4:5]), "bulk"),
    ]
    # The run task redelivered: the snapshot is not taken again, the same batches go out
    # (and would claim nothing twice).
    with django_capture_on_commit_callbacks(execute=True):
        runs.run_start_and_fan_out(run.pk, now=T0)
    assert Message.objects.filter(run=run).count() == 5


def test_a_large_snapshot_refreshes_the_message_statistics_before_fanning_out(
    published, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    people(3)
    small = CampaignRun.objects.create(campaign=sms_campaign(), scheduled_for=T0)
    with CaptureQueriesContext(connection) as queries:
        runs.run_start_and_fan_out(small.pk, now=T0)
    assert not [q for q in queries if q["sql"].startswith("ANALYZE")]

    monkeypatch.setattr(runs, "ANALYZE_AFTER_ROWS", 3)
    large = CampaignRun.objects.create(campaign=sms_campaign(), scheduled_for=T0)
    with CaptureQueriesContext(connection) as queries:
        runs.run_start_and_fan_out(large.pk, now=T0)
    assert [q["sql"] for q in queries if q["sql"].startswith("ANALYZE")] == [
        "ANALYZE delivery_message"
    ]


def test_live_batches_go_to_the_triggers_queue(published, django_capture_on_commit_callbacks):
    campaign = sms_campaign(campaign_type="live_action", when={"type": "live", "live": {}})
    run = runs.live_run_for(campaign, T0.date())
    profile = people(1)[0]
    message = Message.objects.create(run=run, profile=profile, variant="A")
    with django_capture_on_commit_callbacks(execute=True):
        release.enqueue_batches(run)
    assert published == [("send_batch", (run.pk, [message.pk]), "triggers")]


def test_a_run_with_nobody_completes_and_so_does_its_campaign():
    campaign = sms_campaign(status=CampaignStatus.RUNNING, next_run_at=None)
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)
    assert runs.run_start_and_fan_out(run.pk, now=T0) == 0
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert campaign.status == CampaignStatus.COMPLETED


def test_a_refused_last_run_holds_the_campaign_instead_of_completing_it():
    # Nothing was sent: the campaign goes back to draft, held (tests/delivery/test_safety_hold.py).
    people(3)
    campaign = sms_campaign(status=CampaignStatus.RUNNING, next_run_at=None, safety_cap=2)
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)
    runs.run_start_and_fan_out(run.pk, now=T0)
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.REFUSED
    assert campaign.status == CampaignStatus.DRAFT and campaign.is_safety_held


# --- sending a batch ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_batch_sends_each_row_once_and_records_provider_and_id(provider_sandbox):
    provider = sandbox_twilio(provider_sandbox, "solo")
    recipients = people(4)
    campaign = sms_campaign(provider=provider, status=CampaignStatus.RUNNING, next_run_at=None)
    run = started_run(campaign)
    ids = queued_ids(run)

    report = batch.send_batch(run.pk, ids, now=T0)
    assert report.claimed == 4 and report.counts == {MessageStatus.SENT: 4}
    # The same batch again (a redelivered task): nothing is claimed, nothing is sent.
    assert batch.send_batch(run.pk, ids, now=T0).claimed == 0

    delivered = provider_sandbox.client.messages(limit=100)
    assert sorted(d["recipient"] for d in delivered) == sorted(p.phone for p in recipients)
    by_id = {d["provider_message_id"]: d for d in delivered}
    for message in Message.objects.filter(run=run).select_related("profile"):
        assert message.status == MessageStatus.SENT and message.attempts == 1
        assert message.provider_id == provider.pk and message.sent_at is not None
        assert by_id[message.provider_message_id]["recipient"] == message.profile.phone
        assert by_id[message.provider_message_id]["body"] == f"Hi {message.profile.name}"
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.COMPLETED and run.finished_at is not None
    assert campaign.status == CampaignStatus.COMPLETED


@pytest.mark.slow
def test_rows_claimed_by_another_worker_are_not_sent(provider_sandbox):
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "solo"))
    people(3)
    run = started_run(campaign)
    ids = queued_ids(run)
    assert batch._claim(run.pk, ids[:2], now=T0) == ids[:2]  # another worker's claim
    report = batch.send_batch(run.pk, ids, now=T0)
    assert report.claimed == 1
    assert len(provider_sandbox.client.messages()) == 1
    assert Message.objects.get(pk=ids[0]).status == MessageStatus.SENDING
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING  # rows still in flight: not complete


@pytest.mark.slow
def test_a_batch_never_claims_the_rows_of_another_run(provider_sandbox):
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "mine"))
    people(2)
    run = started_run(campaign)
    other = started_run(sms_campaign(provider=sandbox_twilio(provider_sandbox, "theirs")))

    report = batch.send_batch(run.pk, queued_ids(other), now=T0)

    assert report.claimed == 0
    assert provider_sandbox.client.messages() == []
    assert set(Message.objects.filter(run=other).values_list("status", flat=True)) == {
        MessageStatus.QUEUED
    }


@pytest.mark.slow
def test_a_retryable_failure_waits_with_backoff_then_fails_after_the_last_attempt(
    provider_sandbox, settings
):
    settings.HERALD_SEND_MAX_ATTEMPTS = 2
    provider_sandbox.client.set_faults("down", error_rate=1.0, error_status=503)
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "down"))
    people(1)
    run = started_run(campaign)
    [message_id] = queued_ids(run)

    batch.send_batch(run.pk, [message_id], now=T0)
    message = Message.objects.get(pk=message_id)
    assert message.status == MessageStatus.WAITING and message.attempts == 1
    assert message.release_at > timezone.now() + timedelta(seconds=25)  # 30 s backoff
    assert "503" in message.error or message.error

    # Beat releases it when due; the second attempt fails too and is final.
    assert release.release_due(now=message.release_at + timedelta(seconds=1)) == 1
    batch.send_batch(run.pk, [message_id], now=T0)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.attempts == 2
    assert message.reason == batch.FAILED_RETRIES_EXHAUSTED
    assert provider_sandbox.client.messages() == []
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


@pytest.mark.slow
def test_a_permanent_failure_is_recorded_and_not_retried(provider_sandbox):
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "picky"))
    bad, good = people(2)
    provider_sandbox.client.set_faults("picky", reject_recipients=[bad.phone])
    run = started_run(campaign)
    batch.send_batch(run.pk, queued_ids(run), now=T0)
    failed = Message.objects.get(run=run, profile=bad)
    assert failed.status == MessageStatus.FAILED and failed.reason == batch.FAILED_PERMANENT
    assert failed.error and failed.release_at is None
    assert Message.objects.get(run=run, profile=good).status == MessageStatus.SENT


@pytest.mark.slow
def test_a_recipient_without_a_phone_any_more_is_skipped(provider_sandbox):
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "solo"))
    [person] = people(1)
    run = started_run(campaign)
    type(person).objects.filter(pk=person.pk).update(phone="")
    batch.send_batch(run.pk, queued_ids(run), now=T0)
    message = Message.objects.get(run=run)
    assert (message.status, message.reason) == (MessageStatus.SKIPPED, SkipReason.NO_ADDRESS)
    assert provider_sandbox.client.messages() == []


@pytest.mark.slow
def test_a_template_that_does_not_render_fails_the_row(provider_sandbox):
    campaign = sms_campaign(
        provider=sandbox_twilio(provider_sandbox, "solo"),
        content=sms_content("Hi {{ Profile.Name "),
    )
    people(1)
    run = started_run(campaign)
    batch.send_batch(run.pk, queued_ids(run), now=T0)
    message = Message.objects.get(run=run)
    assert (message.status, message.reason) == (MessageStatus.FAILED, batch.FAILED_RENDER)
    assert "body" in message.error


@pytest.mark.slow
def test_policy_decisions_skip_and_delay_rows(provider_sandbox, monkeypatch):
    """The policies' decision for each row is applied to it."""
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "solo"))
    skip, wait, send = people(3)
    run = started_run(campaign)
    later = T0 + timedelta(hours=8)
    seen: list[dict] = []

    def decide(campaign_arg, rows, *, now, limits):
        seen.extend(rows)
        by_profile = {skip.pk: ("skip", "capped", None), wait.pk: ("wait", "", later)}
        return [
            types.SimpleNamespace(
                message_id=row["message_id"],
                action=by_profile.get(row["profile_id"], ("send", "", None))[0],
                reason=by_profile.get(row["profile_id"], ("send", "", None))[1],
                release_at=by_profile.get(row["profile_id"], ("send", "", None))[2],
            )
            for row in rows
        ]

    monkeypatch.setattr(batch.policies, "decide", decide)

    batch.send_batch(run.pk, queued_ids(run), now=T0)
    rows = {m.profile_id: m for m in Message.objects.filter(run=run)}
    assert (rows[skip.pk].status, rows[skip.pk].reason) == (MessageStatus.SKIPPED, "capped")
    assert rows[wait.pk].status == MessageStatus.WAITING and rows[wait.pk].release_at == later
    assert rows[send.pk].status == MessageStatus.SENT
    assert [d["recipient"] for d in provider_sandbox.client.messages()] == [send.phone]
    assert {r["run_scheduled_for"] for r in seen} == {T0}


@pytest.mark.slow
def test_throttle_tokens_are_taken_for_the_rows_to_send(provider_sandbox, monkeypatch):
    campaign = sms_campaign(
        provider=sandbox_twilio(provider_sandbox, "solo"),
        delivery={"respect_throttle": True, "throttle_per_minute": 600},
    )
    people(3)
    run = started_run(campaign)
    asked: list[tuple] = []
    monkeypatch.setattr(
        throttle, "acquire", lambda key, n, rate: asked.append((key, n, rate)) or 0.0
    )
    batch.send_batch(run.pk, queued_ids(run), now=T0)
    assert asked == [(f"campaign:{campaign.pk}", 3, 600)]
    assert Message.objects.filter(run=run, status=MessageStatus.SENT).count() == 3


# --- Stop ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_batch_of_a_stopped_campaign_sends_nothing_and_skips_its_rows(provider_sandbox):
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "solo"))
    people(4)
    run = started_run(campaign)
    ids = queued_ids(run)
    Message.objects.filter(pk=ids[0]).update(
        status=MessageStatus.WAITING, release_at=T0 + timedelta(hours=1)
    )
    campaign_stop(campaign=campaign)
    assert batch.send_batch(run.pk, ids, now=T0).claimed == 0
    statuses = set(Message.objects.filter(run=run).values_list("status", "reason"))
    assert statuses == {(MessageStatus.SKIPPED, SkipReason.STOPPED)}
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED
    assert provider_sandbox.client.messages() == []


def test_release_sweeps_a_stopped_campaigns_waiting_rows():
    campaign = sms_campaign()
    people(2)
    run = started_run(campaign)
    Message.objects.filter(run=run).update(
        status=MessageStatus.WAITING, release_at=T0 - timedelta(minutes=1)
    )
    campaign_stop(campaign=campaign)
    assert release.release_due(now=T0) == 0
    assert set(Message.objects.filter(run=run).values_list("status", "reason")) == {
        (MessageStatus.SKIPPED, SkipReason.STOPPED)
    }


def test_a_run_stopped_during_its_snapshot_sends_nothing(
    published, django_capture_on_commit_callbacks
):
    people(2)
    campaign = sms_campaign()
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)
    campaign_stop(campaign=campaign)
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.run_start_and_fan_out(run.pk, now=T0) == 0
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED and published == []


# --- release ------------------------------------------------------------------------------------


def test_release_flips_due_rows_with_a_variant_and_enqueues_them(
    published, django_capture_on_commit_callbacks
):
    campaign = sms_campaign()
    people(4)
    run = started_run(campaign)
    due, not_yet, ab_rest, in_flight = queued_ids(run)
    Message.objects.filter(pk=due).update(status="waiting", release_at=T0, reason="dnd")
    Message.objects.filter(pk=not_yet).update(status="waiting", release_at=T0 + timedelta(hours=1))
    Message.objects.filter(pk=ab_rest).update(status="waiting", release_at=T0, variant="")
    Message.objects.filter(pk=in_flight).update(
        status="sending", release_at=T0 + timedelta(minutes=5)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert release.release_due(now=T0) == 1
    released = Message.objects.get(pk=due)
    assert (released.status, released.release_at, released.reason) == ("queued", None, "")
    assert published == [("send_batch", (run.pk, [due]), "bulk")]
    assert Message.objects.get(pk=not_yet).status == "waiting"
    assert Message.objects.get(pk=ab_rest).status == "waiting"
    assert Message.objects.get(pk=in_flight).status == "sending"


def test_a_send_claim_whose_lease_ran_out_is_queued_again():
    """A worker died inside the provider call: the row goes out again only after its
    lease, with the same idempotency key."""
    campaign = sms_campaign()
    people(1)
    run = started_run(campaign)
    [message_id] = queued_ids(run)
    batch._claim(run.pk, [message_id], now=T0)
    lease_end = Message.objects.get(pk=message_id).release_at
    assert lease_end == T0 + batch.send_lease()
    assert release.release_due(now=lease_end - timedelta(seconds=1)) == 0
    assert release.release_due(now=lease_end) == 1
    assert Message.objects.get(pk=message_id).status == MessageStatus.QUEUED


def test_a_run_whose_batches_were_lost_is_requeued_after_the_stale_period(
    published, django_capture_on_commit_callbacks
):
    campaign = sms_campaign()
    people(3)
    run = started_run(campaign)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        release.enqueue_batches(run, now=now)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert release.requeue_stale_runs(now + timedelta(seconds=30)) == 0
        assert release.requeue_stale_runs(now + release.stale_after()) == 1
    assert published == [("send_batch", (run.pk, queued_ids(run)), "bulk")]


@pytest.mark.slow
def test_only_the_runs_last_batch_in_flight_checks_whether_the_run_is_finished(
    provider_sandbox, published, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.HERALD_BATCH_SIZE = 2
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "last"), next_run_at=None)
    people(4)
    run = started_run(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        assert release.enqueue_batches(run) == 2
    checks = []
    finish = completion.run_finish_if_done
    monkeypatch.setattr(
        batch,
        "run_finish_if_done",
        lambda run_id, **kw: checks.append(run_id) or finish(run_id, **kw),
    )
    (_, first, _), (_, second, _) = published

    batch.send_batch(*first, now=T0)
    assert checks == []  # another batch is in flight: no walk of the run's rows
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING

    batch.send_batch(*second, now=T0)
    assert checks == [run.pk]
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert len(provider_sandbox.client.messages()) == 4


@pytest.mark.slow
def test_a_run_whose_last_batch_was_lost_is_finished_after_the_stale_period(
    provider_sandbox, published, django_capture_on_commit_callbacks
):
    campaign = sms_campaign(provider=sandbox_twilio(provider_sandbox, "lost"), next_run_at=None)
    people(2)
    run = started_run(campaign)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        release.enqueue_batches(run, now=now)
    bookkeeping.batches_published(run.pk, 1)  # a second batch that will never arrive
    [(_, args, _)] = published
    batch.send_batch(*args, now=now)
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING  # it waits for the batch it still counts

    assert release.requeue_stale_runs(now + timedelta(seconds=30)) == 0
    run.refresh_from_db()
    assert run.status == RunStatus.SENDING
    assert release.requeue_stale_runs(now + release.stale_after() + timedelta(seconds=1)) == 0
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_a_pending_run_whose_task_was_lost_is_published_again(
    published, django_capture_on_commit_callbacks
):
    campaign = sms_campaign(next_run_at=None)
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=T0)
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.republish_pending_runs(timezone.now()) == 0
    assert published == []
    later = timezone.now() + runs.PENDING_RUN_GRACE + timedelta(seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert runs.republish_pending_runs(later) == 1
    assert published == [("run_campaign", (run.pk,), "bulk")]


@pytest.mark.slow
def test_a_campaign_with_an_occurrence_left_is_not_completed_by_its_run(provider_sandbox):
    campaign = sms_campaign(
        provider=sandbox_twilio(provider_sandbox, "solo"),
        status=CampaignStatus.RUNNING,
        next_run_at=T0 + timedelta(days=1),
    )
    people(1)
    run = started_run(campaign)
    batch.send_batch(run.pk, queued_ids(run), now=T0)
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert campaign.status == CampaignStatus.RUNNING


# --- other channels -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_push_run_to_all_devices_sends_one_message_per_device(provider_sandbox):
    from tests.audience.factories import DeviceFactory

    ann = ProfileFactory(country="FR", name="Ann", push_android=True)
    phone = DeviceFactory(profile=ann, push_token="tok-phone_" + "a" * 40)
    tablet = DeviceFactory(profile=ann, push_token="tok-tablet_" + "b" * 40)
    campaign = sms_campaign(
        channel="push",
        provider=sandbox_fcm(provider_sandbox, "fcm-engine"),
        push_all_devices=True,
        delivery={"push_ttl_hours": 2},
    )
    run = started_run(campaign)
    batch.send_batch(run.pk, queued_ids(run), now=T0)

    delivered = provider_sandbox.client.messages("fcm-engine")
    assert sorted(d["recipient"] for d in delivered) == sorted(
        [phone.push_token, tablet.push_token]
    )
    assert {(d["subject"], d["body"]) for d in delivered} == {("Hi Ann", "Sale")}
    # The app can tie a click back to the campaign, run and variant (what the A/B winner reads),
    # and the campaign's time to live reaches FCM.
    assert {
        (d["extra"]["data"]["wzrk_id"], d["extra"]["data"]["wzrk_pivot"]) for d in delivered
    } == {(f"{campaign.pk}_{run.pk}", "A")}
    assert {d["extra"]["android"].get("ttl") for d in delivered} == {"7200s"}
    rows = Message.objects.filter(run=run)
    assert {(m.device_id, m.status) for m in rows} == {
        (phone.pk, MessageStatus.SENT),
        (tablet.pk, MessageStatus.SENT),
    }


@pytest.mark.slow
def test_an_email_run_is_rendered_and_sent_from_the_campaigns_sender(provider_sandbox):
    provider = provider_create(
        channel="email",
        kind="sendgrid",
        nickname="Mail",
        base_url=provider_sandbox.url_for("mail"),
        credentials={"api_key": "SG.test-key-1234"},
        settings={"from_email": "news@herald.test"},
    )
    ann = ProfileFactory(country="FR", name="Ann", email="ann@example.com")
    campaign = sms_campaign(
        channel="email",
        provider=provider,
        sender_email="deals@herald.test",
    )
    run = started_run(campaign)
    batch.send_batch(run.pk, queued_ids(run), now=T0)
    [delivered] = provider_sandbox.client.messages("mail")
    assert delivered["recipient"] == ann.email and delivered["subject"] == "For Ann"
    message = Message.objects.get(run=run)
    assert message.status == MessageStatus.SENT and message.provider_id == provider.pk


@pytest.mark.slow
def test_a_throttled_batch_sends_in_chunks_and_sees_stop_between_them(
    provider_sandbox, monkeypatch
):
    """60 a minute: chunks of two seconds' worth (2 rows), Stop checked before each."""
    campaign = sms_campaign(
        provider=sandbox_twilio(provider_sandbox, "solo"),
        delivery={"respect_throttle": True, "throttle_per_minute": 60},
    )
    people(5)
    run = started_run(campaign)
    asked: list[int] = []

    def acquire(key, n, rate):
        asked.append(n)
        if len(asked) == 2:
            campaign_stop(campaign=campaign)  # pressed while the first chunk was out
        return 0.0

    monkeypatch.setattr(throttle, "acquire", acquire)
    batch.send_batch(run.pk, queued_ids(run), now=T0)

    assert asked == [2, 2]
    statuses = sorted(Message.objects.filter(run=run).values_list("status", "reason"))
    assert statuses == [("sent", "")] * 2 + [("skipped", "stopped")] * 3
    assert len(provider_sandbox.client.messages()) == 2
