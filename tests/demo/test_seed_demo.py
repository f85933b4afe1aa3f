"""`manage.py seed_demo` on PostgreSQL: worker processes COPY over their own connections, so
these tests need committed data (transactional_db)."""

import io
import json
import zoneinfo
from datetime import timedelta

import phonenumbers
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Exists, Max, Min, OuterRef
from django.utils import timezone

from apps.audience.cities import CITIES
from apps.audience.models import Device, Event, Profile
from apps.demo.management.commands import seed_demo
from apps.demo.providers import demo_web_push_base
from apps.providers.kinds.webpush.wire import sandbox_subscription

pytestmark = pytest.mark.django_db(transaction=True)

IANA_ZONES = zoneinfo.available_timezones()


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def event_indexes() -> set[str]:
    """The event table's indexes and key constraints (PostgreSQL 18 also lists each NOT NULL
    as a constraint; seed_demo leaves those alone)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'audience_event'"
            " UNION ALL SELECT conname FROM pg_constraint"
            " WHERE conrelid = 'audience_event'::regclass AND contype <> 'n'"
        )
        return {row[0] for row in cursor.fetchall()}


def test_seed_demo_writes_the_requested_profiles_with_valid_contact_data():
    output = seed("--profiles", "200", "--events-per-profile", "10", "--seed", "7")

    profiles = list(Profile.objects.all())
    assert len(profiles) == 200
    assert output.strip().splitlines()[-1].startswith("seeded 200 profiles, ")
    cities = {(c.country, c.region, c.city): c for c in CITIES}
    with_phone = [p for p in profiles if p.phone]
    assert len(with_phone) > 150
    for profile in with_phone:
        number = phonenumbers.parse(profile.phone)
        assert phonenumbers.is_valid_number(number), profile.phone
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == (
            profile.phone
        )
    for profile in profiles:
        assert profile.timezone in IANA_ZONES
        city = cities[(profile.country, profile.region, profile.city)]
        assert profile.timezone == city.timezone
        assert abs(profile.latitude - city.latitude) < 0.5
        assert abs(profile.longitude - city.longitude) < 0.5
        assert profile.name and profile.identity and profile.object_id.startswith("__h")
        assert profile.gender in {"M", "F", "O", ""}
        assert {"plan", "loyalty_points", "signup_source"} <= set(profile.properties)
    assert len({p.identity for p in profiles}) == 200
    assert sum("@" in p.email for p in profiles) > 150
    assert len({p.country for p in profiles}) > 10
    assert any(p.email_unsubscribed or p.sms_unsubscribed or p.push_opt_out for p in profiles)
    assert not all(p.email_unsubscribed for p in profiles)


def test_seed_demo_gives_most_people_devices_with_unique_push_tokens():
    seed("--profiles", "200", "--events-per-profile", "10", "--seed", "7")

    devices = list(Device.objects.all())
    tokens = [d.push_token for d in devices]
    assert all(tokens)
    assert len(set(tokens)) == len(tokens)
    assert {d.platform for d in devices} == {"android", "ios", "web"}
    assert all(d.make and d.model and d.os_version and d.sdk_version for d in devices)
    # Browsers are Web Push subscriptions on the demo's sandboxed push service, with the keys
    # the sandbox derives from their id; phones hold plain tokens.
    for device in devices:
        if device.platform == "web":
            subscription_id = device.push_token.rpartition("/wp/")[2]
            expected = sandbox_subscription(demo_web_push_base(), subscription_id)
            assert (device.push_token, device.push_keys) == (
                expected["endpoint"],
                expected["keys"],
            )
        else:
            assert device.push_keys is None
    with_device = Profile.objects.filter(devices__isnull=False).distinct().count()
    assert 100 < with_device < 200  # some people only ever used the website without push


def test_seed_demo_events_span_the_last_90_days_and_match_first_and_last_seen():
    seed("--profiles", "200", "--events-per-profile", "10", "--seed", "7")
    now = timezone.now()

    events = Event.objects.all()
    assert 1000 < events.count() < 4000  # 10 per profile on average
    span = events.aggregate(first=Min("ts"), last=Max("ts"))
    assert span["first"] >= now - timedelta(days=90)
    assert span["last"] <= now
    assert span["first"] < now - timedelta(days=45)  # history is spread, not bunched
    seen = {
        row["profile_id"]: (row["first"], row["last"])
        for row in events.values("profile_id").annotate(first=Min("ts"), last=Max("ts"))
    }
    for profile in Profile.objects.all():
        assert seen[profile.id] == (profile.first_seen, profile.last_seen)
        assert profile.created_at == profile.first_seen  # dated from their history, not today


def test_seed_demo_records_purchases_with_items_and_abandoned_carts():
    seed("--profiles", "200", "--events-per-profile", "10", "--seed", "7")

    names = set(Event.objects.values_list("name", flat=True).distinct())
    assert {"App Launched", "Product Viewed", "Added To Cart", "Charged"} <= names
    viewed = Event.objects.filter(name="Product Viewed").first()
    assert {"Product", "Category", "Price"} <= set(viewed.properties)
    charged = list(Event.objects.filter(name="Charged"))
    assert len(charged) >= 10
    for event in charged:
        props = event.properties
        assert {"Amount", "Currency", "Payment mode", "Items"} <= set(props)
        assert isinstance(props["Items"], list) and props["Items"]
        for item in props["Items"]:
            assert set(item) == {"Category", "Name", "Price", "Quantity"}
        total = sum(item["Price"] * item["Quantity"] for item in props["Items"])
        assert props["Amount"] == pytest.approx(total, abs=1)
    # An abandoned cart: something added to the cart and no purchase after it.
    paid_later = Event.objects.filter(
        profile=OuterRef("profile"), name="Charged", ts__gte=OuterRef("ts")
    )
    abandoned = Event.objects.filter(name="Added To Cart").exclude(Exists(paid_later))
    assert abandoned.values("profile").distinct().count() >= 5


def test_a_second_run_adds_rows_without_colliding_with_the_first():
    seed("--profiles", "150", "--events-per-profile", "5", "--seed", "3")
    first_ids = set(Profile.objects.values_list("id", flat=True))

    seed("--profiles", "150", "--events-per-profile", "5", "--seed", "3")

    assert Profile.objects.count() == 300
    assert Profile.objects.values("identity").distinct().count() == 300
    assert Profile.objects.values("object_id").distinct().count() == 300
    tokens = list(Device.objects.values_list("push_token", flat=True))
    assert len(set(tokens)) == len(tokens)
    assert first_ids < set(Profile.objects.values_list("id", flat=True))
    # The id sequence moved past the seeded rows: a profile created normally still fits.
    created = Profile.objects.create(identity="after-seed")
    assert created.id > max(Profile.objects.exclude(pk=created.pk).values_list("id", flat=True))


def test_reset_deletes_existing_profiles_devices_and_events_first():
    seed("--profiles", "100", "--events-per-profile", "5", "--seed", "1")
    kept_by_hand = Profile.objects.create(identity="hand-made")

    output = seed("--profiles", "40", "--events-per-profile", "5", "--seed", "2", "--reset")

    assert "reset: deleted" in output
    assert Profile.objects.count() == 40
    assert not Profile.objects.filter(pk=kept_by_hand.pk).exists()
    assert not Event.objects.exclude(profile__in=Profile.objects.all()).exists()
    assert Device.objects.filter(profile__in=Profile.objects.all()).count() == (
        Device.objects.count()
    )


def test_json_summary_counts_every_row_written():
    output = seed("--profiles", "120", "--events-per-profile", "8", "--json")

    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["profiles"] == Profile.objects.count() == 120
    assert summary["devices"] == Device.objects.count()
    assert summary["events"] == Event.objects.count()
    assert summary["rows"] == summary["profiles"] + summary["devices"] + summary["events"]
    assert summary["rows_per_s"] > 0 and summary["seconds"] > 0


def test_rebuild_mode_puts_back_every_event_index_and_the_foreign_key():
    before = event_indexes()

    output = seed("--profiles", "100", "--events-per-profile", "5", "--indexes", "rebuild")

    # Every secondary index and the foreign key: all but the primary key.
    assert f"dropped {len(before) - 1} event indexes/constraints" in output
    assert event_indexes() == before
    assert Event.objects.count() > 100
    assert not seed_demo._recovery_file().exists()


def test_indexes_left_dropped_by_a_killed_run_are_restored_by_the_next_run():
    before = event_indexes()
    seed_demo._drop_event_indexes()  # what a run killed mid-load leaves behind
    assert event_indexes() != before

    output = seed("--profiles", "20", "--events-per-profile", "3")

    assert f"restoring {len(before) - 1} event indexes" in output
    assert event_indexes() == before
