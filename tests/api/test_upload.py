import json

import pytest
from django.conf import settings
from django.db import connection

from apps.api import errors
from apps.audience.models import Device, Event, Profile
from tests.api.helpers import upload

pytestmark = pytest.mark.django_db

TS = 1_700_000_000


def test_a_valid_batch_stores_profiles_events_and_tokens(client, api_headers):
    records = [
        {
            "type": "profile",
            "identity": "jane",
            "ts": TS,
            "profileData": {
                "Name": "Jane Doe",
                "Email": "jane@example.com",
                "Phone": "+442071838750",
                "Gender": "F",
                "MSG-sms": False,
                "Customer Type": "Silver",
            },
        },
        {
            "type": "event",
            "identity": "jane",
            "ts": TS + 60,
            "evtName": "Product viewed",
            "evtData": {"Product name": "Casio Watch", "Price": 59.99},
        },
        {
            "type": "token",
            "identity": "jane",
            "ts": TS + 60,
            "tokenData": {"id": "apns-abc", "type": "apns", "model": "iPhone 15"},
        },
    ]

    response = upload(client, api_headers, records)

    assert response.status_code == 200
    assert response.json() == {"status": "success", "processed": 3, "unprocessed": []}
    profile = Profile.objects.get(identity="jane")
    assert (profile.name, profile.email, profile.phone, profile.gender) == (
        "Jane Doe",
        "jane@example.com",
        "+442071838750",
        "F",
    )
    assert profile.sms_unsubscribed is True and profile.email_unsubscribed is False
    assert profile.properties == {"Customer Type": "Silver"}
    event = Event.objects.get()
    assert (event.profile, event.name) == (profile, "Product viewed")
    assert event.properties == {"Product name": "Casio Watch", "Price": 59.99}
    assert event.ts.timestamp() == TS + 60
    assert profile.last_seen.timestamp() == TS + 60
    device = Device.objects.get()
    assert (device.profile, device.platform, device.model) == (profile, "ios", "iPhone 15")


def test_upload_skips_a_bad_record_and_stores_the_rest(client, api_headers):
    bad_phone = {"type": "profile", "identity": "p2", "profileData": {"Phone": "12"}}
    no_identity = {"type": "event", "evtName": "Orphan"}
    records = [
        {"type": "profile", "identity": "p1", "profileData": {"Name": "Good"}},
        bad_phone,
        {"type": "event", "identity": "p1", "evtName": "Good event"},
        no_identity,
    ]

    response = upload(client, api_headers, records)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["processed"] == 2
    assert body["unprocessed"] == [
        {
            "status": "fail",
            "code": errors.RECORD_INVALID_PHONE,
            "error": 'profileData.Phone "12" is not a valid phone number in E.164 form '
            "(e.g. +14155550123)",
            "record": bad_phone,
        },
        {
            "status": "fail",
            "code": errors.RECORD_MISSING_IDENTITY,
            "error": "record needs one of identity, objectId, FBID or email to say whose it is",
            "record": no_identity,
        },
    ]
    assert list(Profile.objects.values_list("identity", "name")) == [("p1", "Good")]
    assert list(Event.objects.values_list("name", flat=True)) == ["Good event"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"d": [{"type": "profile",', "Invalid payload: the body is not valid JSON"),
        (b"", "Invalid payload: the body is empty"),
        (b"\xff\xfe\x00garbage", "Invalid payload: the body is not valid JSON"),
        (b"identity=x&type=profile", "Invalid payload: the body is not valid JSON"),
        (b'{"d": [{"type": "event", "identity": "x", "evtName": "E", "ts": NaN}]}', "NaN"),
        (b'[{"type": "profile", "identity": "x"}]', "the body must be a JSON object"),
        (b'{"data": []}', '"d" is missing'),
        (b'{"d": {"type": "profile"}}', '"d" must be a list of records'),
    ],
)
def test_a_malformed_request_is_refused_with_400_and_nothing_is_written(
    client, api_headers, body, message
):
    response = upload(client, api_headers, body=body)

    assert response.status_code == 400
    answer = response.json()
    assert (answer["status"], answer["code"]) == ("fail", errors.INVALID_PAYLOAD)
    assert message in answer["error"]
    assert not Profile.objects.exists() and not Event.objects.exists()


def test_more_than_1000_records_are_refused_whole(client, api_headers):
    records = [
        {"type": "event", "identity": f"u{i}", "evtName": "E"}
        for i in range(settings.UPLOAD_API_MAX_RECORDS + 1)
    ]

    response = upload(client, api_headers, records)

    assert response.status_code == 400
    assert response.json() == {
        "status": "fail",
        "error": '"d" has 1001 records; send at most 1000 per request',
        "code": errors.TOO_MANY_RECORDS,
    }
    assert not Profile.objects.exists() and not Event.objects.exists()


def test_exactly_1000_records_are_accepted(client, api_headers):
    records = [{"type": "event", "identity": f"u{i % 250}", "evtName": "E"} for i in range(1000)]

    response = upload(client, api_headers, records)

    assert response.json()["processed"] == 1000
    assert Profile.objects.count() == 250 and Event.objects.count() == 1000


def test_an_empty_list_is_a_successful_no_op(client, api_headers):
    response = upload(client, api_headers, [])
    assert response.json() == {"status": "success", "processed": 0, "unprocessed": []}


def test_unicode_names_and_emoji_round_trip(client, api_headers):
    records = [
        {"type": "profile", "identity": "王芳", "profileData": {"Name": "王芳", "城市": "北京"}},
        {
            "type": "event",
            "identity": "王芳",
            "evtName": "Reacted",
            "evtData": {"reaction": "😍🔥", "note": "très bien"},
        },
    ]

    assert upload(client, api_headers, records).json()["processed"] == 2

    response = client.get("/1/profile.json", {"identity": "王芳"}, **api_headers)
    record = response.json()["record"]
    assert record["name"] == "王芳" and record["profileData"] == {"城市": "北京"}
    assert "王芳" in response.content.decode()  # sent as UTF-8, not \u escapes
    event = Event.objects.get()
    assert event.properties == {"reaction": "😍🔥", "note": "très bien"}


def test_unicode_in_a_rejected_record_comes_back_intact(client, api_headers):
    bad = {"type": "event", "identity": "пользователь", "evtName": "", "evtData": {"x": "🙂"}}

    unprocessed = upload(client, api_headers, [bad]).json()["unprocessed"]

    assert unprocessed[0]["record"] == bad


def test_duplicate_identities_in_one_request_make_one_profile_merged_in_order(client, api_headers):
    records = [
        {"type": "profile", "identity": "same", "profileData": {"Name": "One", "tier": "a"}},
        {"type": "profile", "identity": "same", "profileData": {"Name": "Two", "seen": 1}},
        {"type": "profile", "identity": "same", "profileData": {"tier": "b"}},
    ]

    assert upload(client, api_headers, records).json()["processed"] == 3

    profile = Profile.objects.get()
    assert profile.name == "Two"
    assert profile.properties == {"tier": "b", "seen": 1}


def test_a_second_request_keeps_columns_it_does_not_provide_and_merges_properties(
    client, api_headers
):
    upload(
        client,
        api_headers,
        [
            {
                "type": "profile",
                "identity": "m",
                "profileData": {"Name": "Kept", "Phone": "+14155550123", "a": 1, "b": 1},
            }
        ],
    )
    upload(
        client,
        api_headers,
        [{"type": "profile", "identity": "m", "profileData": {"City": "Pune", "b": 2, "c": 3}}],
    )

    profile = Profile.objects.get()
    assert (profile.name, profile.phone, profile.city) == ("Kept", "+14155550123", "Pune")
    assert profile.properties == {"a": 1, "b": 2, "c": 3}


def test_an_event_for_an_unknown_identity_creates_the_profile(client, api_headers):
    response = upload(
        client,
        api_headers,
        [{"type": "event", "identity": "stranger", "ts": TS, "evtName": "App Launched"}],
    )

    assert response.json()["processed"] == 1
    profile = Profile.objects.get(identity="stranger")
    assert list(profile.events.values_list("name", flat=True)) == ["App Launched"]
    assert profile.first_seen.timestamp() == TS == profile.last_seen.timestamp()


def test_records_are_returned_exactly_as_received(client, api_headers):
    odd = {"type": "profile", "identity": "o", "profileData": {"DOB": 19900101}, "extra": [1, 2]}

    body = json.loads(upload(client, api_headers, [odd]).content)

    assert body["unprocessed"][0]["record"] == odd
    assert body["unprocessed"][0]["code"] == errors.RECORD_INVALID_FIELD
    assert "profileData.DOB 19900101" in body["unprocessed"][0]["error"]


def test_a_database_failure_answers_89_and_leaves_nothing_half_written(client, api_headers):
    with connection.cursor() as cursor:  # a real failure inside the write transaction
        cursor.execute(
            "CREATE FUNCTION refuse_devices() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'tablespace full'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_devices BEFORE INSERT ON audience_device "
            "FOR EACH ROW EXECUTE FUNCTION refuse_devices()"
        )
    records = [
        {"type": "profile", "identity": "half", "profileData": {"Name": "H"}},
        {"type": "token", "identity": "half", "tokenData": {"id": "tk", "type": "fcm"}},
    ]

    response = upload(client, api_headers, records)

    assert response.status_code == 500
    assert response.json() == {
        "status": "fail",
        "error": "Unexpected error, please try again",
        "code": errors.UNEXPECTED_ERROR,
    }
    assert not Profile.objects.exists() and not Device.objects.exists()
