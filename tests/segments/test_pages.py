"""The segment pages through Django's test client: list, detail, builder save, estimate,
duplicate, delete, and who may do what."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.segments import selectors, services
from apps.segments.models import Segment
from tests.accounts.factories import UserFactory
from tests.segments.factories import DeviceFactory, EventFactory, ProfileFactory, SegmentFactory
from tests.segments.helpers import CHARGED_IN_INDIA, ESTIMATE_URL, INDIA, LIST_URL, NEW_URL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()  # estimates are cached per definition; each test counts afresh
    yield
    cache.clear()


@pytest.fixture
def india(db):
    """Two people in India (one reachable by SMS and Android push), one in France."""
    now = timezone.now()
    asha = ProfileFactory(identity="asha", name="Asha Rao", country="India", phone="+919800000001")
    DeviceFactory(profile=asha, platform="android")
    ravi = ProfileFactory(
        identity="ravi", name="Ravi Kumar", country="India", email_unsubscribed=True
    )
    ProfileFactory(identity="jean", name="Jean Dupont", country="France")
    EventFactory(
        profile=asha, name="Charged", ts=now - timedelta(days=3), properties={"Amount": 250}
    )
    EventFactory(
        profile=ravi, name="Charged", ts=now - timedelta(days=3), properties={"Amount": 40}
    )
    return {"asha": asha, "ravi": ravi}


# --- List --------------------------------------------------------------------------------------


def test_the_list_shows_name_kind_reach_creator_and_update_time(marketer_client, marketer_user):
    SegmentFactory(
        name="Big spenders",
        created_by=marketer_user,
        last_estimate={"total": 1234, "sms": 3},
        estimated_at=timezone.now() - timedelta(minutes=7),
    )
    SegmentFactory(name="Cart abandoners", kind="live")

    html = marketer_client.get(LIST_URL).content.decode()

    assert "Big spenders" in html and "Cart abandoners" in html
    assert "1,234" in html and "estimated 7" in html and "minutes ago" in html
    assert "mia" in html  # created by
    assert "Live" in html and "not estimated" in html
    assert "New segment" in html


def test_the_list_searches_by_name_and_answers_htmx_with_the_results_only(htmx_client):
    SegmentFactory(name="Big spenders")
    SegmentFactory(name="Churned users")

    response = htmx_client.get(LIST_URL, {"q": "spend"})

    html = response.content.decode()
    assert "Big spenders" in html and "Churned users" not in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_the_list_tells_no_match_from_no_segments(marketer_client):
    assert "No segments yet" in marketer_client.get(LIST_URL).content.decode()
    SegmentFactory(name="Big spenders")
    assert "No segments match" in marketer_client.get(LIST_URL, {"q": "zzz"}).content.decode()


def test_the_list_pages_by_25(marketer_client):
    for i in range(30):
        SegmentFactory(name=f"Segment {i:02d}")
    first = marketer_client.get(LIST_URL)
    second = marketer_client.get(LIST_URL, {"page": 2})
    assert len(first.context["page_obj"]) == 25
    assert len(second.context["page_obj"]) == 5
    assert "Page 1 of 2" in first.content.decode()


def test_the_list_takes_the_same_queries_for_many_segments_as_for_one(
    marketer_client, django_assert_num_queries
):
    creator = UserFactory(username="creator")
    SegmentFactory(created_by=creator)
    marketer_client.get(LIST_URL)  # warm the session
    # session, user, count, page (with creators joined)
    with django_assert_num_queries(4):
        marketer_client.get(LIST_URL)
    for i in range(20):
        SegmentFactory(created_by=UserFactory(username=f"creator-{i}"))
    with django_assert_num_queries(4):
        html = marketer_client.get(LIST_URL).content.decode()
    assert "creator-19" in html


# --- Detail ------------------------------------------------------------------------------------


def test_the_detail_page_shows_summary_reach_sample_and_definition(marketer_client, india):
    segment = SegmentFactory(
        name="Indians",
        definition=INDIA,
        last_estimate={"total": 2, "push_android": 1, "sms": 1, "email": 1},
        estimated_at=timezone.now(),
    )

    html = marketer_client.get(f"/segments/{segment.pk}/").content.decode()

    assert "Profile: Country = &quot;India&quot;" in html
    assert 'id="reach-total">2<' in html
    assert f'href="/audience/{india["asha"].pk}/"' in html  # the sample links to profiles
    assert "Jean Dupont" not in html
    assert "&quot;India&quot;" in html  # the definition JSON
    assert "Refresh reach" in html and "Duplicate" in html


def test_refresh_recounts_and_returns_the_reach_partial_for_htmx(htmx_client, india):
    segment = SegmentFactory(name="Indians", definition=INDIA)

    response = htmx_client.post(f"/segments/{segment.pk}/refresh/")

    html = response.content.decode()
    assert "<html" not in html and 'id="reach-total">2<' in html
    segment.refresh_from_db()
    assert segment.last_estimate["total"] == 2
    assert segment.last_estimate["push_android"] == 1
    assert segment.estimated_at is not None


def test_refresh_without_javascript_redirects_back_to_the_detail(marketer_client, india):
    segment = SegmentFactory(name="Indians", definition=INDIA)
    response = marketer_client.post(f"/segments/{segment.pk}/refresh/")
    assert response.status_code == 302 and response["Location"] == f"/segments/{segment.pk}/"
    segment.refresh_from_db()
    assert segment.last_estimate["total"] == 2


# --- Builder save ------------------------------------------------------------------------------


def test_saving_the_builder_creates_the_segment_and_opens_it(marketer_client, marketer_user):
    response = marketer_client.post(NEW_URL, CHARGED_IN_INDIA)

    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/segments/{segment.pk}/"
    assert segment.name == "Indian big spenders"
    assert segment.created_by == marketer_user
    condition = segment.definition["behaviour"]["conditions"][0]
    assert condition["period"] == {"type": "last_days", "days": 30}
    assert condition["properties"] == [{"name": "Amount", "operator": "greater_than", "value": 100}]
    assert segment.definition["profile"][0]["value"] == "India"


def test_a_taken_name_is_shown_beside_the_name_box(marketer_client):
    SegmentFactory(name="INDIAN BIG SPENDERS")
    response = marketer_client.post(NEW_URL, CHARGED_IN_INDIA)
    assert response.status_code == 400
    assert 'id="name-error"><li>A segment called' in response.content.decode()
    assert Segment.objects.count() == 1


def test_editing_saves_the_new_definition(marketer_client):
    segment = SegmentFactory(name="Old", definition=INDIA, last_estimate={"total": 9})
    response = marketer_client.post(
        f"/segments/{segment.pk}/edit/", {**CHARGED_IN_INDIA, "name": "New"}
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "New"
    assert segment.definition["behaviour"]["conditions"][0]["event"] == "Charged"
    assert segment.last_estimate is None


# --- Estimate ----------------------------------------------------------------------------------


def test_the_estimate_counts_the_builder_fields_and_shows_a_sample(htmx_client, india):
    response = htmx_client.post(ESTIMATE_URL, CHARGED_IN_INDIA)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-total="1"' in html  # Asha: Charged 250 in India; Ravi spent 40
    assert "Asha Rao" in html and "Ravi Kumar" not in html
    assert f'href="/audience/{india["asha"].pk}/"' in html


def test_the_estimate_accepts_a_definition_as_json(htmx_client, india):
    response = htmx_client.post(ESTIMATE_URL, {"definition": json.dumps(INDIA)})
    html = response.content.decode()
    assert 'data-total="2"' in html
    # reachable per channel: Android push and SMS only Asha, email only Asha (Ravi unsubscribed)
    assert '<th scope="row">Push · Android</th><td>1</td>' in html
    assert '<th scope="row">SMS</th><td>1</td>' in html
    assert '<th scope="row">Email</th><td>1</td>' in html


def test_the_estimate_names_the_bad_field(htmx_client):
    response = htmx_client.post(
        ESTIMATE_URL,
        {"definition": json.dumps({"radius": [{"radius_km": 5}]})},
    )
    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps it
    assert 'data-path="radius[0].latitude"' in html and "centre" in html
    assert "Radius centre 1 → latitude" in html


def test_the_estimate_without_htmx_answers_400_for_bad_json(marketer_client):
    response = marketer_client.post(ESTIMATE_URL, {"definition": "{not json"})
    assert response.status_code == 400
    assert "Not valid JSON" in response.content.decode()


def test_a_repeated_definition_is_answered_from_the_cache_without_queries(
    htmx_client, india, django_assert_num_queries
):
    htmx_client.post(ESTIMATE_URL, CHARGED_IN_INDIA)
    ProfileFactory(country="India")  # not counted: the answer comes from the cache
    # Only the session and the user: no count, no sample, no event names.
    with django_assert_num_queries(2):
        response = htmx_client.post(ESTIMATE_URL, CHARGED_IN_INDIA)
    assert 'data-total="1"' in response.content.decode()


# --- Duplicate and delete ----------------------------------------------------------------------


def test_duplicate_makes_a_copy_and_opens_it_for_editing(marketer_client):
    segment = SegmentFactory(name="Indians", definition=INDIA)
    response = marketer_client.post(f"/segments/{segment.pk}/duplicate/")
    copy = Segment.objects.get(name="Copy of Indians")
    assert response["Location"] == f"/segments/{copy.pk}/edit/"
    assert copy.definition == INDIA


def test_delete_asks_first_then_deletes(marketer_client):
    segment = SegmentFactory(name="Indians")
    page = marketer_client.get(f"/segments/{segment.pk}/delete/").content.decode()
    assert "Delete Indians?" in page and "Delete segment" in page
    assert Segment.objects.exists()

    response = marketer_client.post(f"/segments/{segment.pk}/delete/")
    assert response["Location"] == LIST_URL
    assert not Segment.objects.exists()


def test_delete_shows_the_refusal_while_a_scheduled_campaign_uses_it(marketer_client, monkeypatch):
    segment = SegmentFactory(name="Indians")
    monkeypatch.setattr(services, "segment_usages", lambda s: ["Diwali sale"])

    page = marketer_client.get(f"/segments/{segment.pk}/delete/").content.decode()
    assert "cannot be deleted" in page and "Diwali sale" in page
    assert "Delete segment" not in page  # no button to press

    response = marketer_client.post(f"/segments/{segment.pk}/delete/")
    assert response.status_code == 409
    assert "Diwali sale" in response.content.decode()
    assert Segment.objects.filter(pk=segment.pk).exists()


# --- Roles -------------------------------------------------------------------------------------


def test_a_viewer_reads_the_list_and_detail_without_edit_buttons(viewer_client, india):
    segment = SegmentFactory(name="Indians", definition=INDIA)

    listing = viewer_client.get(LIST_URL).content.decode()
    detail = viewer_client.get(f"/segments/{segment.pk}/").content.decode()

    assert "Indians" in listing and "New segment" not in listing
    assert "Profile: Country = &quot;India&quot;" in detail
    for button in ("Refresh reach", "Duplicate", "Edit</a>", "Delete</a>"):
        assert button not in detail


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", NEW_URL),
        ("post", NEW_URL),
        ("post", ESTIMATE_URL),
        ("get", "/segments/{pk}/edit/"),
        ("post", "/segments/{pk}/refresh/"),
        ("post", "/segments/{pk}/duplicate/"),
        ("post", "/segments/{pk}/delete/"),
    ],
)
def test_a_viewer_cannot_change_segments(viewer_client, method, path):
    segment = SegmentFactory(name="Indians", definition=INDIA)
    response = getattr(viewer_client, method)(path.format(pk=segment.pk), CHARGED_IN_INDIA)
    assert response.status_code == 403
    assert list(Segment.objects.values_list("name", flat=True)) == ["Indians"]
    segment.refresh_from_db()
    assert segment.last_estimate is None


def test_an_admin_builds_segments_too(admin_client):
    assert admin_client.post(NEW_URL, CHARGED_IN_INDIA).status_code == 302
    assert Segment.objects.filter(name="Indian big spenders").exists()


def test_the_builder_suggests_known_event_names_from_a_cached_list(
    marketer_client, django_assert_num_queries
):
    for name in ("Charged", "App Launched", "Charged", "Added To Cart"):
        EventFactory(name=name)

    html = marketer_client.get(NEW_URL).content.decode()

    datalist = html.split('<datalist id="event-names">', 1)[1].split("</datalist>", 1)[0]
    assert datalist.count("<option") == 3
    assert (
        datalist.index("Added To Cart") < datalist.index("App Launched") < datalist.index("Charged")
    )
    with django_assert_num_queries(0):
        assert selectors.event_names() == ["Added To Cart", "App Launched", "Charged"]
