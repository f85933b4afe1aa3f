"""Push engagement through the real Upload API: an app uploads "Notification Viewed" /
"Notification Clicked" with the push's herald_mid, and Herald links the first view and the
first click to the message — only its own profile's sent push, once per kind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.audience.models import Device, Event, Profile
from apps.delivery.engagement import push_engagement_record
from apps.delivery.models import CampaignRun, Message, MessageEvent, MessageStatus
from tests.api.helpers import upload
from tests.audience.factories import DeviceFactory, ProfileFactory
from tests.campaigns.factories import CampaignFactory

pytestmark = pytest.mark.django_db

SUCCESS_2 = {"status": "success", "processed": 2, "unprocessed": []}


def _run():
    campaign = CampaignFactory(push=True)
    return CampaignRun.objects.create(
        campaign=campaign, scheduled_for=timezone.now() - timedelta(hours=1), status="completed"
    )


def _push(profile, *, run=None, status=MessageStatus.SENT, **fields) -> Message:
    """A push Message of `run` to the profile's phone, sent ten minutes ago."""
    sent = status == MessageStatus.SENT
    return Message.objects.create(
        run=run or _run(),
        profile=profile,
        device=fields.pop("device", None) or DeviceFactory(profile=profile),
        variant="A",
        status=status,
        sent_at=timezone.now() - timedelta(minutes=10) if sent else None,
        **fields,
    )


def _reported(identity: str, name: str, message_id, *, seconds_ago: int = 60, **data) -> dict:
    """An event record as the SDK uploads it, with the push's data echoed back."""
    return {
        "type": "event",
        "identity": identity,
        "ts": int(timezone.now().timestamp()) - seconds_ago,
        "evtName": name,
        "evtData": {"herald_mid": message_id, **data},
    }


def _engagement(message: Message) -> set[str]:
    return set(MessageEvent.objects.filter(message=message).values_list("kind", flat=True))


def test_a_view_and_a_click_link_to_the_sent_push(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)
    wzrk = {"wzrk_id": f"{push.run.campaign_id}_{push.run_id}", "wzrk_pivot": "A"}
    records = [
        _reported("jane", "Notification Viewed", str(push.pk), seconds_ago=120, **wzrk),
        _reported("jane", "Notification Clicked", str(push.pk), seconds_ago=60, **wzrk),
    ]

    response = upload(client, api_headers, records)

    assert response.status_code == 200
    assert response.json() == SUCCESS_2  # CleverTap's answer, nothing added
    assert Event.objects.filter(profile=jane).count() == 2  # ingest is unchanged
    rows = {row.kind: row for row in MessageEvent.objects.all()}
    assert set(rows) == {"viewed", "clicked"}
    for kind, record in (("viewed", records[0]), ("clicked", records[1])):
        row = rows[kind]
        assert (row.message_id, row.run_id, row.campaign_id, row.profile_id) == (
            push.pk,
            push.run_id,
            push.run.campaign_id,
            jane.pk,
        )
        assert row.occurred_at.timestamp() == record["ts"]


def test_a_click_alone_does_not_count_as_a_view(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)

    upload(client, api_headers, [_reported("jane", "Notification Clicked", str(push.pk))])

    assert _engagement(push) == {"clicked"}


def test_the_same_view_and_click_uploaded_twice_count_once(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)
    records = [
        _reported("jane", "Notification Viewed", str(push.pk)),
        _reported("jane", "Notification Clicked", str(push.pk)),
    ]

    first = upload(client, api_headers, records)
    second = upload(client, api_headers, records)

    assert first.json() == second.json() == SUCCESS_2
    assert Event.objects.filter(profile=jane).count() == 4  # both uploads are stored
    assert MessageEvent.objects.filter(message=push, kind="viewed").count() == 1
    assert MessageEvent.objects.filter(message=push, kind="clicked").count() == 1


def test_of_two_clicks_in_one_upload_the_earlier_is_recorded(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)
    later = _reported("jane", "Notification Clicked", str(push.pk), seconds_ago=30)
    earlier = _reported("jane", "Notification Clicked", str(push.pk), seconds_ago=90)

    upload(client, api_headers, [later, earlier])

    [click] = MessageEvent.objects.all()
    assert click.occurred_at.timestamp() == earlier["ts"]


def test_another_profile_cannot_claim_a_message(client, api_headers):
    jane = ProfileFactory(identity="jane")
    ProfileFactory(identity="mallory")
    push = _push(jane)

    response = upload(
        client,
        api_headers,
        [
            _reported("mallory", "Notification Viewed", str(push.pk)),
            _reported("mallory", "Notification Clicked", str(push.pk)),
        ],
    )

    assert response.json() == SUCCESS_2
    assert Event.objects.filter(profile__identity="mallory").count() == 2
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize(
    "herald_mid",
    [
        "not-a-number",
        "",
        None,
        "-1",
        "12.5",
        " 12",
        "99999999999999999999999",  # beyond bigint
        "unknown",  # replaced by an id no message has
        {"id": 1},
        [1],
    ],
)
def test_an_unusable_herald_mid_is_stored_but_not_linked(client, api_headers, herald_mid):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)
    if herald_mid == "unknown":
        herald_mid = str(push.pk + 1000)
    records = [
        _reported("jane", "Notification Viewed", herald_mid),
        _reported("jane", "Notification Clicked", herald_mid),
    ]

    response = upload(client, api_headers, records)

    assert response.status_code == 200
    assert response.json() == SUCCESS_2
    assert Event.objects.filter(profile=jane).count() == 2
    assert not MessageEvent.objects.exists()


def test_a_leading_zero_is_not_herald_s_id(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)

    upload(client, api_headers, [_reported("jane", "Notification Clicked", f"0{push.pk}")])

    assert not MessageEvent.objects.exists()


def test_a_herald_mid_sent_as_a_json_number_links(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)

    upload(client, api_headers, [_reported("jane", "Notification Clicked", push.pk)])

    assert _engagement(push) == {"clicked"}


def test_wzrk_id_alone_links_nothing(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)
    record = _reported("jane", "Notification Clicked", None)
    del record["evtData"]["herald_mid"]
    record["evtData"]["wzrk_id"] = f"{push.run.campaign_id}_{push.run_id}"

    response = upload(client, api_headers, [record])

    assert response.json()["processed"] == 1
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize(
    "status", [MessageStatus.FAILED, MessageStatus.SKIPPED, MessageStatus.SENDING]
)
def test_a_message_that_was_not_sent_is_not_linked(client, api_headers, status):
    jane = ProfileFactory(identity="jane")
    push = _push(jane, status=status)

    response = upload(
        client,
        api_headers,
        [
            _reported("jane", "Notification Viewed", str(push.pk)),
            _reported("jane", "Notification Clicked", str(push.pk)),
        ],
    )

    assert response.json() == SUCCESS_2
    assert not MessageEvent.objects.exists()


def test_an_sms_message_is_not_a_push_and_is_not_linked(client, api_headers):
    jane = ProfileFactory(identity="jane", phone="+33612345678")
    sms = Message.objects.create(
        run=_run(), profile=jane, status=MessageStatus.SENT, sent_at=timezone.now()
    )

    upload(client, api_headers, [_reported("jane", "Notification Clicked", str(sms.pk))])

    assert not MessageEvent.objects.exists()


def test_other_event_names_carrying_herald_mid_are_not_engagement(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)

    upload(client, api_headers, [_reported("jane", "Notification Dismissed", str(push.pk))])

    assert not MessageEvent.objects.exists()


def test_a_failure_to_link_still_answers_success_and_keeps_the_events(client, api_headers):
    jane = ProfileFactory(identity="jane")
    push = _push(jane)
    with connection.cursor() as cursor:  # a real failure inside the link statement
        cursor.execute(
            "CREATE FUNCTION refuse_links() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'tablespace full'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_links BEFORE INSERT ON delivery_messageevent "
            "FOR EACH ROW EXECUTE FUNCTION refuse_links()"
        )

    response = upload(
        client,
        api_headers,
        [
            _reported("jane", "Notification Viewed", str(push.pk)),
            _reported("jane", "Notification Clicked", str(push.pk)),
        ],
    )

    # The events are stored: a 500 would only make the app upload them again.
    assert response.status_code == 200
    assert response.json() == SUCCESS_2
    assert Event.objects.filter(profile=jane).count() == 2
    assert not MessageEvent.objects.exists()


def test_an_upload_without_views_or_clicks_costs_no_engagement_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert push_engagement_record(stored_events=[(1, "App Launched"), (2, "Charged")]) == 0


def test_a_batch_of_500_events_links_in_a_bounded_number_of_queries(
    client, api_headers, django_assert_max_num_queries
):
    run = _run()
    people = Profile.objects.bulk_create(ProfileFactory.build_batch(250))
    devices = Device.objects.bulk_create(
        DeviceFactory.build(profile=person, push_token=f"token-{n}")
        for n, person in enumerate(people)
    )
    pushes = Message.objects.bulk_create(
        Message(
            run=run,
            profile=person,
            device=device,
            variant="A",
            status=MessageStatus.SENT,
            sent_at=timezone.now() - timedelta(minutes=10),
        )
        for person, device in zip(people, devices, strict=True)
    )
    records = [
        _reported(person.identity, name, str(push.pk))
        for person, push in zip(people, pushes, strict=True)
        for name in ("Notification Viewed", "Notification Clicked")
    ]
    assert len(records) == 500

    # The passcode check and ingest take 9; the links are a savepoint around ONE INSERT.
    with django_assert_max_num_queries(12) as captured:
        response = upload(client, api_headers, records)

    assert response.json() == {"status": "success", "processed": 500, "unprocessed": []}
    links = [q for q in captured.captured_queries if "delivery_messageevent" in q["sql"]]
    assert len(links) == 1
    assert MessageEvent.objects.filter(run=run, kind="viewed").count() == 250
    assert MessageEvent.objects.filter(run=run, kind="clicked").count() == 250
