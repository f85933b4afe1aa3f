"""Factories for segment tests. Audience rows come from tests.audience.factories; this module
re-exports them so segment tests import from one place. H4 adds Segment factories here."""

from tests.audience.factories import DeviceFactory, EventFactory, ProfileFactory

__all__ = ["DeviceFactory", "EventFactory", "ProfileFactory"]
