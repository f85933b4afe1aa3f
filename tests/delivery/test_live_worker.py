"""End to end with a real Celery worker: an upload's event reaches the triggers queue and the
worker makes the live campaign's waiting row."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery.models import Message, MessageStatus
from tests.api.helpers import upload
from tests.audience.factories import ProfileFactory
from tests.campaigns.factories import CampaignFactory


def _wait_for(query, *, timeout: float = 30.0):
    """Poll the database until the query finds rows (the worker is another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(query())
        if rows:
            return rows
        time.sleep(0.2)
    raise AssertionError("nothing appeared in time")


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

    (row,) = _wait_for(lambda: Message.objects.filter(run__campaign=campaign))
    assert (row.profile_id, row.status) == (jane.pk, MessageStatus.WAITING)
    assert row.release_at.timestamp() == ts + 5 * 60
