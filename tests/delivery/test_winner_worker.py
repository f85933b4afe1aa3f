"""Variants end to end with a real Celery worker and the provider sandbox: an A/B push
campaign whose test share is sent, clicked through the Upload API as the app's SDK reports
taps, decided by beat's winner job after the test window and finished with the winner; and
a multi-message campaign picking each recipient's variant by language, with its fallback.

Beat's jobs (tick, choose_winners, release_due) are the task functions called here; the
worker does the runs and the sends on the real clock. The test window is passed by moving
this process's clock (time-machine) for the beat calls only, as beat would call them two
hours later; the worker's clock stays real. Waits poll database or sandbox with a timeout."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.audience.models import Device
from apps.campaigns.models import CampaignStatus
from apps.delivery import tasks
from apps.delivery.models import CampaignRun, Message, MessageStatus, RunStatus
from tests.api.helpers import upload
from tests.audience.factories import DeviceFactory, ProfileFactory
from tests.delivery.factories import sms_campaign
from tests.delivery.helpers import wait_for
from tests.providers.factories import sandbox_fcm, sandbox_twilio

pytestmark = pytest.mark.slow

WINDOW_HOURS = 2
TEST_SHARE = 8  # people: four get A, four get B
AUDIENCE_SIZE = 20


def _due_now() -> dict:
    """Fields of a scheduled one-time campaign whose date came a minute ago."""
    due = timezone.now() - timedelta(minutes=1)
    return {
        "when": {"type": "at", "at": timezone.localtime(due).strftime("%Y-%m-%dT%H:%M")},
        "next_run_at": due,
    }


def _ab_content() -> dict:
    return {
        "mode": "ab",
        "variants": [
            {"key": "A", "name": "A", "match": "", "message": {"title": "Sale", "body": "Offer A"}},
            {"key": "B", "name": "B", "match": "", "message": {"title": "Sale", "body": "Offer B"}},
        ],
        "ab": {
            "size_kind": "count",
            "size": TEST_SHARE,
            "metric": "clicks",
            "window_hours": WINDOW_HOURS,
        },
    }


def _click(identity: str, ts: float, push_data: dict) -> dict:
    """The "Notification Clicked" event the SDK uploads when a push is tapped: it echoes the
    push's wzrk_id (campaign_run) and wzrk_pivot (variant)."""
    return {
        "type": "event",
        "identity": identity,
        "ts": ts,
        "evtName": "Notification Clicked",
        "evtData": {"wzrk_id": push_data["wzrk_id"], "wzrk_pivot": push_data["wzrk_pivot"]},
    }


def test_an_ab_push_test_share_is_clicked_and_the_rest_receives_the_winner(
    delivery_worker, provider_sandbox, client, api_headers
):
    provider = sandbox_fcm(provider_sandbox, "ab-fcm")
    for i in range(AUDIENCE_SIZE):
        DeviceFactory(profile=ProfileFactory(country="FR", name=f"P{i}"))
    owner = {d.push_token: d.profile for d in Device.objects.select_related("profile")}
    campaign = sms_campaign(channel="push", provider=provider, content=_ab_content(), **_due_now())

    assert tasks.tick() == 1  # beat starts the occurrence; the worker snapshots and sends
    run = CampaignRun.objects.get(campaign=campaign)
    rows = Message.objects.filter(run=run)
    wait_for(
        lambda: rows.filter(status=MessageStatus.SENT).count() == TEST_SHARE,
        what="the test share to be sent",
    )
    wait_for(
        lambda: provider_sandbox.client.counts().get("ab-fcm", 0) == TEST_SHARE,
        what="the test share to arrive",
    )
    run.refresh_from_db()
    assert run.status == RunStatus.TESTING and run.winner_variant == ""
    test_share = provider_sandbox.client.messages("ab-fcm")
    assert len({d["recipient"] for d in test_share}) == TEST_SHARE
    assert Counter(d["body"] for d in test_share) == {"Offer A": 4, "Offer B": 4}
    assert {d["body"][-1] == d["extra"]["data"]["wzrk_pivot"] for d in test_share} == {True}
    rest = rows.filter(status=MessageStatus.WAITING, variant="")
    assert rest.count() == AUDIENCE_SIZE - TEST_SHARE

    # Taps come back through the Upload API: every B recipient, one A recipient, and a tap on
    # another campaign's push by a second A recipient (which must not count).
    a_share = [d for d in test_share if d["extra"]["data"]["wzrk_pivot"] == "A"]
    b_share = [d for d in test_share if d["extra"]["data"]["wzrk_pivot"] == "B"]
    tapped_at = time.time() + 5  # after every send of the test share
    elsewhere = {"wzrk_id": f"{campaign.pk + 1000}_1", "wzrk_pivot": "A"}
    clicks = [
        *(_click(owner[d["recipient"]].identity, tapped_at, d["extra"]["data"]) for d in b_share),
        _click(owner[a_share[0]["recipient"]].identity, tapped_at, a_share[0]["extra"]["data"]),
        _click(owner[a_share[1]["recipient"]].identity, tapped_at, elsewhere),
    ]
    response = upload(client, api_headers, clicks)
    assert response.status_code == 200 and response.json()["processed"] == len(clicks)

    window_closes = run.scheduled_for + timedelta(hours=WINDOW_HOURS)
    with time_machine.travel(window_closes - timedelta(minutes=1), tick=False):
        assert tasks.choose_winners() == 0  # the window is still open
        assert tasks.release_due() == 0  # and the rest is not released without a winner
    with time_machine.travel(window_closes + timedelta(seconds=30), tick=False):
        assert tasks.choose_winners() == 1
        assert tasks.release_due() == AUDIENCE_SIZE - TEST_SHARE

    wait_for(
        lambda: CampaignRun.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
        what="the run to complete",
    )
    delivered = provider_sandbox.client.messages("ab-fcm")
    assert Counter(d["recipient"] for d in delivered) == {token: 1 for token in owner}
    test_tokens = {d["recipient"] for d in test_share}
    assert Counter(d["body"] for d in delivered if d["recipient"] not in test_tokens) == {
        "Offer B": AUDIENCE_SIZE - TEST_SHARE
    }
    assert Counter(rows.values_list("status", "variant")) == {
        (MessageStatus.SENT, "A"): 4,
        (MessageStatus.SENT, "B"): AUDIENCE_SIZE - 4,
    }
    run.refresh_from_db()
    assert run.winner_variant == "B"
    assert run.winner_details["metric"] == "clicks"
    assert run.winner_details["variants"] == {
        "A": {"sent": 4, "metric": 1, "rate": 0.25},
        "B": {"sent": 4, "metric": 4, "rate": 1.0},
    }
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED


def test_a_multi_message_campaign_sends_each_language_its_variant_and_the_rest_the_fallback(
    delivery_worker, provider_sandbox
):
    content = {
        "mode": "multi",
        "variants": [
            {"key": "A", "name": "French", "match": "fr", "message": {"body": "Bonjour"}},
            {"key": "B", "name": "Everyone else", "match": "", "message": {"body": "Hello"}},
            {"key": "C", "name": "Spanish", "match": "es", "message": {"body": "Hola"}},
        ],
        "multi": {"property": "language", "fallback": "B"},
    }
    languages = {
        "+33600000001": "fr",
        "+33600000002": "FR",
        "+33600000003": "de",
        "+33600000004": "",
    }
    for phone, language in languages.items():
        ProfileFactory(country="FR", phone=phone, language=language)
    campaign = sms_campaign(
        provider=sandbox_twilio(provider_sandbox, "multi"), content=content, **_due_now()
    )

    assert tasks.tick() == 1
    wait_for(
        lambda: CampaignRun.objects.filter(campaign=campaign, status=RunStatus.COMPLETED).exists(),
        what="the run to complete",
    )
    delivered = provider_sandbox.client.messages("multi")
    assert sorted((d["recipient"], d["body"]) for d in delivered) == [
        ("+33600000001", "Bonjour"),
        ("+33600000002", "Bonjour"),  # the match ignores case
        ("+33600000003", "Hello"),  # a language with no variant: the fallback
        ("+33600000004", "Hello"),  # no language: the fallback
    ]
    assert sorted(
        Message.objects.filter(run__campaign=campaign).values_list("profile__phone", "variant")
    ) == [
        ("+33600000001", "A"),
        ("+33600000002", "A"),
        ("+33600000003", "B"),
        ("+33600000004", "B"),
    ]
