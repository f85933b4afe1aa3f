"""Compiler semantics against hand-checked fixtures: every operator and condition kind, and
the edge cases (missing properties, type mismatches, day boundaries in the account timezone,
"did not do", count bounds, radius across the antimeridian, list properties, devices)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.services import account_settings_get
from apps.audience.models import Platform, Profile
from apps.segments.compiler import profiles_matching
from tests.segments.factories import DeviceFactory, EventFactory, ProfileFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=dt.UTC)


def matching(defn: dict, *, tz_name: str = "UTC", now: dt.datetime = NOW) -> set[str]:
    return set(profiles_matching(defn, now=now, tz_name=tz_name).values_list("identity", flat=True))


def did(event: str, **extra) -> dict:
    return {"behaviour": {"conditions": [{"type": "event", "event": event, **extra}]}}


def prop(name: str, operator: str, value=None) -> dict:
    cond = {"name": name, "operator": operator}
    if value is not None:
        cond["value"] = value
    return cond


def event_with(identity: str, name: str = "Charged", *, ts=NOW, **properties):
    profile = Profile.objects.filter(identity=identity).first() or ProfileFactory(identity=identity)
    return EventFactory(profile=profile, name=name, ts=ts, properties=properties)


# --------------------------------------------------------------------------- behaviour


def test_an_empty_definition_matches_everyone():
    ProfileFactory(identity="a")
    ProfileFactory(identity="b")
    assert matching({}) == {"a", "b"}
    assert matching({"profile": [], "behaviour": {"conditions": []}}) == {"a", "b"}


def test_did_event_ever_matches_only_profiles_with_that_event():
    event_with("buyer", "Charged")
    event_with("browser", "App Launched")
    ProfileFactory(identity="idle")
    assert matching(did("Charged")) == {"buyer"}


def test_did_not_do_matches_profiles_without_the_event_including_those_without_events():
    event_with("buyer", "Charged")
    event_with("browser", "App Launched")
    ProfileFactory(identity="idle")
    assert matching(did("Charged", did=False)) == {"browser", "idle"}


def test_did_not_with_a_period_means_no_matching_event_in_that_period():
    event_with("old_buyer", "Charged", ts=NOW - dt.timedelta(days=40))
    event_with("recent_buyer", "Charged", ts=NOW - dt.timedelta(days=3))
    defn = did("Charged", did=False, period={"type": "last_days", "days": 30})
    assert matching(defn) == {"old_buyer"}


def test_last_n_days_is_a_rolling_window_ending_now():
    event_with("inside", ts=NOW - dt.timedelta(days=29, hours=23))
    event_with("outside", ts=NOW - dt.timedelta(days=30, minutes=1))
    assert matching(did("Charged", period={"type": "last_days", "days": 30})) == {"inside"}


def test_between_dates_are_whole_days_in_the_account_timezone():
    # 2025-01-31 23:30 UTC is already 2025-02-01 05:00 in Asia/Kolkata.
    event_with("late", ts=dt.datetime(2025, 1, 31, 23, 30, tzinfo=dt.UTC))
    feb_1 = did("Charged", period={"type": "between", "from": "2025-02-01", "to": "2025-02-01"})
    jan_31 = did("Charged", period={"type": "between", "from": "2025-01-31", "to": "2025-01-31"})
    assert matching(feb_1, tz_name="Asia/Kolkata") == {"late"}
    assert matching(jan_31, tz_name="Asia/Kolkata") == set()
    assert matching(feb_1, tz_name="UTC") == set()
    assert matching(jan_31, tz_name="UTC") == {"late"}


def test_the_account_timezone_is_used_when_none_is_given():
    account = account_settings_get()
    account.timezone = "Asia/Kolkata"
    account.save()
    event_with("late", ts=dt.datetime(2025, 1, 31, 23, 30, tzinfo=dt.UTC))
    feb_1 = did("Charged", period={"type": "between", "from": "2025-02-01", "to": "2025-02-01"})
    assert set(profiles_matching(feb_1).values_list("identity", flat=True)) == {"late"}


def test_between_includes_the_whole_last_day():
    event_with("end_of_day", ts=dt.datetime(2025, 2, 10, 23, 59, 59, tzinfo=dt.UTC))
    event_with("next_day", ts=dt.datetime(2025, 2, 11, 0, 0, tzinfo=dt.UTC))
    defn = did("Charged", period={"type": "between", "from": "2025-02-01", "to": "2025-02-10"})
    assert matching(defn) == {"end_of_day"}


@pytest.fixture
def counted():
    """once: 1 Charged, twice: 2, thrice: 3, never: 0 (but another event)."""
    for identity, n in (("once", 1), ("twice", 2), ("thrice", 3)):
        for i in range(n):
            event_with(identity, ts=NOW - dt.timedelta(hours=i + 1))
    event_with("never", "App Launched")


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        ({"min": 2, "max": None}, {"twice", "thrice"}),
        ({"min": 1, "max": 2}, {"once", "twice"}),
        ({"min": 2, "max": 2}, {"twice"}),
        ({"min": 0, "max": 1}, {"never", "once"}),
        ({"min": 3, "max": 5}, {"thrice"}),
        ({"min": 4, "max": None}, set()),
        ({"min": 0, "max": None}, {"never", "once", "twice", "thrice"}),
    ],
)
def test_count_bounds(counted, count, expected):
    assert matching(did("Charged", count=count)) == expected


def test_count_only_counts_events_that_match_period_and_properties():
    event_with("p", Amount=50)
    event_with("p", Amount=150)
    event_with("p", Amount=250, ts=NOW - dt.timedelta(days=60))
    defn = did(
        "Charged",
        count={"min": 2, "max": None},
        properties=[prop("Amount", "greater_than", 100)],
    )
    assert matching(defn) == {"p"}
    defn["behaviour"]["conditions"][0]["period"] = {"type": "last_days", "days": 30}
    assert matching(defn) == set()


def test_all_and_any_and_a_nested_group():
    event_with("charged_only", "Charged")
    event_with("cart_only", "Added To Cart")
    event_with("both", "Charged")
    event_with("both", "Added To Cart")
    event_with("launched", "App Launched")
    charged = {"type": "event", "event": "Charged"}
    cart = {"type": "event", "event": "Added To Cart"}
    launched = {"type": "event", "event": "App Launched"}
    assert matching({"behaviour": {"match": "all", "conditions": [charged, cart]}}) == {"both"}
    assert matching({"behaviour": {"match": "any", "conditions": [charged, cart]}}) == {
        "charged_only",
        "cart_only",
        "both",
    }
    nested = {
        "behaviour": {
            "match": "all",
            "conditions": [
                {"type": "event", "event": "Charged", "did": False},
                {"type": "group", "match": "any", "conditions": [cart, launched]},
            ],
        }
    }
    assert matching(nested) == {"cart_only", "launched"}


def test_abandoned_cart_did_add_to_cart_and_not_charged_in_the_last_day():
    event_with("abandoned", "Added To Cart", ts=NOW - dt.timedelta(hours=5))
    event_with("bought", "Added To Cart", ts=NOW - dt.timedelta(hours=5))
    event_with("bought", "Charged", ts=NOW - dt.timedelta(hours=4))
    event_with("bought_long_ago", "Added To Cart", ts=NOW - dt.timedelta(hours=5))
    event_with("bought_long_ago", "Charged", ts=NOW - dt.timedelta(days=3))
    day = {"type": "last_days", "days": 1}
    defn = {
        "behaviour": {
            "conditions": [
                {"type": "event", "event": "Added To Cart", "period": day},
                {"type": "event", "event": "Charged", "did": False, "period": day},
            ]
        }
    }
    assert matching(defn) == {"abandoned", "bought_long_ago"}


# --------------------------------------------------------------------------- property operators


@pytest.fixture
def amounts():
    """Charged events with Amount of different types, and one without Amount."""
    event_with("n50", Amount=50)
    event_with("n100", Amount=100)
    event_with("n150_5", Amount=150.5)
    event_with("s200", Amount="200")  # a numeric string compares as a number
    event_with("sabc", Amount="abc")  # never a number, never an error
    event_with("btrue", Amount=True)
    event_with("missing", Currency="EUR")


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("equals", 100, {"n100"}),
        ("equals", [50, 200], {"n50", "s200"}),
        ("not_equals", 100, {"n50", "n150_5", "s200", "sabc", "btrue", "missing"}),
        ("not_equals", [50, 100], {"n150_5", "s200", "sabc", "btrue", "missing"}),
        ("greater_than", 100, {"n150_5", "s200"}),
        ("greater_than_equals", 100, {"n100", "n150_5", "s200"}),
        ("less_than", 100, {"n50"}),
        ("less_than_equals", 100, {"n50", "n100"}),
        ("between", [100, 150.5], {"n100", "n150_5"}),
        ("exists", None, {"n50", "n100", "n150_5", "s200", "sabc", "btrue"}),
        ("does_not_exist", None, {"missing"}),
        ("equals", True, {"btrue"}),
        ("equals", "abc", {"sabc"}),
        ("equals", "ABC", set()),  # text equality is exact
        ("contains", "b", {"sabc"}),
        ("does_not_contain", "b", {"n50", "n100", "n150_5", "s200", "btrue", "missing"}),
    ],
)
def test_event_property_operators_are_type_aware(amounts, operator, value, expected):
    assert matching(did("Charged", properties=[prop("Amount", operator, value)])) == expected


@pytest.fixture
def texts():
    event_with("books", Category="Books")
    event_with("comics", Category="comic books")
    event_with("numeric", Category=42)
    event_with("none", Other="x")


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("equals", "Books", {"books"}),
        ("equals", "books", set()),  # exact: text equality is case-sensitive (CleverTap's)
        ("equals", "42", set()),  # text does not equal a JSON number
        ("not_equals", "Books", {"comics", "numeric", "none"}),
        ("not_equals", "BOOKS", {"books", "comics", "numeric", "none"}),
        ("contains", "BOOK", {"books", "comics"}),
        ("does_not_contain", "book", {"numeric", "none"}),
        ("greater_than", "C", {"comics"}),  # text order, case-sensitive (code points)
        ("less_than", "C", {"books"}),
        ("between", ["A", "Z"], {"books"}),
    ],
)
def test_string_operators(texts, operator, value, expected):
    assert matching(did("Charged", properties=[prop("Category", operator, value)])) == expected


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("equals", "2025-02-01", {"feb1", "feb1_time"}),
        ("greater_than", "2025-02-01", {"mar"}),
        ("less_than_equals", "2025-02-01", {"jan", "feb1", "feb1_time"}),
        ("between", ["2025-01-15", "2025-02-28"], {"feb1", "feb1_time"}),
    ],
)
def test_date_values_compare_as_dates(operator, value, expected):
    event_with("jan", Departure="2025-01-10")
    event_with("feb1", Departure="2025-02-01")
    event_with("feb1_time", Departure="2025-02-01T18:30:00")
    event_with("mar", Departure="2025-03-05")
    event_with("garbage", Departure="soon")
    event_with("number", Departure=20250201)
    assert matching(did("Charged", properties=[prop("Departure", operator, value)])) == expected


@pytest.fixture
def baskets():
    event_with("books_and_toys", Items=[{"Category": "Books"}, {"Category": "Toys"}], Tags=["a"])
    event_with("toys", Items=[{"Category": "Toys"}], Tags=["b", "c"])
    event_with("single_object", Items={"Category": "books"}, Tags="a")
    event_with("no_category", Items=[{"Name": "x"}], Tags=[])
    event_with("no_items", Tags=[1, 2])


@pytest.mark.parametrize(
    ("name", "operator", "value", "expected"),
    [
        ("Items|Category", "equals", "Books", {"books_and_toys"}),  # not "books": exact
        ("Items|Category", "equals", "books", {"single_object"}),
        (
            "Items|Category",
            "not_equals",
            "Books",
            {"toys", "single_object", "no_category", "no_items"},
        ),
        ("Items|Category", "exists", None, {"books_and_toys", "toys", "single_object"}),
        ("Items|Category", "does_not_exist", None, {"no_category", "no_items"}),
        ("Items|Category", "contains", "oy", {"books_and_toys", "toys"}),
        ("Tags", "equals", "a", {"books_and_toys", "single_object"}),
        ("Tags", "not_equals", "a", {"toys", "no_category", "no_items"}),
        ("Tags", "equals", 2, {"no_items"}),
        ("Tags", "exists", None, {"books_and_toys", "toys", "single_object", "no_items"}),
    ],
)
def test_list_properties_match_if_any_element_matches(baskets, name, operator, value, expected):
    assert matching(did("Charged", properties=[prop(name, operator, value)])) == expected


def test_property_names_and_values_with_quotes_are_parameters_not_sql():
    event_with("quoted", **{'it\'s "odd"': "O'Brien"})
    event_with("nested", **{'we"ird': [{"a'b": "x"}]})
    assert matching(did("Charged", properties=[prop('it\'s "odd"', "equals", "O'Brien")])) == {
        "quoted"
    }
    assert matching(did("Charged", properties=[prop("we\"ird|a'b", "equals", "x")])) == {"nested"}


# --------------------------------------------------------------------------- profile


def test_profile_custom_properties_with_type_mismatch_and_missing():
    ProfileFactory(identity="plat", properties={"Customer Type": "Platinum", "Amount Spent": 15})
    ProfileFactory(identity="gold", properties={"Customer Type": "gold", "Amount Spent": "25"})
    ProfileFactory(identity="weird", properties={"Customer Type": 7, "Amount Spent": "lots"})
    ProfileFactory(identity="bare", properties={})
    assert matching({"profile": [prop("Customer Type", "equals", "Platinum")]}) == {"plat"}
    assert matching({"profile": [prop("Customer Type", "not_equals", "Platinum")]}) == {
        "gold",
        "weird",
        "bare",
    }
    assert matching({"profile": [prop("Amount Spent", "between", [10, 20])]}) == {"plat"}
    assert matching({"profile": [prop("Amount Spent", "greater_than", 10)]}) == {"plat", "gold"}
    both = {
        "profile": [
            prop("Customer Type", "exists"),
            prop("Amount Spent", "less_than", 100),
        ]
    }
    assert matching(both) == {"plat", "gold"}


def test_custom_property_text_equality_is_exact_and_case_sensitive():
    # CleverTap's behaviour: "Premium" is not "premium". Lists match by element; not_equals
    # includes people without the property; booleans are exact too.
    ProfileFactory(identity="cap", properties={"plan": "Premium"})
    ProfileFactory(identity="low", properties={"plan": "premium", "vip": True})
    ProfileFactory(identity="list", properties={"plan": ["basic", "premium"], "vip": [False]})
    ProfileFactory(identity="nested", properties={"plan": [["premium"]], "vip": "true"})
    ProfileFactory(identity="bare", properties={})
    assert matching({"profile": [prop("plan", "equals", "premium")]}) == {"low", "list"}
    assert matching({"profile": [prop("plan", "equals", "Premium")]}) == {"cap"}
    assert matching({"profile": [prop("plan", "equals", ["Premium", "basic"])]}) == {"cap", "list"}
    assert matching({"profile": [prop("plan", "not_equals", "premium")]}) == {
        "cap",
        "nested",
        "bare",
    }
    assert matching({"profile": [prop("vip", "equals", True)]}) == {"low"}
    assert matching({"profile": [prop("vip", "equals", False)]}) == {"list"}
    assert matching({"profile": [prop("vip", "not_equals", True)]}) == {
        "cap",
        "list",
        "nested",
        "bare",
    }
    # contains still ignores case; built-in text columns too (next test).
    assert matching({"profile": [prop("plan", "contains", "PREM")]}) == {"cap", "low", "list"}


def test_custom_property_equality_compiles_to_gin_servable_containment():
    sql, _ = profiles_matching(
        {"profile": [prop("plan", "equals", "premium")]}, now=NOW, tz_name="UTC"
    ).query.sql_with_params()
    assert sql.count('"audience_profile".properties @> %s::jsonb') == 2
    assert "lower(" not in sql


def test_profile_built_in_columns_by_name_case_insensitively():
    ProfileFactory(identity="sf", city="San Francisco", email="a@x.io", date_of_birth="1990-05-01")
    ProfileFactory(identity="la", city="Los Angeles", email="", date_of_birth=None)
    assert matching({"profile": [prop("city", "equals", "san francisco")]}) == {"sf"}
    assert matching({"profile": [prop("City", "contains", "angel")]}) == {"la"}
    assert matching({"profile": [prop("Email", "exists")]}) == {"sf"}
    assert matching({"profile": [prop("Email", "does_not_exist")]}) == {"la"}
    assert matching({"profile": [prop("Date of Birth", "less_than", "1991-01-01")]}) == {"sf"}
    assert matching({"profile": [prop("Date of Birth", "not_equals", "1990-05-01")]}) == {"la"}


def test_last_seen_compares_as_a_date_in_the_account_timezone():
    ProfileFactory(identity="late", last_seen=dt.datetime(2025, 1, 31, 23, 30, tzinfo=dt.UTC))
    defn = {"profile": [prop("Last Seen", "equals", "2025-02-01")]}
    assert matching(defn, tz_name="Asia/Kolkata") == {"late"}
    assert matching(defn, tz_name="UTC") == set()


def test_age_range_counts_birthdays_in_the_account_timezone():
    # NOW is 2025-03-15 12:00 UTC; in Pacific/Kiritimati (UTC+14) it is already 2025-03-16.
    ProfileFactory(identity="25_today", date_of_birth=dt.date(2000, 3, 15))
    ProfileFactory(identity="25_tomorrow", date_of_birth=dt.date(2000, 3, 16))
    ProfileFactory(identity="41", date_of_birth=dt.date(1984, 3, 15))
    ProfileFactory(identity="40", date_of_birth=dt.date(1984, 3, 17))
    ProfileFactory(identity="unknown", date_of_birth=None)
    defn = {"demographics": {"age": {"min": 25, "max": 40}}}
    assert matching(defn, tz_name="UTC") == {"25_today", "40"}
    assert matching(defn, tz_name="Pacific/Kiritimati") == {"25_today", "25_tomorrow", "40"}
    assert matching({"demographics": {"age": {"min": 41, "max": None}}}) == {"41"}


def test_gender_matches_any_listed_code():
    ProfileFactory(identity="f", gender="F")
    ProfileFactory(identity="m", gender="M")
    ProfileFactory(identity="unset", gender="")
    assert matching({"demographics": {"gender": ["F"]}}) == {"f"}
    assert matching({"demographics": {"gender": ["female", "M"]}}) == {"f", "m"}


def test_geography_lists_are_ored_sections_anded_case_insensitive():
    ProfileFactory(identity="sf", country="United States", region="California", city="SF")
    ProfileFactory(identity="ny", country="United States", region="New York", city="NYC")
    ProfileFactory(identity="paris", country="France", region="IDF", city="Paris")
    assert matching({"geography": {"countries": ["united states"]}}) == {"sf", "ny"}
    assert matching(
        {"geography": {"countries": ["United States", "France"], "regions": ["california", "idf"]}}
    ) == {"sf", "paris"}
    assert matching({"geography": {"countries": ["France"], "cities": ["SF"]}}) == set()


def test_radius_crosses_the_antimeridian():
    ProfileFactory(identity="east", latitude=0.0, longitude=-179.9)  # ~22 km from the centre
    ProfileFactory(identity="far_east", latitude=0.0, longitude=-179.0)  # ~122 km
    ProfileFactory(identity="west", latitude=0.0, longitude=179.8)  # ~11 km
    ProfileFactory(identity="nowhere", latitude=None, longitude=None)
    centre = {"latitude": 0.0, "longitude": 179.9, "radius_km": 25}
    assert matching({"radius": [centre]}) == {"east", "west"}
    centre_west = {"latitude": 0.0, "longitude": -179.95, "radius_km": 30}  # west ~28 km
    assert matching({"radius": [centre_west]}) == {"east", "west"}


def test_radius_centres_are_ored_and_distance_is_exact_not_the_box():
    ProfileFactory(identity="paris", latitude=48.8566, longitude=2.3522)
    ProfileFactory(identity="versailles", latitude=48.8049, longitude=2.1204)  # ~18 km
    ProfileFactory(identity="box_corner", latitude=49.05, longitude=2.62)  # in the box, ~30 km
    ProfileFactory(identity="london", latitude=51.5074, longitude=-0.1278)
    paris = {"label": "Paris", "latitude": 48.8566, "longitude": 2.3522, "radius_km": 25}
    london = {"label": "London", "latitude": 51.5074, "longitude": -0.1278, "radius_km": 5}
    assert matching({"radius": [paris]}) == {"paris", "versailles"}
    assert matching({"radius": [paris, london]}) == {"paris", "versailles", "london"}


def test_radius_around_a_pole_covers_every_longitude():
    ProfileFactory(identity="across", latitude=89.9, longitude=-170.0)
    ProfileFactory(identity="south", latitude=80.0, longitude=10.0)
    assert matching({"radius": [{"latitude": 89.95, "longitude": 10.0, "radius_km": 50}]}) == {
        "across"
    }


@pytest.fixture
def reach_people():
    ProfileFactory(identity="all", email="a@x.io", phone="+14155550100")
    ProfileFactory(identity="unsub", email="b@x.io", phone="+14155550101",
                   email_unsubscribed=True, sms_unsubscribed=True)  # fmt: skip
    ProfileFactory(identity="nothing", email="", phone="")
    DeviceFactory(profile=Profile.objects.get(identity="all"), platform=Platform.IOS)
    DeviceFactory(profile=Profile.objects.get(identity="unsub"), push_token=None)
    opted_out = ProfileFactory(identity="opted_out", email="", phone="", push_opt_out=True)
    DeviceFactory(profile=opted_out)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"has_email": True}, {"all", "unsub"}),
        ({"has_email": False}, {"nothing", "opted_out"}),
        ({"has_phone": True}, {"all", "unsub"}),
        ({"email_unsubscribed": True}, {"unsub"}),
        ({"email_unsubscribed": False}, {"all", "nothing", "opted_out"}),
        ({"sms_unsubscribed": False, "has_phone": True}, {"all"}),
        ({"push_reachable": True}, {"all"}),
        ({"push_reachable": False}, {"unsub", "nothing", "opted_out"}),
    ],
)
def test_reachability_flags(reach_people, flags, expected):
    assert matching({"reachability": flags}) == expected


def test_app_fields_match_when_one_device_matches_all_of_them():
    two = ProfileFactory(identity="two_devices")
    DeviceFactory(profile=two, make="Samsung", os_version="10", app_version="2.0")
    DeviceFactory(profile=two, make="Google", os_version="14", app_version="3.1")
    ProfileFactory(identity="no_devices")
    same_device = [prop("os_version", "equals", "10"), prop("make", "equals", "samsung")]
    split = [prop("os_version", "equals", "10"), prop("make", "equals", "Google")]
    assert matching({"app_fields": same_device}) == {"two_devices"}
    assert matching({"app_fields": split}) == set()
    assert matching({"app_fields": [prop("os_version", "greater_than", 12)]}) == {"two_devices"}
    assert matching({"app_fields": [prop("app_version", "does_not_exist")]}) == set()


def test_live_definitions_filter_on_profile_sections_only():
    ProfileFactory(identity="sf", city="SF")
    event_with("sf", "Added To Cart")
    ProfileFactory(identity="la", city="LA")
    defn = {
        "kind": "live",
        "live": {"type": "action", "event": "Added To Cart", "properties": []},
        "geography": {"cities": ["sf"]},
    }
    assert matching(defn) == {"sf"}


def test_the_queryset_is_one_query_and_works_nested_as_a_subquery():
    event_with("buyer", "Charged", Amount=500)
    ProfileFactory(identity="idle")
    qs = profiles_matching(
        did("Charged", properties=[prop("Amount", "greater_than", 100)]), now=NOW, tz_name="UTC"
    )
    with CaptureQueriesContext(connection) as ctx:
        assert [p.identity for p in qs] == ["buyer"]
    assert len(ctx.captured_queries) == 1
    # Nested: Django relabels the inner profile table; the correlation must follow it.
    outer = Profile.objects.filter(pk__in=qs.values("pk")).exclude(identity="nobody")
    assert list(outer.values_list("identity", flat=True)) == ["buyer"]


@pytest.mark.parametrize("name", ["a.b", "$x", "café", "line\nbreak", "[0]", "back\\slash", "*"])
def test_unusual_property_names_work_at_the_top_level_and_nested(name):
    event_with("odd", **{name: "v", "List": [{name: "w"}]})
    event_with("other", **{name: "z"})
    assert matching(did("Charged", properties=[prop(name, "equals", "v")])) == {"odd"}
    assert matching(did("Charged", properties=[prop(name, "equals", "V")])) == set()
    assert matching(did("Charged", properties=[prop(name, "contains", "v")])) == {"odd"}
    assert matching(did("Charged", properties=[prop(f"List|{name}", "equals", "w")])) == {"odd"}


def test_an_invalid_definition_raises_definition_error_not_a_database_error():
    from apps.segments.definitions import DefinitionError

    with pytest.raises(DefinitionError) as exc:
        profiles_matching({"profile": [prop("A", "between", [1])]}, now=NOW, tz_name="UTC")
    assert "profile[0].value" in exc.value.errors


def test_not_followed_by_within_counts_only_occurrences_without_the_follow_up():
    # Carts 30 hours ago; "Charged" after them at different delays.
    cart_at = NOW - dt.timedelta(hours=30)
    event_with("abandoned", "Added To Cart", ts=cart_at)
    event_with("paid_soon", "Added To Cart", ts=cart_at)
    event_with("paid_soon", "Charged", ts=cart_at + dt.timedelta(hours=2))
    event_with("paid_late", "Added To Cart", ts=cart_at)
    event_with("paid_late", "Charged", ts=cart_at + dt.timedelta(hours=26))
    event_with("paid_before", "Charged", ts=cart_at - dt.timedelta(minutes=1))
    event_with("paid_before", "Added To Cart", ts=cart_at)
    # Two carts: the first paid, the second abandoned: still qualifies.
    event_with("second_cart", "Added To Cart", ts=cart_at)
    event_with("second_cart", "Charged", ts=cart_at + dt.timedelta(hours=1))
    event_with("second_cart", "Added To Cart", ts=cart_at + dt.timedelta(hours=3))
    defn = did(
        "Added To Cart",
        period={"type": "last_days", "days": 2},
        not_followed_by={"event": "Charged", "within_minutes": 24 * 60},
    )
    assert matching(defn) == {"abandoned", "paid_late", "paid_before", "second_cart"}
    defn["behaviour"]["conditions"][0]["count"] = {"min": 2, "max": None}
    assert matching(defn) == set()


def test_not_followed_by_honours_the_follow_up_properties_and_not_the_event_itself():
    cart_at = NOW - dt.timedelta(hours=5)
    event_with("paid_small", "Added To Cart", ts=cart_at)
    event_with("paid_small", "Charged", ts=cart_at + dt.timedelta(hours=1), Amount=5)
    event_with("paid_big", "Added To Cart", ts=cart_at)
    event_with("paid_big", "Charged", ts=cart_at + dt.timedelta(hours=1), Amount=500)
    big = {"event": "Charged", "within_minutes": 120,
           "properties": [prop("Amount", "greater_than", 100)]}  # fmt: skip
    assert matching(did("Added To Cart", not_followed_by=big)) == {"paid_small"}
    again = {"event": "Added To Cart", "within_minutes": 60}
    assert matching(did("Added To Cart", not_followed_by=again)) == {"paid_small", "paid_big"}


def test_not_followed_by_counts_an_occurrence_only_once_its_window_has_elapsed():
    # Window one day: a cart 5 minutes old (no purchase yet) is not abandoned yet; one a
    # minute past its window is; one exactly at the window's end is.
    window = {"event": "Charged", "within_minutes": 24 * 60}
    event_with("fresh", "Added To Cart", ts=NOW - dt.timedelta(minutes=5))
    event_with(
        "just_under", "Added To Cart", ts=NOW - dt.timedelta(hours=24) + dt.timedelta(seconds=1)
    )
    event_with("exactly", "Added To Cart", ts=NOW - dt.timedelta(hours=24))
    event_with("elapsed", "Added To Cart", ts=NOW - dt.timedelta(hours=24, minutes=1))
    # Fresh and elapsed carts: the elapsed one qualifies, the fresh one is not counted.
    event_with("both", "Added To Cart", ts=NOW - dt.timedelta(hours=30))
    event_with("both", "Added To Cart", ts=NOW - dt.timedelta(minutes=5))
    defn = did("Added To Cart", period={"type": "last_days", "days": 7}, not_followed_by=window)
    assert matching(defn) == {"exactly", "elapsed", "both"}
    defn["behaviour"]["conditions"][0]["count"] = {"min": 2, "max": None}
    assert matching(defn) == set()
    # Without a period (ever) the same rule applies.
    assert matching(did("Added To Cart", not_followed_by=window)) == {"exactly", "elapsed", "both"}
