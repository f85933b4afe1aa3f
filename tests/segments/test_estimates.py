"""Reach estimates: totals and per-channel reach honouring opt-outs, one SQL statement, the
cache (a hit runs no SQL; a changed definition misses), and the preview sample."""

import pytest
from django.core.cache import cache

from apps.accounts.services import account_settings_get
from apps.audience.models import Device, Platform, Profile
from apps.segments.definitions import DefinitionError
from apps.segments.estimates import ReachEstimate, segment_estimate, segment_sample
from tests.segments.factories import DeviceFactory, ProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def audience():
    """Six Paris profiles with hand-picked channels, and one in London."""
    android_ios = ProfileFactory(identity="android_ios", city="Paris", phone="+33600000001")
    DeviceFactory(profile=android_ios, platform=Platform.ANDROID)
    DeviceFactory(profile=android_ios, platform=Platform.IOS)
    web = ProfileFactory(identity="web", city="Paris", phone="", sms_unsubscribed=False)
    DeviceFactory(profile=web, platform=Platform.WEB)
    opted_out = ProfileFactory(identity="opted_out", city="Paris", push_opt_out=True)
    DeviceFactory(profile=opted_out, platform=Platform.ANDROID)
    tokenless = ProfileFactory(identity="tokenless", city="Paris", email="")
    DeviceFactory(profile=tokenless, platform=Platform.IOS, push_token=None)
    ProfileFactory(
        identity="unsubscribed",
        city="Paris",
        phone="+33600000002",
        sms_unsubscribed=True,
        email_unsubscribed=True,
    )
    ProfileFactory(identity="sms_only", city="Paris", phone="+33600000003", email="")
    london = ProfileFactory(identity="london", city="London", phone="+447700900000")
    DeviceFactory(profile=london, platform=Platform.ANDROID)


PARIS = {"geography": {"cities": ["paris"]}}


def test_estimate_counts_total_and_reach_per_channel_honouring_opt_outs(audience):
    estimate = segment_estimate(definition=PARIS, use_cache=False)
    assert isinstance(estimate, ReachEstimate)
    assert estimate.total == 6
    assert estimate.push_android == 1  # opted_out's android device does not count
    assert estimate.push_ios == 1  # tokenless has no token
    assert estimate.push_web == 1
    assert estimate.push == 2  # android_ios counted once
    assert estimate.sms == 2  # android_ios, sms_only (unsubscribed and web excluded)
    # ProfileFactory gives everyone an email: all but tokenless, sms_only and unsubscribed.
    assert estimate.email == 3


def test_push_reach_follows_device_changes_made_after_the_profiles_were_written(audience):
    # Push reach reads the profiles' push flags, which the database keeps from the devices.
    Device.objects.filter(profile__identity="android_ios", platform=Platform.IOS).delete()
    Device.objects.filter(profile__identity="tokenless").update(push_token="apns-now-set")
    Device.objects.filter(profile__identity="london").update(
        profile=Profile.objects.get(identity="web")
    )

    estimate = segment_estimate(definition=PARIS, use_cache=False)

    assert (estimate.push_android, estimate.push_ios, estimate.push_web) == (2, 1, 1)
    assert estimate.push == 3  # android_ios, web (now also android), tokenless


def test_estimate_is_one_sql_statement(audience, django_assert_num_queries):
    account_settings_get()  # created on first use; not part of what is measured
    with django_assert_num_queries(7) as captured:
        segment_estimate(definition=PARIS, use_cache=False)
    statements = [q["sql"] for q in captured.captured_queries]
    # The account timezone, then the counts in a (here nested) transaction without JIT.
    assert "accounts_accountsettings" in statements[0]
    assert statements[1].startswith("SAVEPOINT")
    assert statements[2:5] == [
        "SET LOCAL jit = off",
        "SET LOCAL parallel_setup_cost = 100",
        "SET LOCAL parallel_tuple_cost = 0.01",
    ]
    assert statements[5].count('FROM "audience_profile"') == 1
    assert "count(*) FILTER" in statements[5]
    assert statements[6].startswith("RELEASE SAVEPOINT")


def test_a_repeated_definition_is_answered_from_the_cache_without_sql(
    audience, django_assert_num_queries
):
    first = segment_estimate(definition=PARIS)
    # Same audience spelled differently normalises to the same cache key.
    same = {"geography": {"cities": [" paris "]}, "profile": [], "version": 1}
    with django_assert_num_queries(0):
        again = segment_estimate(definition=same)
    assert again == first


def test_a_changed_definition_misses_the_cache(audience, django_assert_num_queries):
    segment_estimate(definition=PARIS)
    changed = {"geography": {"cities": ["paris"]}, "reachability": {"has_phone": True}}
    with django_assert_num_queries(7):  # see test_estimate_is_one_sql_statement
        estimate = segment_estimate(definition=changed)
    assert estimate.total == 3


def test_use_cache_false_recomputes_and_refreshes_the_cache(audience):
    stale = segment_estimate(definition=PARIS)
    ProfileFactory(identity="newcomer", city="Paris")
    assert segment_estimate(definition=PARIS).total == stale.total  # cached
    fresh = segment_estimate(definition=PARIS, use_cache=False)
    assert fresh.total == stale.total + 1
    assert segment_estimate(definition=PARIS).total == fresh.total


def test_estimate_refuses_an_invalid_definition():
    with pytest.raises(DefinitionError) as exc:
        segment_estimate(definition={"radius": [{"radius_km": 5}]})
    assert "radius[0].latitude" in exc.value.errors


def test_estimate_round_trips_as_a_dict(audience):
    estimate = segment_estimate(definition=PARIS, use_cache=False)
    assert ReachEstimate.from_dict(estimate.as_dict()) == estimate


def test_sample_returns_a_few_matching_profiles(audience):
    sample = segment_sample(definition=PARIS, limit=4)
    assert len(sample) == 4
    assert all(p.city == "Paris" for p in sample)
    everyone = {p.identity for p in segment_sample(definition=PARIS, limit=10)}
    assert everyone == {"android_ios", "web", "opted_out", "tokenless", "unsubscribed", "sms_only"}
