import secrets

from django.conf import settings
from django.db import models
from django.db.models import F


def new_object_id() -> str:
    """Herald's own id for a profile, used by the API as `objectId` (like CleverTap's)."""
    return "__h" + secrets.token_hex(14)


class Gender(models.TextChoices):
    MALE = "M", "Male"
    FEMALE = "F", "Female"
    OTHER = "O", "Other"


class Profile(models.Model):
    """One person. Identity keys: `identity` (the customer's own id), `object_id` (Herald's),
    `fbid`; `email` is also accepted as a lookup key by the Upload API but not unique, since
    two customers' identities may share an address."""

    identity = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    object_id = models.CharField(max_length=64, default=new_object_id)
    fbid = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    email = models.CharField(max_length=254, blank=True, default="")
    phone = models.CharField(
        max_length=20, blank=True, default="", help_text="E.164, e.g. +14155550123"
    )
    name = models.CharField(max_length=200, blank=True, default="")
    gender = models.CharField(max_length=1, choices=Gender.choices, blank=True, default="")
    date_of_birth = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=80, blank=True, default="")
    region = models.CharField(max_length=80, blank=True, default="")
    city = models.CharField(max_length=80, blank=True, default="")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True, default="", help_text="IANA name")
    language = models.CharField(max_length=16, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    email_unsubscribed = models.BooleanField(default=False)
    sms_unsubscribed = models.BooleanField(default=False)
    push_opt_out = models.BooleanField(default=False)
    # "Has a device of this platform with a push token": kept by PostgreSQL triggers on
    # audience_device (migration 0009), so reach estimates and "reachable by push" read three
    # columns instead of probing every matching profile's devices. Facts about devices only:
    # push_opt_out is applied on top. Not editable: no form or API writes them. db_default: a
    # raw INSERT or COPY that does not name them (seed_demo, the Upload API) gets False.
    push_android = models.BooleanField(default=False, db_default=False, editable=False)
    push_ios = models.BooleanField(default=False, db_default=False, editable=False)
    push_web = models.BooleanField(default=False, db_default=False, editable=False)
    is_test = models.BooleanField(default=False)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Unique constraints rather than unique=True: on PostgreSQL unique=True CharFields also
        # get a varchar_pattern_ops "_like" index each, which nothing here searches by prefix
        # and which every profile update (last_seen moves on every event) would maintain.
        # NULL identity / fbid mean "not known": unique constraints ignore NULLs.
        constraints = [
            models.UniqueConstraint(fields=["identity"], name="profile_identity_unique"),
            models.UniqueConstraint(fields=["object_id"], name="profile_object_id_unique"),
            models.UniqueConstraint(fields=["fbid"], name="profile_fbid_unique"),
        ]
        indexes = [
            # Lookups by the Upload API and the profile search box.
            models.Index(fields=["email"], name="profile_email_idx"),
            models.Index(fields=["phone"], name="profile_phone_idx"),
            # Geography and demographic segment filters compare these columns directly.
            models.Index(fields=["country", "region", "city"], name="profile_geo_idx"),
            # A bounding box narrows radius queries before the exact distance test.
            models.Index(fields=["latitude", "longitude"], name="profile_latlon_idx"),
            # No index on last_seen or first_seen: they move with every event, and while no
            # index covers a changed column PostgreSQL updates the row in place (HOT, no index
            # writes at all), which more than triples the Upload API's throughput at a
            # million profiles. Migration 0005 leaves room on each page for that.
            # Test profiles are few; a partial index finds them without scanning everyone.
            models.Index(fields=["id"], condition=models.Q(is_test=True), name="profile_test_idx"),
            # A GIN index on `properties` (jsonb_path_ops, for @> containment) is created in
            # SQL by migration 0002, like the indexes 0006-0010 build by hand; the model does
            # not declare those.
        ]

    def __str__(self) -> str:
        return self.name or self.identity or self.email or self.object_id


class Platform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WEB = "web", "Web"


class Device(models.Model):
    # db_index=False: device_profile_last_active_idx starts with profile_id and serves the joins.
    profile = models.ForeignKey(
        Profile, related_name="devices", on_delete=models.CASCADE, db_index=False
    )
    platform = models.CharField(max_length=8, choices=Platform.choices)
    # NULL, not "", for devices without a token: the unique constraint ignores NULLs. For a
    # Web Push subscription this is its endpoint URL, and `push_keys` holds its keys.
    push_token = models.CharField(max_length=512, null=True, blank=True)  # noqa: DJ001
    # Web Push only: {"p256dh": …, "auth": …}, what the payload is encrypted to (RFC 8291).
    push_keys = models.JSONField(null=True, blank=True)
    # A provider said the token is gone for good (FCM UNREGISTERED, APNs 410 / BadDeviceToken,
    # Web Push 404 / 410): the token moves to `deactivated_token` and `push_token` becomes
    # NULL, so every "has a push token" rule (the reach flags' triggers, the snapshot, the
    # Test step) stops counting the device without knowing about deactivation. The app
    # uploading the token again registers it anew.
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # db_default: bulk loads (seed_demo's COPY) name only the columns they fill.
    deactivated_reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    deactivated_token = models.CharField(max_length=512, blank=True, default="", db_default="")
    app_version = models.CharField(max_length=32, blank=True, default="")
    make = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=64, blank=True, default="")
    os_version = models.CharField(max_length=32, blank=True, default="")
    sdk_version = models.CharField(max_length=32, blank=True, default="")
    last_active = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A push token addresses exactly one installation.
            models.UniqueConstraint(fields=["push_token"], name="device_token_unique"),
        ]
        indexes = [
            # "Last active device" push choice (in exactly this order, so a run's snapshot
            # reads each profile's choice off the index without sorting) and app-field
            # segment filters per profile.
            models.Index(
                F("profile"),
                F("last_active").desc(nulls_last=True),
                F("id").desc(),
                name="device_profile_last_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.make} {self.model}".strip()


class Event(models.Model):
    # db_index=False: event_profile_name_ts_idx starts with profile_id and serves the joins,
    # the cascade on delete and the timeline (one profile's few hundred events, sorted).
    profile = models.ForeignKey(
        Profile, related_name="events", on_delete=models.CASCADE, db_index=False
    )
    name = models.CharField(max_length=128)
    ts = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            # "Who did X between A and B": range scan on one event name, then join profiles.
            # Migration 0007 rebuilds it in SQL with INCLUDE (profile_id), so that join
            # visits no heap page; declared here without it, as 0001 created it.
            models.Index(fields=["name", "ts"], name="event_name_ts_idx"),
            # EXISTS / NOT EXISTS per profile ("did X in the last N days", counts per profile)
            # and the profile timeline: an index probe per profile. Every index here is paid
            # for on each of the millions of event inserts, so there is no second one.
            models.Index(fields=["profile", "name", "ts"], name="event_profile_name_ts_idx"),
            # Event property filters (Amount > 100, Items|Category = shoes) use a GIN index
            # on `properties`, created by migration 0002 (see Profile).
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.ts:%Y-%m-%d %H:%M}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class ProfileImport(models.Model):
    """A CSV file of profiles, imported by a Celery task in chunks."""

    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    imported_rows = models.PositiveIntegerField(default=0)
    rejected_rows = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"


class ProfileImportRejection(models.Model):
    profile_import = models.ForeignKey(
        ProfileImport, related_name="rejections", on_delete=models.CASCADE
    )
    row_number = models.PositiveIntegerField(help_text="1 is the first data row after the header")
    reason = models.TextField()
    raw = models.TextField(help_text="The row as it stood in the file")

    class Meta:
        ordering = ["row_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile_import", "row_number"], name="import_rejection_row_unique"
            )
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"
