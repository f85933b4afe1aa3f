from datetime import timedelta

import pytest
from django.core.paginator import Paginator
from django.utils import timezone

from apps.audience.selectors import ProfileFilters, profile_list
from tests.audience.factories import DeviceFactory, ProfileFactory

LIST_URL = "/audience/"


def shown(response) -> list[str]:
    """Identities on the page, in order."""
    return [p.identity for p in response.context["page_obj"]]


@pytest.fixture
def people(db):
    now = timezone.now()
    return {
        "ada": ProfileFactory(
            identity="ada-1",
            name="Ada Lovelace",
            email="ada@example.com",
            phone="+14155550123",
            country="United Kingdom",
            properties={"plan": "gold", "score": 42},
            last_seen=now - timedelta(hours=1),
        ),
        "bob": ProfileFactory(
            identity="bob-2",
            name="Bob Marley",
            email="",
            phone="+442071838750",
            country="Jamaica",
            properties={"plan": "silver", "score": "42"},
            sms_unsubscribed=True,
            last_seen=now - timedelta(hours=2),
        ),
        "cy": ProfileFactory(
            identity="cy-3",
            name="Cyrus Smith",
            email="cy@example.com",
            phone="",
            country="United Kingdom",
            email_unsubscribed=True,
            is_test=True,
            last_seen=now - timedelta(hours=3),
        ),
    }


def test_the_list_shows_every_profile_newest_first_with_its_columns(marketer_client, people):
    never_seen = ProfileFactory(identity="imported-4", name="Imported", last_seen=None)
    response = marketer_client.get(LIST_URL)
    page = response.content.decode()
    assert shown(response) == [never_seen.identity, "cy-3", "bob-2", "ada-1"]
    assert "<title>Audience · Herald</title>" in page
    for text in ("Ada Lovelace", "ada@example.com", "+14155550123", "United Kingdom"):
        assert text in page
    assert page.count('class="badge warn">Test<') == 1  # only Cyrus is a test profile
    assert "never" in page
    assert f'href="/audience/{people["ada"].pk}/"' in page


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ada-1", ["ada-1"]),  # identity
        ("ADA@example.COM", ["ada-1"]),  # email, whatever the case
        ("+14155550123", ["ada-1"]),  # phone as stored
        ("+1 415-555-0123", ["ada-1"]),  # phone as people type it
        ("marley", ["bob-2"]),  # part of the name
        ("plan=gold", ["ada-1"]),  # custom property
        ("plan = silver", ["bob-2"]),
        ("score=42", ["bob-2", "ada-1"]),  # a number or the same digits as text
        ("plan=platinum", []),
    ],
)
def test_search_finds_profiles_by_identity_email_phone_name_and_property(
    marketer_client, people, q, expected
):
    response = marketer_client.get(LIST_URL, {"q": q})
    assert shown(response) == expected


def test_search_by_object_id_finds_the_profile(marketer_client, people):
    response = marketer_client.get(LIST_URL, {"q": people["cy"].object_id})
    assert shown(response) == ["cy-3"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"country": "Jamaica"}, ["bob-2"]),
        ({"country": "United Kingdom"}, ["cy-3", "ada-1"]),
        ({"has_email": "on"}, ["cy-3", "ada-1"]),
        ({"has_phone": "on"}, ["bob-2", "ada-1"]),
        ({"has_push_device": "on"}, ["bob-2"]),
        ({"email_unsubscribed": "on"}, ["cy-3"]),
        ({"sms_unsubscribed": "on"}, ["bob-2"]),
        ({"test_only": "on"}, ["cy-3"]),
        ({"has_email": "on", "country": "United Kingdom", "test_only": "on"}, ["cy-3"]),
    ],
)
def test_each_filter_narrows_the_list(marketer_client, people, params, expected):
    DeviceFactory(profile=people["bob"])
    DeviceFactory(profile=people["cy"], push_token=None)  # a device that cannot get push
    response = marketer_client.get(LIST_URL, params)
    assert shown(response) == expected


def test_the_country_filter_offers_the_countries_profiles_live_in(marketer_client, people):
    page = marketer_client.get(LIST_URL).content.decode()
    assert '<option value="Jamaica">Jamaica</option>' in page
    assert '<option value="United Kingdom">United Kingdom</option>' in page


def test_the_list_pages_by_25_and_keeps_the_filters_in_the_page_links(marketer_client, db):
    now = timezone.now()
    for n in range(30):
        ProfileFactory(identity=f"p-{n:02d}", country="France", last_seen=now - timedelta(n))
    first = marketer_client.get(LIST_URL, {"country": "France"})
    second = marketer_client.get(LIST_URL, {"country": "France", "page": 2})
    assert shown(first) == [f"p-{n:02d}" for n in range(29, 4, -1)]
    assert shown(second) == [f"p-{n:02d}" for n in range(4, -1, -1)]
    assert 'href="?country=France&page=2"' in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()


def test_the_list_page_runs_the_same_few_queries_for_3_or_30_profiles(
    marketer_client, people, django_assert_num_queries
):
    for profile in people.values():
        DeviceFactory(profile=profile)
    # session, user, countries, count, page
    with django_assert_num_queries(5):
        small = marketer_client.get(LIST_URL, {"has_push_device": "on"})
    for n in range(27):
        DeviceFactory(profile=ProfileFactory(identity=f"more-{n}"))
    with django_assert_num_queries(5):
        large = marketer_client.get(LIST_URL, {"has_push_device": "on"})
    assert len(shown(small)) == 3
    assert len(shown(large)) == 25


def test_an_empty_audience_points_to_the_csv_import_and_the_upload_api(marketer_client, db):
    page = marketer_client.get(LIST_URL).content.decode()
    assert "No profiles yet" in page
    assert 'href="/audience/imports/"' in page
    assert "Upload API" in page and "/1/upload" in page
    assert "No profiles match" not in page


def test_a_search_that_matches_nothing_says_so_and_offers_to_clear_it(marketer_client, people):
    page = marketer_client.get(LIST_URL, {"q": "nobody-here"}).content.decode()
    assert "No profiles match" in page
    assert "Clear search and filters" in page
    assert "No profiles yet" not in page


def test_the_filter_form_updates_the_results_with_htmx_and_works_as_a_plain_get_form(
    marketer_client, people
):
    page = marketer_client.get(LIST_URL).content.decode()
    assert '<form class="filters profile-filters" method="get"' in page
    assert 'action="/audience/"' in page and 'hx-get="/audience/"' in page
    assert 'hx-trigger="input changed delay:300ms, change"' in page
    assert 'hx-target="#profile-results"' in page and 'hx-push-url="true"' in page
    assert '<button type="submit"' in page


def test_an_htmx_request_gets_only_the_results_partial(htmx_client, people):
    response = htmx_client.get(LIST_URL, {"q": "cy@example.com"})
    page = response.content.decode()
    assert shown(response) == ["cy-3"]
    assert "Cyrus Smith" in page and "Ada Lovelace" not in page
    assert "<html" not in page and "<form" not in page


def test_a_country_no_profile_has_any_more_is_ignored_rather_than_an_error(marketer_client, people):
    response = marketer_client.get(LIST_URL, {"country": "Atlantis", "q": "ada-1"})
    assert response.status_code == 200
    assert shown(response) == ["ada-1"]


def test_a_viewer_may_not_see_the_audience(viewer_client, people):
    response = viewer_client.get(LIST_URL)
    assert response.status_code == 403
    assert "Ada Lovelace" not in response.content.decode()


def test_an_admin_sees_the_audience(admin_client, people):
    assert shown(admin_client.get(LIST_URL)) == ["cy-3", "bob-2", "ada-1"]


def test_pages_list_the_newest_profiles_first_without_gaps_or_repeats(db):
    made = [ProfileFactory(identity=f"p-{n}") for n in range(13)]
    paginator = Paginator(profile_list(filters=ProfileFilters()), 5)
    pages = [[p.identity for p in paginator.page(n)] for n in paginator.page_range]
    expected = [p.identity for p in reversed(made)]
    assert paginator.count == 13
    assert pages == [expected[0:5], expected[5:10], expected[10:13]]


def test_the_list_page_reads_only_one_page_of_rows_when_many_profiles_match(
    marketer_client, django_assert_num_queries
):
    for n in range(30):
        ProfileFactory(identity=f"p-{n:02d}")
    # session, user, countries, count, one page of profiles
    with django_assert_num_queries(5):
        response = marketer_client.get(LIST_URL)
    assert shown(response) == [f"p-{n:02d}" for n in range(29, 4, -1)]


def test_htmx_restoring_the_list_from_history_gets_the_whole_page(htmx_client, people):
    response = htmx_client.get(LIST_URL, {"q": "ada-1"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    page = response.content.decode()
    assert "<html" in page and "Ada Lovelace" in page
    assert "HX-Request" in response["Vary"]
