"""Profile.push_android / push_ios / push_web follow the profile's devices with a push token,
kept by the PostgreSQL triggers of audience migration 0009 whoever writes the devices."""

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Exists, OuterRef, Q

from apps.audience.ingest import ingest_records
from apps.audience.models import Device, Platform, Profile
from tests.audience.factories import DeviceFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def flags(profile: Profile) -> tuple[bool, bool, bool]:
    row = Profile.objects.values_list("push_android", "push_ios", "push_web").get(pk=profile.pk)
    return tuple(row)


def flags_from_devices() -> dict[int, tuple[bool, bool, bool]]:
    """Every profile's flags as the devices say they should be."""
    with_token = Device.objects.filter(profile_id=OuterRef("pk"), push_token__isnull=False).exclude(
        push_token=""
    )
    rows = Profile.objects.annotate(
        android=Exists(with_token.filter(platform=Platform.ANDROID)),
        ios=Exists(with_token.filter(platform=Platform.IOS)),
        web=Exists(with_token.filter(platform=Platform.WEB)),
    ).values_list("pk", "android", "ios", "web")
    return {pk: (a, i, w) for pk, a, i, w in rows}


def stored_flags() -> dict[int, tuple[bool, bool, bool]]:
    rows = Profile.objects.values_list("pk", "push_android", "push_ios", "push_web")
    return {pk: (a, i, w) for pk, a, i, w in rows}


def test_a_new_profile_has_no_push_flags():
    assert flags(ProfileFactory()) == (False, False, False)


def test_a_device_with_a_token_sets_its_platform_flag_only():
    profile = ProfileFactory()
    DeviceFactory(profile=profile, platform=Platform.IOS)

    assert flags(profile) == (False, True, False)


def test_a_device_without_a_token_sets_no_flag():
    profile = ProfileFactory()
    DeviceFactory(profile=profile, platform=Platform.ANDROID, push_token=None)
    DeviceFactory(profile=profile, platform=Platform.WEB, push_token="")

    assert flags(profile) == (False, False, False)


def test_clearing_the_token_clears_the_flag_unless_another_device_has_one():
    profile = ProfileFactory()
    phone = DeviceFactory(profile=profile, platform=Platform.ANDROID)
    tablet = DeviceFactory(profile=profile, platform=Platform.ANDROID)

    Device.objects.filter(pk=phone.pk).update(push_token=None)
    assert flags(profile) == (True, False, False)  # the tablet still has a token

    tablet.push_token = ""
    tablet.save()
    assert flags(profile) == (False, False, False)


def test_setting_a_token_on_a_tokenless_device_sets_the_flag():
    profile = ProfileFactory()
    device = DeviceFactory(profile=profile, platform=Platform.WEB, push_token=None)

    Device.objects.filter(pk=device.pk).update(push_token="web-token-1")

    assert flags(profile) == (False, False, True)


def test_changing_the_platform_moves_the_flag():
    profile = ProfileFactory()
    device = DeviceFactory(profile=profile, platform=Platform.ANDROID)

    Device.objects.filter(pk=device.pk).update(platform=Platform.IOS)

    assert flags(profile) == (False, True, False)


def test_a_device_moved_to_another_profile_moves_its_flag():
    old_owner, new_owner = ProfileFactory(), ProfileFactory()
    device = DeviceFactory(profile=old_owner, platform=Platform.ANDROID)
    DeviceFactory(profile=old_owner, platform=Platform.WEB)

    Device.objects.filter(pk=device.pk).update(profile=new_owner)

    assert flags(old_owner) == (False, False, True)
    assert flags(new_owner) == (True, False, False)


def test_deleting_devices_clears_the_flags_one_statement_at_a_time():
    profile = ProfileFactory()
    android = DeviceFactory(profile=profile, platform=Platform.ANDROID)
    DeviceFactory(profile=profile, platform=Platform.IOS)

    android.delete()
    assert flags(profile) == (False, True, False)

    Device.objects.filter(profile=profile).delete()
    assert flags(profile) == (False, False, False)


def test_an_update_of_other_device_fields_writes_no_profile_row():
    profile = ProfileFactory()
    device = DeviceFactory(profile=profile, platform=Platform.ANDROID)
    before = _row_version(profile)

    Device.objects.filter(pk=device.pk).update(app_version="9.9.9", last_active=None)

    assert _row_version(profile) == before
    assert flags(profile) == (True, False, False)


def test_saving_a_stale_profile_copy_does_not_overwrite_the_flags():
    # The factory's in-memory profile still says False: Django's save() writes every column.
    profile = ProfileFactory()
    DeviceFactory(profile=profile, platform=Platform.IOS)
    assert profile.push_ios is False

    profile.name = "Renamed"
    profile.save()

    assert flags(profile) == (False, True, False)
    Profile.objects.filter(pk=profile.pk).update(push_android=True, push_ios=False)
    assert flags(profile) == (False, True, False)


def test_one_statement_writing_many_devices_sets_every_profile_right():
    people = ProfileFactory.create_batch(4)
    Device.objects.bulk_create(
        [
            Device(profile=people[0], platform=Platform.ANDROID, push_token="b-1"),
            Device(profile=people[0], platform=Platform.WEB, push_token="b-2"),
            Device(profile=people[1], platform=Platform.IOS, push_token="b-3"),
            Device(profile=people[2], platform=Platform.IOS, push_token=None),
        ]
    )

    assert [flags(p) for p in people] == [
        (True, False, True),
        (False, True, False),
        (False, False, False),
        (False, False, False),
    ]


def test_the_upload_api_token_records_set_and_move_the_flags():
    ingest_records(
        [
            {"type": "token", "identity": "a", "tokenData": {"id": "t1", "type": "fcm"}},
            {"type": "token", "identity": "a", "tokenData": {"id": "t2", "type": "apns"}},
            {"type": "token", "identity": "b", "tokenData": {"id": "t3", "type": "webpush"}},
        ]
    )
    a, b = Profile.objects.get(identity="a"), Profile.objects.get(identity="b")
    assert flags(a) == (True, True, False)
    assert flags(b) == (False, False, True)

    # The same token seen for b: the upsert moves the device, and both profiles follow.
    ingest_records([{"type": "token", "identity": "b", "tokenData": {"id": "t2", "type": "apns"}}])

    assert flags(a) == (True, False, False)
    assert flags(b) == (False, True, True)
    assert stored_flags() == flags_from_devices()


def test_deleting_a_profile_with_devices_works():
    profile = ProfileFactory()
    DeviceFactory(profile=profile, platform=Platform.ANDROID)

    profile.delete()

    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert not Device.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_bulk_load_leaves_every_profile_with_the_flags_of_its_devices():
    call_command(
        "seed_demo",
        "--profiles",
        "300",
        "--events-per-profile",
        "2",
        "--seed",
        "3",
        stdout=io.StringIO(),
    )

    expected = flags_from_devices()
    assert len(expected) == 300
    assert stored_flags() == expected
    # The demo people use every platform, and some have no push device at all.
    assert Profile.objects.filter(push_android=True).exists()
    assert Profile.objects.filter(push_ios=True).exists()
    assert Profile.objects.filter(push_web=True).exists()
    assert Profile.objects.filter(push_android=False, push_ios=False, push_web=False).exists()
    assert not Profile.objects.filter(
        Q(push_android=True) | Q(push_ios=True) | Q(push_web=True), devices__isnull=True
    ).exists()


def _row_version(profile: Profile) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ctid::text FROM audience_profile WHERE id = %s", [profile.pk])
        return cursor.fetchone()[0]
