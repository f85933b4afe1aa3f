"""Factories for segment tests. Audience rows come from tests.audience.factories; this module
re-exports them so segment tests import from one place. H4 adds Segment factories here."""

from tests.audience.factories import DeviceFactory, EventFactory, ProfileFactory

__all__ = ["DeviceFactory", "EventFactory", "ProfileFactory"]


import factory

from apps.segments.models import Segment


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = "past"
    definition = factory.LazyFunction(lambda: {"version": 1, "kind": "past"})


__all__ += ["SegmentFactory"]
