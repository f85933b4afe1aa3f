"""On a database the compiler cannot run on (the embedded SQLite default), segments are still
built, saved and shown; counting them says plainly what it needs instead of failing."""

import json

import pytest
from django.core.cache import cache
from django.db import connection

from tests.segments.factories import ProfileFactory, SegmentFactory

pytestmark = pytest.mark.django_db

INDIA = {"profile": [{"name": "Country", "operator": "equals", "value": "India"}]}


@pytest.fixture
def not_postgresql(monkeypatch):
    cache.clear()
    ProfileFactory(country="India")
    monkeypatch.setattr(connection, "vendor", "sqlite")
    yield
    cache.clear()


def test_the_estimate_explains_that_counting_needs_postgresql(marketer_client, not_postgresql):
    response = marketer_client.post(
        "/segments/estimate/", {"definition": json.dumps(INDIA)}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "Counting a segment needs PostgreSQL" in response.content.decode()
    assert 'id="estimate-total"' not in response.content.decode()


def test_a_bad_definition_still_gets_its_field_errors(marketer_client, not_postgresql):
    bad = {"profile": [{"name": "Country", "operator": "sounds_like", "value": "India"}]}
    response = marketer_client.post(
        "/segments/estimate/", {"definition": json.dumps(bad)}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert 'data-path="profile[0].operator"' in body
    assert "needs PostgreSQL" not in body


def test_the_detail_page_and_refresh_say_why_there_is_no_reach(marketer_client, not_postgresql):
    segment = SegmentFactory(definition={"version": 1, "kind": "past", **INDIA})

    detail = marketer_client.get(f"/segments/{segment.pk}/").content.decode()
    refreshed = marketer_client.post(
        f"/segments/{segment.pk}/refresh/", HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "Counting a segment needs PostgreSQL" in detail
    assert "Counting a segment needs PostgreSQL" in refreshed
    segment.refresh_from_db()
    assert segment.last_estimate is None
