"""A count the builder's panel showed stays with the saved segment: its page and the list show
it instead of "Not estimated yet" (the panel's estimates used to live only in the cache)."""

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.segments import services
from apps.segments.estimates import segment_estimate
from apps.segments.models import Segment
from tests.segments.factories import EventFactory, ProfileFactory
from tests.segments.helpers import CHARGED_IN_INDIA, ESTIMATE_URL, INDIA, LIST_URL, NEW_URL

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def india(db):
    """Two people in India (Asha charged 250 three days ago), one in France."""
    asha = ProfileFactory(identity="asha", country="India")
    EventFactory(
        profile=asha,
        name="Charged",
        ts=timezone.now() - timedelta(days=3),
        properties={"Amount": 250},
    )
    ProfileFactory(identity="ravi", country="India")
    ProfileFactory(identity="jean", country="France")


def _detail(client, segment) -> str:
    return client.get(f"/segments/{segment.pk}/").content.decode()


def test_a_new_segments_page_shows_the_count_the_builder_showed_before_saving(
    marketer_client, india
):
    shown = marketer_client.post(ESTIMATE_URL, CHARGED_IN_INDIA, **HTMX).content.decode()
    assert 'data-total="1"' in shown

    response = marketer_client.post(NEW_URL, CHARGED_IN_INDIA)

    html = marketer_client.get(response["Location"]).content.decode()
    assert 'id="reach-total">1<' in html
    assert "Not estimated yet" not in html


def test_counting_a_saved_definition_in_the_builder_shows_on_its_page_and_in_the_list(
    marketer_client, india
):
    segment = services.segment_create(name="Indians", definition=INDIA)
    assert "Not estimated yet" in _detail(marketer_client, segment)

    marketer_client.post(ESTIMATE_URL, {"definition": json.dumps(INDIA)}, **HTMX)

    html = _detail(marketer_client, segment)
    assert 'id="reach-total">2<' in html and "Not estimated yet" not in html
    listed = marketer_client.get(LIST_URL).content.decode()
    assert '<td class="nowrap">2<br><small class="muted">estimated' in listed
    assert "not estimated" not in listed


def test_counting_another_definition_leaves_a_saved_segments_reach_alone(marketer_client, india):
    segment = services.segment_create(name="Indians", definition=INDIA)

    marketer_client.post(ESTIMATE_URL, CHARGED_IN_INDIA, **HTMX)

    segment.refresh_from_db()
    assert segment.last_estimate is None
    assert "Not estimated yet" in _detail(marketer_client, segment)


def test_saving_an_edit_shows_the_count_the_builder_showed_for_the_new_definition(
    marketer_client, india
):
    segment = services.segment_create(name="Indians", definition=INDIA)
    services.segment_refresh_estimate(segment=segment)
    edited = {**CHARGED_IN_INDIA, "name": "Indians"}
    marketer_client.post(ESTIMATE_URL, edited, **HTMX)

    marketer_client.post(f"/segments/{segment.pk}/edit/", edited)

    html = _detail(marketer_client, segment)
    assert 'id="reach-total">1<' in html  # the new definition's count, not the old 2


def test_an_older_cached_count_never_replaces_a_newer_stored_one(india):
    segment = services.segment_create(name="Indians", definition=INDIA)
    segment_estimate(definition=INDIA)  # cached: 2
    # Counted again later (say by another worker): 3.
    Segment.objects.filter(pk=segment.pk).update(
        last_estimate={"total": 3}, estimated_at=timezone.now()
    )
    segment.refresh_from_db()

    answered = services.segment_estimate_recorded(definition=INDIA, segment=segment)
    services.segment_update(segment=segment, name="Indians", definition=INDIA)

    assert answered.total == 2
    segment.refresh_from_db()
    assert segment.last_estimate == {"total": 3}


def test_a_fresh_count_is_kept_by_every_saved_segment_with_that_definition(india):
    first = services.segment_create(name="Indians", definition=INDIA)
    second = services.segment_create(name="Also Indians", definition=INDIA)

    services.segment_estimate_recorded(definition={"profile": INDIA["profile"]})

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.last_estimate["total"] == second.last_estimate["total"] == 2
    assert first.estimated_at == second.estimated_at is not None
