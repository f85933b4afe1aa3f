import pytest
from django.db import IntegrityError, transaction

from apps.segments import services
from apps.segments.definitions import definition_validate
from apps.segments.models import Segment, SegmentKind
from tests.segments.factories import DeviceFactory, ProfileFactory, SegmentFactory

pytestmark = pytest.mark.django_db

INDIA = {"version": 1, "profile": [{"name": "Country", "operator": "equals", "value": "India"}]}


def test_create_stores_the_normalised_definition_and_its_kind(marketer_user):
    segment = services.segment_create(
        name="  Indians  ", definition=INDIA, created_by=marketer_user
    )

    segment.refresh_from_db()
    assert segment.name == "Indians"
    assert segment.definition == definition_validate(INDIA)
    assert segment.kind == SegmentKind.PAST
    assert segment.created_by == marketer_user


def test_a_live_definition_makes_a_live_segment():
    segment = services.segment_create(
        name="Abandoned carts",
        definition={
            "kind": "live",
            "live": {
                "type": "inaction",
                "event": "Added To Cart",
                "not_event": "Charged",
                "within_minutes": 10,
            },
        },
    )
    assert segment.kind == SegmentKind.LIVE


def test_create_refuses_an_invalid_definition_and_a_missing_name_together():
    with pytest.raises(services.SegmentInvalid) as refused:
        services.segment_create(
            name=" ",
            definition={"profile": [{"name": "Age", "operator": "between", "value": [1]}]},
        )
    assert set(refused.value.errors) == {"name", "profile[0].value"}
    assert not Segment.objects.exists()


def test_names_are_unique_whatever_their_case():
    services.segment_create(name="Big Spenders", definition={})
    with pytest.raises(services.SegmentInvalid) as refused:
        services.segment_create(name="big spenders", definition={})
    assert "already exists" in refused.value.errors["name"]


def test_the_database_enforces_case_insensitive_names_too():
    SegmentFactory(name="Churned")
    with pytest.raises(IntegrityError), transaction.atomic():
        Segment.objects.create(name="CHURNED", definition={})


def test_update_may_keep_its_own_name_and_forgets_a_stale_estimate():
    segment = SegmentFactory(
        name="Indians",
        definition=definition_validate({}),
        last_estimate={"total": 5},
    )
    services.segment_update(segment=segment, name="indians", definition=INDIA)

    segment.refresh_from_db()
    assert segment.name == "indians"
    assert segment.definition == definition_validate(INDIA)
    assert segment.last_estimate is None and segment.estimated_at is None


def test_update_to_another_segments_name_is_refused():
    SegmentFactory(name="Taken")
    segment = SegmentFactory(name="Mine")
    with pytest.raises(services.SegmentInvalid):
        services.segment_update(segment=segment, name="TAKEN", definition={})
    segment.refresh_from_db()
    assert segment.name == "Mine"


def test_duplicates_are_named_copy_of_then_numbered(marketer_user):
    original = SegmentFactory(name="Buyers", definition=definition_validate(INDIA))

    first = services.segment_duplicate(segment=original, created_by=marketer_user)
    second = services.segment_duplicate(segment=original, created_by=marketer_user)

    assert first.name == "Copy of Buyers"
    assert second.name == "Copy of Buyers (2)"
    assert first.definition == original.definition
    assert first.created_by == marketer_user
    assert Segment.objects.count() == 3


def test_a_copy_of_a_long_name_still_fits():
    original = SegmentFactory(name="x" * 120)
    copy = services.segment_duplicate(segment=original)
    again = services.segment_duplicate(segment=original)
    assert len(copy.name) == 120 and copy.name.startswith("Copy of ")
    assert len(again.name) == 120 and again.name.endswith(" (2)")


def test_usages_name_the_scheduled_and_running_campaigns_of_that_segment():
    from tests.campaigns.factories import CampaignFactory

    segment, other = SegmentFactory(), SegmentFactory()
    CampaignFactory(name="Weekly digest", segment=segment, status="scheduled")
    CampaignFactory(name="Diwali sale", segment=segment, status="running")
    CampaignFactory(name="Unfinished", segment=segment, status="draft")
    CampaignFactory(name="Done", segment=segment, status="completed")
    CampaignFactory(name="Elsewhere", segment=other, status="running")

    assert services.segment_usages(segment) == ["Diwali sale", "Weekly digest"]
    assert services.segment_usages(SegmentFactory()) == []


def test_delete_names_drafts_that_still_point_at_the_segment_instead_of_failing():
    from tests.campaigns.factories import CampaignFactory

    segment = SegmentFactory()
    CampaignFactory(name="Unfinished", segment=segment, status="draft")

    with pytest.raises(services.SegmentInUse) as refused:
        services.segment_delete(segment=segment)

    assert refused.value.usages == ["Unfinished"]
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_delete_is_refused_by_a_real_scheduled_campaign():
    from tests.campaigns.factories import CampaignFactory

    segment = SegmentFactory()
    CampaignFactory(name="Weekly digest", segment=segment, status="scheduled")
    with pytest.raises(services.SegmentInUse, match="Used by Weekly digest"):
        services.segment_delete(segment=segment)
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_delete_removes_an_unused_segment():
    segment = SegmentFactory()
    services.segment_delete(segment=segment)
    assert not Segment.objects.exists()


def test_delete_is_refused_while_a_scheduled_campaign_uses_the_segment(monkeypatch):
    segment = SegmentFactory()
    monkeypatch.setattr(services, "segment_usages", lambda s: ["Diwali sale"])

    with pytest.raises(services.SegmentInUse) as refused:
        services.segment_delete(segment=segment)

    assert refused.value.usages == ["Diwali sale"]
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_refresh_estimate_counts_now_and_stores_the_counts():
    ProfileFactory(country="India", phone="+919800000001")
    reachable = ProfileFactory(country="India")
    DeviceFactory(profile=reachable, platform="ios")
    ProfileFactory(country="France")
    segment = SegmentFactory(definition=definition_validate(INDIA))

    estimate = services.segment_refresh_estimate(segment=segment)

    segment.refresh_from_db()
    assert estimate.total == 2
    assert segment.last_estimate["total"] == 2
    assert segment.last_estimate["sms"] == 1
    assert segment.last_estimate["push_ios"] == 1
    assert segment.last_estimate["email"] == 2
    assert "computed_at" not in segment.last_estimate
    assert segment.estimated_at == estimate.computed_at
