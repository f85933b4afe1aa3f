"""Profiles by key: one query per key kind (`profiles_by_key`), what a profile looked like
when the batch read it (to skip no-op updates), identities a record may not attach, and
`profile_lookup` for the API."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from ..models import Profile
from .deltas import ProfileDelta
from .field_values import shown
from .parsing import ParsedRecord
from .results import RecordError
from .upload_format import KEY_MAX_LENGTH, PROFILE_COLUMNS


@dataclass(slots=True)
class StoredProfile:
    """What a profile looked like when the batch read it: enough to skip no-op updates."""

    pk: int
    identity: str | None
    columns: dict[str, Any]
    properties: Any  # jsonb text from the raw cursor, decoded when first needed
    first_seen: datetime | None
    last_seen: datetime | None

    def unchanged_by(self, delta: "ProfileDelta") -> bool:
        """True when writing `delta` would change nothing (profile syncs resend the same
        data, and most events fall inside the first/last seen range already stored)."""
        if delta.first_seen and (self.first_seen is None or delta.first_seen < self.first_seen):
            return False
        if delta.last_seen and (self.last_seen is None or delta.last_seen > self.last_seen):
            return False
        for column, value in delta.columns.items():
            if self.columns[column] != value:
                return False
        if delta.properties:
            if isinstance(self.properties, str):
                self.properties = json.loads(self.properties)
            stored = self.properties if isinstance(self.properties, dict) else {}
            for key, value in delta.properties.items():
                if (
                    key not in stored
                    or stored[key] != value
                    or type(stored[key]) is not type(value)
                ):
                    return False
        return True


_STORED_FIELDS = ("id", *PROFILE_COLUMNS, "properties", "first_seen", "last_seen")


def profiles_by_key(kind: str, values: set[str]) -> dict[str, StoredProfile]:
    """key → the profile it names, one query. An email shared by several profiles names
    the oldest of them."""
    if not values:
        return {}
    # A join on the function's rows, not `IN (…1,000 values…)`: the planner then probes the
    # unique index per key instead of scanning the whole table.
    fields = ", ".join(f"p.{name}" for name in _STORED_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.{kind}, {fields} FROM jsonb_array_elements_text(%s::jsonb) AS k(key) "
            f"JOIN {Profile._meta.db_table} AS p ON p.{kind} = k.key",
            [json.dumps(sorted(values))],
        )
        rows = cursor.fetchall()
    found: dict[str, StoredProfile] = {}
    for key, pk, *columns, properties, first_seen, last_seen in rows:
        if key in found and found[key].pk < pk:
            continue
        stored_columns = dict(zip(PROFILE_COLUMNS, columns, strict=True))
        found[key] = StoredProfile(
            pk, stored_columns["identity"], stored_columns, properties, first_seen, last_seen
        )
    return found


def attached_identity_conflicts(
    records: list[ParsedRecord], found: dict[str, dict[str, StoredProfile]]
) -> list[tuple[ParsedRecord, RecordError, str]]:
    """profileData.Identity on a record keyed by objectId/FBID/email gives that profile an
    identity (a login). Refuse when the identity is someone else's or the profile has one."""
    attaching = [r for r in records if r.attach_identity is not None]
    if not attaching:
        return []
    wanted = {r.attach_identity for r in attaching}
    owners = {key: match.pk for key, match in profiles_by_key("identity", wanted).items()}
    batch_identities = {r.key for r in records if r.key_kind == "identity"}
    claimed: dict[str, tuple[str, str]] = {}
    late = []
    for record in attaching:
        identity, group = record.attach_identity, (record.key_kind, record.key)
        match = found.get(record.key_kind, {}).get(record.key)
        profile_id, current = (match.pk, match.identity) if match else (None, None)
        problem = None
        if identity in owners and owners[identity] != profile_id:
            problem = "belongs to another profile"
        elif current and current != identity:
            problem = f"cannot replace this profile's identity {shown(current)}"
        elif identity in batch_identities or claimed.setdefault(identity, group) != group:
            problem = "is given to another profile in this request"
        if problem:
            late.append(
                (
                    record,
                    RecordError.IDENTITY_CONFLICT,
                    f"profileData.Identity {shown(identity)} {problem}",
                )
            )
    return late


def profile_lookup(*, key_kind: str, value: str) -> Profile | None:
    """The profile an Upload API key names (`identity`, `object_id`, `fbid` or `email`),
    with the same rules as ingest: emails compare lower-cased, the oldest profile wins."""
    if key_kind not in KEY_MAX_LENGTH:
        raise ValueError(f"unknown key kind {key_kind!r}")
    value = value.strip().lower() if key_kind == "email" else value.strip()
    if not value:
        return None
    return Profile.objects.filter(**{key_kind: value}).order_by("id").first()
