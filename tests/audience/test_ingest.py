import base64
import time
from datetime import UTC, date, datetime

import pytest
from django.db import DatabaseError, connection

from apps.audience.ingest import RecordError, ingest_records, profile_lookup
from apps.audience.models import Device, Event, Profile
from apps.audience.services import devices_deactivate

pytestmark = pytest.mark.django_db

TS = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def test_a_profile_record_fills_columns_and_keeps_other_keys_as_properties():
    result = ingest_records(
        [
            {
                "type": "profile",
                "identity": "u-1",
                "ts": TS,
                "profileData": {
                    "Name": "Ada Lovelace",
                    "Email": "Ada@Example.com",
                    "Phone": "+1 415 555 0123",
                    "Gender": "Female",
                    "DOB": "$D_-4752000",  # 1969-11-07 00:00 UTC
                    "Timezone": "Europe/London",
                    "Language": "en",
                    "Country": "UK",
                    "Region": "England",
                    "City": "London",
                    "Latitude": 51.5,
                    "Longitude": "-0.12",
                    "MSG-email": False,
                    "MSG-sms": True,
                    "MSG-push": "false",
                    "Customer Type": "Platinum",
                    "Score": 42,
                },
            }
        ]
    )

    assert result.processed == 1 and result.rejected == []
    profile = Profile.objects.get(identity="u-1")
    assert profile.name == "Ada Lovelace"
    assert profile.email == "ada@example.com"
    assert profile.phone == "+14155550123"
    assert profile.gender == "F"
    assert profile.date_of_birth == date(1969, 11, 7)
    assert (profile.timezone, profile.language) == ("Europe/London", "en")
    assert (profile.country, profile.region, profile.city) == ("UK", "England", "London")
    assert (profile.latitude, profile.longitude) == (51.5, -0.12)
    assert profile.email_unsubscribed is True
    assert profile.sms_unsubscribed is False
    assert profile.push_opt_out is True
    assert profile.properties == {"Customer Type": "Platinum", "Score": 42}
    assert profile.object_id.startswith("__h")


def test_dob_also_accepts_an_iso_date_and_gender_a_single_letter():
    ingest_records(
        [
            {
                "type": "profile",
                "identity": "u-2",
                "profileData": {"DOB": "1990-02-28", "Gender": "o"},
            }
        ]
    )
    profile = Profile.objects.get(identity="u-2")
    assert profile.date_of_birth == date(1990, 2, 28)
    assert profile.gender == "O"


def profile(**profile_data):
    return {"type": "profile", "identity": "x", "profileData": profile_data}


def event(**fields):
    return {"type": "event", "identity": "x", **fields}


def token(**token_data):
    return {"type": "token", "identity": "x", "tokenData": token_data}


E = RecordError
BAD_RECORDS = [
    ("just a string", E.NOT_AN_OBJECT, "record must be a JSON object"),
    ({"identity": "x", "profileData": {}}, E.INVALID_TYPE, "type must be"),
    ({"type": "profile", "profileData": {}}, E.MISSING_IDENTITY, "needs one of identity"),
    ({**profile(), "FBID": "y"}, E.INVALID_IDENTITY, "only one of identity, objectId, FBID"),
    ({**profile(), "identity": ["x"]}, E.INVALID_IDENTITY, "identity must be a string"),
    ({**profile(), "ts": "yesterday"}, E.INVALID_TS, "ts must be a number"),
    ({**profile(), "ts": 1_700_000_000_000}, E.INVALID_TS, "ts 1700000000000 is out of range"),
    ({**profile(), "ts": 631_152_000}, E.INVALID_TS, "ts 631152000 is out of range"),
    ({"type": "profile", "identity": "x"}, E.INVALID_PROFILE_DATA, "profileData must be"),
    (
        profile(Phone="12"),
        E.INVALID_PHONE,
        'profileData.Phone "12" is not a valid phone number in E.164 form',
    ),
    (profile(Email="nope"), E.INVALID_EMAIL, 'profileData.Email "nope"'),
    ({"type": "profile", "email": "not-an-email"}, E.INVALID_EMAIL, 'email "not-an-email"'),
    (profile(Gender="X"), E.INVALID_FIELD, 'profileData.Gender "X"'),
    (profile(DOB="07/11/1969"), E.INVALID_FIELD, "profileData.DOB"),
    (profile(Timezone="Mars/Base"), E.INVALID_FIELD, 'profileData.Timezone "Mars/Base"'),
    (profile(Latitude=91), E.INVALID_FIELD, "profileData.Latitude 91"),
    (profile(**{"MSG-sms": "maybe"}), E.INVALID_FIELD, "profileData.MSG-sms"),
    (profile(Name="n" * 201), E.INVALID_FIELD, "profileData.Name is longer than 200"),
    (profile(Name="a\x00b"), E.INVALID_FIELD, "profileData.Name holds a value that cannot"),
    (profile(Identity="y"), E.IDENTITY_CONFLICT, 'profileData.Identity "y" differs'),
    (event(evtData={}), E.INVALID_EVENT_NAME, "evtName must be a non-empty string"),
    (event(evtName="e" * 129), E.INVALID_EVENT_NAME, "evtName is longer than 128"),
    (event(evtName="Viewed", evtData=[1]), E.INVALID_EVENT_DATA, "evtData must be an object"),
    (token(id="t", type="sms"), E.INVALID_TOKEN_DATA, 'tokenData.type must be "fcm", "apns"'),
    (token(type="fcm"), E.INVALID_TOKEN_DATA, "tokenData.id"),
    (
        token(id="https://push.example/e/1", type="webpush"),
        E.INVALID_TOKEN_DATA,
        "tokenData.keys (p256dh and auth) are required for a Web Push subscription endpoint",
    ),
    (
        token(id="https://push.example/e/1", type="webpush", keys={"p256dh": "AAAA", "auth": "x"}),
        E.INVALID_TOKEN_DATA,
        "tokenData.keys.p256dh must be 65 bytes once decoded",
    ),
    (
        token(id="https://push.example/e/1", type="webpush", keys={"p256dh": "a b", "auth": "x"}),
        E.INVALID_TOKEN_DATA,
        "tokenData.keys.p256dh must be base64url text",
    ),
    (
        token(id="fcm-web-token", type="webpush", keys={"p256dh": "x", "auth": "y"}),
        E.INVALID_TOKEN_DATA,
        "tokenData.keys belong to a Web Push subscription",
    ),
]


@pytest.mark.parametrize(("record", "code", "message"), BAD_RECORDS)
def test_a_bad_record_is_rejected_with_a_code_and_a_message_naming_the_field(record, code, message):
    good = {"type": "event", "identity": "good", "evtName": "App Launched", "ts": TS}

    result = ingest_records([good, record])

    assert result.processed == 1
    [rejected] = result.rejected
    assert (rejected.index, rejected.code, rejected.record) == (1, code, record)
    assert message in rejected.error
    assert Event.objects.get().profile.identity == "good"
    assert not Profile.objects.filter(identity="x").exists()


def test_a_second_upload_merges_columns_and_properties_into_the_profile():
    ingest_records(
        [
            {
                "type": "profile",
                "identity": "u-3",
                "profileData": {"Name": "Grace", "City": "Arlington", "plan": "free", "age": 30},
            }
        ]
    )
    ingest_records(
        [{"type": "profile", "identity": "u-3", "profileData": {"City": "NYC", "plan": "pro"}}]
    )

    profile = Profile.objects.get(identity="u-3")
    assert profile.name == "Grace"  # not provided the second time: kept
    assert profile.city == "NYC"
    assert profile.properties == {"plan": "pro", "age": 30}


def test_records_about_the_same_identity_in_one_batch_merge_in_order():
    result = ingest_records(
        [
            {"type": "profile", "identity": "dup", "profileData": {"Name": "First", "a": 1}},
            {"type": "event", "identity": "dup", "evtName": "Viewed", "ts": TS + 50},
            {"type": "profile", "identity": "dup", "profileData": {"Name": "Second", "b": 2}},
            {"type": "event", "identity": "dup", "evtName": "Viewed", "ts": TS},
            {"type": "profile", "identity": "dup", "profileData": {"a": 3}},
        ]
    )

    assert result.processed == 5
    profile = Profile.objects.get(identity="dup")
    assert profile.name == "Second"
    assert profile.properties == {"a": 3, "b": 2}
    assert (profile.first_seen, profile.last_seen) == (at(TS), at(TS + 50))
    assert profile.events.count() == 2


def test_an_event_for_an_unknown_identity_creates_the_profile():
    ingest_records(
        [
            {
                "type": "event",
                "identity": "new-person",
                "ts": TS,
                "evtName": "Charged",
                "evtData": {"Amount": 300, "Items": [{"Category": "shoes"}]},
            }
        ]
    )

    profile = Profile.objects.get(identity="new-person")
    event = profile.events.get()
    assert (event.name, event.ts) == ("Charged", at(TS))
    assert event.properties == {"Amount": 300, "Items": [{"Category": "shoes"}]}
    assert (profile.first_seen, profile.last_seen) == (at(TS), at(TS))


def test_events_only_widen_first_and_last_seen():
    ingest_records([{"type": "event", "identity": "s", "evtName": "A", "ts": TS}])
    ingest_records([{"type": "event", "identity": "s", "evtName": "B", "ts": TS - 100}])
    ingest_records([{"type": "event", "identity": "s", "evtName": "C", "ts": TS - 50}])

    profile = Profile.objects.get(identity="s")
    assert (profile.first_seen, profile.last_seen) == (at(TS - 100), at(TS))


def test_a_missing_ts_means_now():
    before = time.time()
    ingest_records([{"type": "event", "identity": "now", "evtName": "Opened"}])
    assert Event.objects.get().ts.timestamp() >= before - 1


def test_each_identity_key_finds_the_same_profile():
    ingest_records([{"type": "profile", "identity": "k", "profileData": {"Email": "k@x.io"}}])
    profile = Profile.objects.get(identity="k")

    result = ingest_records(
        [
            {"type": "event", "objectId": profile.object_id, "evtName": "ByObjectId"},
            {"type": "event", "email": "K@X.io", "evtName": "ByEmail"},
            {"type": "event", "Email": "k@x.io", "evtName": "ByEmailAlias"},
        ]
    )

    assert result.processed == 3
    assert Profile.objects.count() == 1
    assert set(profile.events.values_list("name", flat=True)) == {
        "ByObjectId",
        "ByEmail",
        "ByEmailAlias",
    }


def test_unknown_keys_create_profiles_carrying_that_key():
    ingest_records(
        [
            {"type": "profile", "objectId": "_external-1", "profileData": {"Name": "O"}},
            {"type": "profile", "FBID": "1020293", "profileData": {"Name": "F"}},
            {"type": "profile", "email": "Someone@Example.com", "profileData": {"Name": "E"}},
        ]
    )

    assert Profile.objects.get(object_id="_external-1").name == "O"
    assert Profile.objects.get(fbid="1020293").name == "F"
    assert Profile.objects.get(email="someone@example.com").name == "E"


def test_profile_data_identity_gives_an_anonymous_profile_its_identity():
    ingest_records([{"type": "profile", "objectId": "_anon", "profileData": {"Name": "Anon"}}])
    ingest_records([{"type": "profile", "objectId": "_anon", "profileData": {"Identity": "u-9"}}])

    assert Profile.objects.get(identity="u-9").object_id == "_anon"
    assert Profile.objects.count() == 1


def test_profile_data_identity_that_belongs_to_someone_else_is_refused():
    ingest_records(
        [
            {"type": "profile", "identity": "taken", "profileData": {}},
            {"type": "profile", "objectId": "_other", "profileData": {"Name": "Other"}},
        ]
    )

    result = ingest_records(
        [
            {"type": "profile", "objectId": "_other", "profileData": {"Identity": "taken"}},
            {"type": "event", "objectId": "_other", "evtName": "Still stored"},
        ]
    )

    assert result.processed == 1
    [rejected] = result.rejected
    assert rejected.code == RecordError.IDENTITY_CONFLICT
    assert rejected.error == 'profileData.Identity "taken" belongs to another profile'
    assert Profile.objects.get(object_id="_other").identity is None
    assert Event.objects.get().name == "Still stored"


def test_a_token_record_creates_a_device_for_the_profile():
    ingest_records(
        [
            {
                "type": "token",
                "identity": "phone-owner",
                "ts": TS,
                "tokenData": {
                    "id": "fcm-token-1",
                    "type": "fcm",
                    "appVersion": "2.1.0",
                    "make": "Google",
                    "model": "Pixel 8",
                    "osVersion": "14",
                    "sdkVersion": 60100,
                },
            },
            {"type": "token", "identity": "phone-owner", "tokenData": {"id": "a", "type": "apns"}},
            {
                "type": "token",
                "identity": "phone-owner",
                "tokenData": {"id": "w", "type": "webpush"},
            },
        ]
    )

    profile = Profile.objects.get(identity="phone-owner")
    android = Device.objects.get(push_token="fcm-token-1")
    assert android.profile == profile
    assert (android.platform, android.app_version, android.make, android.model) == (
        "android",
        "2.1.0",
        "Google",
        "Pixel 8",
    )
    assert (android.os_version, android.sdk_version, android.last_active) == ("14", "60100", at(TS))
    assert Device.objects.get(push_token="a").platform == "ios"
    assert Device.objects.get(push_token="w").platform == "web"


def test_a_token_seen_again_moves_to_the_new_profile_and_keeps_its_other_fields():
    ingest_records(
        [
            {
                "type": "token",
                "identity": "a",
                "tokenData": {"id": "t1", "type": "fcm", "make": "Sony"},
            }
        ]
    )
    ingest_records(
        [
            {
                "type": "token",
                "identity": "b",
                "tokenData": {"id": "t1", "type": "fcm", "model": "X1"},
            }
        ]
    )

    device = Device.objects.get(push_token="t1")
    assert device.profile.identity == "b"
    assert (device.make, device.model) == ("Sony", "X1")


def test_unicode_is_stored_as_given():
    ingest_records(
        [
            {
                "type": "profile",
                "identity": "李雷",
                "profileData": {"Name": "李雷", "爱好": "乒乓球"},
            },
            {
                "type": "event",
                "identity": "李雷",
                "evtName": "点赞 👍",
                "evtData": {"emoji": "🎉✨"},
            },
        ]
    )

    profile = Profile.objects.get(identity="李雷")
    assert profile.name == "李雷" and profile.properties == {"爱好": "乒乓球"}
    event = profile.events.get()
    assert (event.name, event.properties) == ("点赞 👍", {"emoji": "🎉✨"})


def test_a_batch_takes_a_fixed_number_of_queries_whatever_its_size(django_assert_max_num_queries):
    existing = [{"type": "profile", "identity": f"old-{i}", "profileData": {}} for i in range(300)]
    ingest_records(existing)
    batch = []
    for i in range(300):
        batch.append({"type": "profile", "identity": f"old-{i}", "profileData": {"n": i}})
        batch.append({"type": "event", "identity": f"new-{i}", "evtName": "E", "ts": TS})
        batch.append(
            {"type": "token", "identity": f"new-{i}", "tokenData": {"id": f"t{i}", "type": "fcm"}}
        )

    # savepoint, 1 lookup, insert, lock, update, device read + upsert, events, release
    with django_assert_max_num_queries(10):
        result = ingest_records(batch)

    assert result.processed == 900
    assert Profile.objects.count() == 600
    assert Event.objects.count() == 300 and Device.objects.count() == 300


def test_nothing_is_written_when_the_database_fails_midway():
    # A real database failure on the last write of the call: inserting events.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_events BEFORE INSERT ON audience_event "
            "FOR EACH ROW EXECUTE FUNCTION refuse_events()"
        )

    with pytest.raises(DatabaseError, match="disk full"):
        ingest_records(
            [
                {"type": "profile", "identity": "half", "profileData": {"Name": "H"}},
                {"type": "token", "identity": "half", "tokenData": {"id": "tk", "type": "fcm"}},
                {"type": "event", "identity": "half", "evtName": "E"},
            ]
        )

    assert not Profile.objects.exists()
    assert not Device.objects.exists()


def test_profile_lookup_finds_by_each_key_and_email_in_any_case():
    ingest_records([{"type": "profile", "identity": "look", "profileData": {"Email": "look@x.io"}}])
    profile = Profile.objects.get()

    assert profile_lookup(key_kind="identity", value="look") == profile
    assert profile_lookup(key_kind="object_id", value=profile.object_id) == profile
    assert profile_lookup(key_kind="email", value="LOOK@x.io") == profile
    assert profile_lookup(key_kind="identity", value="nobody") is None


def test_sending_the_same_data_again_leaves_the_profile_row_untouched():
    record = {"type": "profile", "identity": "same", "profileData": {"Name": "S", "x": [1, 2]}}
    ingest_records([record, {"type": "event", "identity": "same", "evtName": "E", "ts": TS}])
    written = Profile.objects.get().updated_at

    result = ingest_records(
        [record, {"type": "event", "identity": "same", "evtName": "E", "ts": TS}]
    )

    assert result.processed == 2
    assert Profile.objects.get().updated_at == written
    assert Event.objects.count() == 2  # events are facts: each one is stored


def test_a_changed_property_type_counts_as_a_change():
    ingest_records([{"type": "profile", "identity": "t", "profileData": {"flag": 1}}])
    ingest_records([{"type": "profile", "identity": "t", "profileData": {"flag": True}}])

    assert Profile.objects.get().properties == {"flag": True}


P256DH = base64.urlsafe_b64encode(b"\x04" + b"k" * 64).rstrip(b"=").decode()
AUTH = base64.urlsafe_b64encode(b"s" * 16).rstrip(b"=").decode()


def test_a_web_push_subscription_is_stored_with_its_keys():
    endpoint = "https://updates.push.services.mozilla.com/wpush/v2/gAAAA"
    subscription = {"id": endpoint, "type": "webpush", "keys": {"p256dh": P256DH, "auth": AUTH}}

    result = ingest_records([{"type": "token", "identity": "browser", "tokenData": subscription}])

    assert result.processed == 1 and not result.rejected
    device = Device.objects.get(push_token=endpoint)
    assert (device.platform, device.push_keys) == ("web", {"p256dh": P256DH, "auth": AUTH})


def test_a_deactivated_token_uploaded_again_is_a_new_registration():
    ingest_records([token(id="fcm-token-again", type="fcm")])
    old = Device.objects.get(push_token="fcm-token-again")
    assert devices_deactivate(dead={"fcm-token-again": "UNREGISTERED: gone"}) == 1

    ingest_records([token(id="fcm-token-again", type="fcm")])

    fresh = Device.objects.get(push_token="fcm-token-again")
    assert fresh.pk != old.pk and fresh.deactivated_at is None
    old.refresh_from_db()
    assert (old.push_token, old.deactivated_token) == (None, "fcm-token-again")
    assert Profile.objects.get(identity="x").push_android is True


def test_a_device_whose_token_changed_since_the_send_is_not_deactivated():
    ingest_records([token(id="old-token", type="fcm")])
    device = Device.objects.get(push_token="old-token")
    Device.objects.filter(pk=device.pk).update(push_token="new-token")

    assert devices_deactivate(dead={"old-token": "UNREGISTERED"}) == 0
    device.refresh_from_db()
    assert device.push_token == "new-token" and device.deactivated_at is None
