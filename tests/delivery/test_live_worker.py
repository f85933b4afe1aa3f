"""Live campaigns end to end with a real Celery worker and the provider sandbox: an upload's
event reaches the triggers queue and the worker makes the campaign's waiting row; beat's
release job (called here as the task function, with this process's clock moved past the
row's time by time-machine) hands it to the worker, which sends it. Waits poll database or
sandbox state with a timeout."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.delivery import tasks
from apps.delivery.models import Message, MessageStatus, SkipReason
from tests.api.helpers import upload
from tests.audience.factories import ProfileFactory
from tests.campaigns.factories import CampaignFactory
from tests.delivery.factories import (
    BOUGHT,
    CART,
    inaction_trigger,
    live_campaign,
    live_event,
    live_person,
)
from tests.delivery.helpers import queue_length, wait_for
from tests.providers.factories import sandbox_twilio

pytestmark = pytest.mark.slow

INACTION_MINUTES = 10


def _uploaded(client, api_headers, records: list[dict]) -> None:
    response = upload(client, api_headers, records)
    assert response.status_code == 200, response.content
    assert response.json()["processed"] == len(records)


def _release_due_at(moment: datetime) -> int:
    """Beat's release job as it runs at `moment`."""
    with time_machine.travel(moment, tick=False):
        return tasks.release_due()


@pytest.mark.django_db(transaction=True)
def test_an_uploaded_event_becomes_a_waiting_row_through_the_worker(
    client, api_headers, celery_worker
):
    start = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    campaign = CampaignFactory(
        channel="sms",
        campaign_type="live_action",
        status="scheduled",
        audience_definition={
            "version": 1,
            "kind": "live",
            "live": {"type": "action", "event": "Signed up", "properties": []},
        },
        when={"type": "live", "live": {"start": start, "end": None, "delay_minutes": 5}},
        content={"mode": "single", "variants": [{"key": "A", "message": {"body": "Welcome"}}]},
    )
    jane = ProfileFactory(identity="jane", phone="+33612345678")
    ts = int(time.time()) - 60
    response = upload(
        client,
        api_headers,
        [{"type": "event", "identity": "jane", "ts": ts, "evtName": "Signed up", "evtData": {}}],
    )
    assert response.status_code == 200

    (row,) = wait_for(lambda: list(Message.objects.filter(run__campaign=campaign)))
    assert (row.profile_id, row.status) == (jane.pk, MessageStatus.WAITING)
    assert row.release_at.timestamp() == ts + 5 * 60


# --------------------------------------------------------------------------- inaction


def _abandoned_cart(provider):
    trigger = inaction_trigger(CART, BOUGHT, minutes=INACTION_MINUTES)
    return live_campaign(trigger, when={"inaction_minutes": INACTION_MINUTES}, provider=provider)


def _a_minute_ago() -> datetime:
    return (timezone.now() - timedelta(minutes=1)).replace(microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_inaction_without_the_follow_up_is_sent_by_the_worker_once_the_window_closes(
    client, api_headers, delivery_worker, provider_sandbox
):
    campaign = _abandoned_cart(sandbox_twilio(provider_sandbox, "inaction"))
    jane = live_person()
    ts = _a_minute_ago()
    _uploaded(client, api_headers, [live_event("jane", CART, ts, Item="Watch")])

    (row,) = wait_for(
        lambda: list(Message.objects.filter(run__campaign=campaign)), what="the pending row"
    )
    closes = ts + timedelta(minutes=INACTION_MINUTES)
    assert (row.profile_id, row.status, row.release_at) == (jane.pk, MessageStatus.WAITING, closes)

    assert _release_due_at(closes - timedelta(seconds=1)) == 0  # the window is still open
    assert _release_due_at(closes + timedelta(seconds=1)) == 1
    wait_for(lambda: provider_sandbox.client.counts().get("inaction", 0) >= 1, what="the message")
    delivered = provider_sandbox.client.messages("inaction")
    assert [(d["recipient"], d["body"]) for d in delivered] == [(jane.phone, "Hi Watch")]
    row = wait_for(
        lambda: Message.objects.filter(pk=row.pk, status=MessageStatus.SENT).first(),
        what="the row to be recorded as sent",
    )
    assert row.provider_message_id == delivered[0]["provider_message_id"]


@pytest.mark.django_db(transaction=True)
def test_the_follow_up_event_cancels_the_pending_message_so_nothing_arrives(
    client, api_headers, delivery_worker, provider_sandbox
):
    campaign = _abandoned_cart(sandbox_twilio(provider_sandbox, "cancelled"))
    jane = live_person("jane", phone="+33600000001")
    hans = live_person("hans", phone="+33600000002")  # carts too, never buys: his message leaves
    ts = _a_minute_ago() - timedelta(minutes=1)
    _uploaded(client, api_headers, [live_event("jane", CART, ts), live_event("hans", CART, ts)])
    rows = Message.objects.filter(run__campaign=campaign)
    wait_for(lambda: rows.filter(status=MessageStatus.WAITING).count() == 2, what="two rows")

    _uploaded(client, api_headers, [live_event("jane", BOUGHT, ts + timedelta(minutes=1))])
    wait_for(
        lambda: rows.filter(profile=jane, status=MessageStatus.SKIPPED).exists(),
        what="the follow-up to cancel jane's row",
    )
    assert rows.get(profile=jane).reason == SkipReason.TRIGGER_CANCELLED

    closes = ts + timedelta(minutes=INACTION_MINUTES)
    assert _release_due_at(closes + timedelta(seconds=1)) == 1  # hans only
    wait_for(
        lambda: rows.filter(profile=hans, status=MessageStatus.SENT).exists(),
        what="hans's message to be sent",
    )
    wait_for(lambda: queue_length("triggers") == 0, what="the triggers queue to drain")
    delivered = provider_sandbox.client.messages("cancelled")
    assert [d["recipient"] for d in delivered] == [hans.phone]
    assert _release_due_at(closes + timedelta(days=1)) == 0  # a cancelled row never comes back
    assert rows.get(profile=jane).status == MessageStatus.SKIPPED


# --------------------------------------------------------------------------- on a date/time


@pytest.mark.django_db(transaction=True)
def test_the_daily_date_job_finds_the_due_profile_and_the_worker_sends_it(
    client, api_headers, delivery_worker, provider_sandbox
):
    offset = {"direction": "before", "amount": 1, "unit": "days"}
    trigger = {
        "type": "date_property",
        "event": "Flight booked",
        "property": "Departure",
        "offset": offset,
    }
    start = (timezone.now() - timedelta(days=3)).strftime("%Y-%m-%d") + "T09:30"
    campaign = live_campaign(
        trigger,
        when={"start": start, "date_offset": offset},
        provider=sandbox_twilio(provider_sandbox, "dates"),
        content={
            "mode": "single",
            "variants": [
                {
                    "key": "A",
                    "name": "A",
                    "message": {"body": "You fly on {{Event.Departure}}"},
                }
            ],
        },
    )
    due = live_person("due", phone="+33600000001")
    live_person("later", phone="+33600000002")
    booked = _a_minute_ago()
    _uploaded(
        client,
        api_headers,
        [
            live_event("due", "Flight booked", booked, Departure="2030-06-11"),
            live_event("later", "Flight booked", booked, Departure="2030-06-12"),
        ],
    )

    # Beat's date job on the day before the first departure (the account zone is UTC).
    job_runs_at = datetime(2030, 6, 10, 6, 0, tzinfo=UTC)
    with time_machine.travel(job_runs_at, tick=False):
        assert tasks.live_date_due() == 1
    (row,) = Message.objects.filter(run__campaign=campaign)
    send_at = datetime(2030, 6, 10, 9, 30, tzinfo=UTC)  # the campaign start's time of day
    assert (row.profile_id, row.status, row.release_at) == (due.pk, MessageStatus.WAITING, send_at)
    with time_machine.travel(job_runs_at + timedelta(minutes=15), tick=False):
        assert tasks.live_date_due() == 0  # once a day

    assert _release_due_at(send_at - timedelta(seconds=1)) == 0
    assert _release_due_at(send_at + timedelta(seconds=1)) == 1
    wait_for(lambda: provider_sandbox.client.counts().get("dates", 0) >= 1, what="the message")
    wait_for(
        lambda: Message.objects.filter(pk=row.pk, status=MessageStatus.SENT).exists(),
        what="the row to be recorded as sent",
    )
    delivered = provider_sandbox.client.messages("dates")
    assert [(d["recipient"], d["body"]) for d in delivered] == [
        (due.phone, "You fly on 2030-06-11")
    ]
