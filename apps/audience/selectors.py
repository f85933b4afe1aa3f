"""Reads for the Audience pages. Built to stay quick on a million profiles: searches use
the indexed columns (identity, object_id, email, phone, the GIN index on properties) and a
part-of-name search uses the pg_trgm index from migration 0004."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from .csv_import import custom_property_value
from .models import Device, Event, Profile, ProfileImport, ProfileImportRejection

# What the list shows; `properties` (a JSON document per profile) is left unread.
PROFILE_LIST_COLUMNS = (
    "id",
    "identity",
    "object_id",
    "name",
    "email",
    "phone",
    "country",
    "last_seen",
    "is_test",
)
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]{6,20}")


@dataclass(frozen=True)
class ProfileFilters:
    q: str = ""
    country: str = ""
    has_email: bool = False
    has_phone: bool = False
    has_push_device: bool = False
    email_unsubscribed: bool = False
    sms_unsubscribed: bool = False
    test_only: bool = False


def profile_search_condition(q: str) -> Q:
    """The search box. `key=value` looks a custom property up by JSON containment (GIN
    indexed); anything else is matched exactly against identity and objectId, against email
    when it holds an @, against phone when it looks like a number, and otherwise as a part
    of the name (the one predicate that reads every row)."""
    q = q.strip()
    key, sep, value = q.partition("=")
    if sep and key.strip():
        key, value = key.strip(), value.strip()
        condition = Q(properties__contains={key: value})
        typed = custom_property_value(value)
        if typed != value:
            # `plan=5` finds 5 stored as a number and "5" stored as text.
            condition |= Q(properties__contains={key: typed})
        return condition
    condition = Q(identity=q) | Q(object_id=q)
    if "@" in q:
        condition |= Q(email=q.lower())  # the Upload API stores addresses lower-cased
    elif _PHONE_LIKE.fullmatch(q):
        digits = re.sub(r"\D", "", q)
        condition |= Q(phone__in={q, "+" + digits})
    else:
        condition |= Q(name__icontains=q)
    return condition


def profile_list(*, filters: ProfileFilters) -> QuerySet[Profile]:
    profiles = Profile.objects.only(*PROFILE_LIST_COLUMNS)
    if filters.q.strip():
        profiles = profiles.filter(profile_search_condition(filters.q))
    if filters.country:
        profiles = profiles.filter(country=filters.country)
    if filters.has_email:
        profiles = profiles.exclude(email="")
    if filters.has_phone:
        profiles = profiles.exclude(phone="")
    if filters.has_push_device:
        profiles = profiles.filter(
            Exists(Device.objects.filter(profile=OuterRef("pk"), push_token__isnull=False))
        )
    if filters.email_unsubscribed:
        profiles = profiles.filter(email_unsubscribed=True)
    if filters.sms_unsubscribed:
        profiles = profiles.filter(sms_unsubscribed=True)
    if filters.test_only:
        profiles = profiles.filter(is_test=True)
    # Newest profiles first, in primary-key order: a page is an index walk however many
    # match. Not last_seen: it moves on every event, and leaving it unindexed keeps those
    # updates HOT (no index writes), which is what makes the Upload API fast.
    return profiles.order_by("-id")


def profile_exists() -> bool:
    return Profile.objects.exists()


def profile_countries() -> list[str]:
    """The countries profiles live in, for the filter's choices. A loose index scan over
    profile_geo_idx: one index probe per country instead of reading every row."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH RECURSIVE countries(country) AS (
                (SELECT country FROM audience_profile WHERE country > ''
                 ORDER BY country LIMIT 1)
                UNION ALL
                SELECT (SELECT p.country FROM audience_profile p WHERE p.country > c.country
                        ORDER BY p.country LIMIT 1)
                FROM countries c WHERE c.country IS NOT NULL
            )
            SELECT country FROM countries WHERE country IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


def profile_devices(*, profile: Profile) -> QuerySet[Device]:
    return profile.devices.order_by(F("last_active").desc(nulls_last=True), "-id")


def profile_events(*, profile: Profile) -> QuerySet[Event]:
    return Event.objects.filter(profile=profile).order_by("-ts", "-id")


def profile_import_list() -> QuerySet[ProfileImport]:
    return ProfileImport.objects.select_related("created_by").order_by("-created_at", "-id")


def profile_import_rejections(*, profile_import: ProfileImport) -> Iterator[ProfileImportRejection]:
    rejections = ProfileImportRejection.objects.filter(profile_import=profile_import)
    return rejections.order_by("row_number").iterator(chunk_size=2000)


def profile_import_rejection_preview(
    *, profile_import: ProfileImport, limit: int = 20
) -> list[ProfileImportRejection]:
    return list(profile_import.rejections.order_by("row_number")[:limit])
