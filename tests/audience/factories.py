import factory
from django.utils import timezone

from apps.audience.models import Device, Event, Platform, Profile


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    identity = factory.Sequence(lambda n: f"user-{n}")
    name = factory.Sequence(lambda n: f"Person {n}")
    email = factory.LazyAttribute(lambda p: f"{p.identity}@example.com")
    last_seen = factory.LazyFunction(timezone.now)


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    profile = factory.SubFactory(ProfileFactory)
    platform = Platform.ANDROID
    push_token = factory.Sequence(lambda n: f"fcm-token-{n:04d}-" + "x" * 40)
    app_version = "3.2.1"
    make = "Google"
    model = "Pixel 8"
    os_version = "14"
    sdk_version = "5.9.0"
    last_active = factory.LazyFunction(timezone.now)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    profile = factory.SubFactory(ProfileFactory)
    name = "App Launched"
    ts = factory.LazyFunction(timezone.now)
    properties = factory.LazyFunction(dict)
