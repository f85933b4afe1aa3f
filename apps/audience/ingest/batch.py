"""One ingest call (`ingest_records`): parse every record, then write the valid ones in ONE
transaction, retried when a deadlock or a unique-key race rolls it back. The write looks the
profiles up, creates the missing ones, merges the batch into the others (skipping profiles it
would not change), upserts devices and inserts events: a fixed number of queries per call."""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from .deltas import ProfileDelta, delta_merge
from .devices import devices_upsert
from .events import events_insert
from .lookup import StoredProfile, attached_identity_conflicts, profiles_by_key
from .parsing import ParsedRecord, record_parse
from .profile_writes import profiles_create, profiles_update
from .results import IngestResult, RecordError, RecordRejected, RejectedRecord

WRITE_ATTEMPTS = 3
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
KEY_KIND_ORDER = ("identity", "fbid", "object_id", "email")
# Any number will do: it only has to be the same in every process.
EMAIL_CREATE_LOCK = 7_311_902_114


class _ConcurrentChange(Exception):
    """Another transaction changed what this one read; the write is retried."""


def ingest_records(records: list[Any]) -> IngestResult:
    """Validate and store Upload-API records; bad records are returned, good ones stored."""
    now = timezone.now()
    valid: list[ParsedRecord] = []
    rejected: list[RejectedRecord] = []
    stored_events: list[tuple[int, str]] = []
    for index, record in enumerate(records):
        try:
            valid.append(record_parse(index, record, now=now))
        except RecordRejected as problem:
            rejected.append(RejectedRecord(index, int(problem.code), problem.message, record))

    if valid:
        late = _store(valid, now=now, stored_events=stored_events)
        if late:
            rejected.extend(
                RejectedRecord(r.index, int(code), message, records[r.index])
                for r, code, message in late
            )
            rejected.sort(key=lambda r: r.index)
    return IngestResult(
        processed=len(records) - len(rejected), rejected=rejected, stored_events=stored_events
    )


def _store(
    records: list[ParsedRecord], *, now: datetime, stored_events: list[tuple[int, str]]
) -> list[tuple[ParsedRecord, RecordError, str]]:
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        stored_events.clear()  # a rolled-back attempt stored nothing
        try:
            with transaction.atomic():
                return _write(records, now=now, stored_events=stored_events)
        except (IntegrityError, OperationalError, _ConcurrentChange) as error:
            # A unique key taken by a request that committed after our reads, or a deadlock:
            # the savepoint is gone, so reading again sees the other request's rows.
            retryable = isinstance(error, IntegrityError | _ConcurrentChange) or (
                getattr(error.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES
            )
            if attempt == WRITE_ATTEMPTS or not retryable:
                raise
    raise AssertionError("unreachable")


def _write(
    records: list[ParsedRecord], *, now: datetime, stored_events: list[tuple[int, str]]
) -> list[tuple[ParsedRecord, RecordError, str]]:
    keys: dict[str, set[str]] = {kind: set() for kind in KEY_KIND_ORDER}
    for record in records:
        keys[record.key_kind].add(record.key)

    found = {kind: profiles_by_key(kind, values) for kind, values in keys.items() if values}
    if keys["email"] - found.get("email", {}).keys():
        # Email is not unique, so no constraint stops two requests from both creating
        # "new@example.com": creating email-keyed profiles is serialised instead.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EMAIL_CREATE_LOCK])
        found["email"] = profiles_by_key("email", keys["email"])

    late = attached_identity_conflicts(records, found)
    if late:
        refused = {r.index for r, _, _ in late}
        records = [r for r in records if r.index not in refused]

    # profile id for existing profiles, (key kind, key) for profiles this batch creates
    deltas: dict[int | tuple[str, str], ProfileDelta] = {}
    stored: dict[int, StoredProfile] = {}
    target_of: dict[tuple[str, str], int | tuple[str, str]] = {}
    for record in records:
        group = (record.key_kind, record.key)
        target = target_of.get(group)
        if target is None:
            match = found.get(record.key_kind, {}).get(record.key)
            target = match.pk if match else group
            if match:
                stored[match.pk] = match
            target_of[group] = target
        deltas.setdefault(target, ProfileDelta()).add(record)

    for pk in [pk for pk in deltas if pk in stored and stored[pk].unchanged_by(deltas[pk])]:
        del deltas[pk]  # nothing to write: no row lock, no new row version

    new_groups = sorted(
        (t for t in deltas if isinstance(t, tuple)),
        key=lambda g: (KEY_KIND_ORDER.index(g[0]), g[1]),
    )
    if new_groups:
        created = profiles_create(new_groups, deltas, now=now)
        # Groups another request created between our read and our insert: read them again
        # (one query per key kind) and merge into them like into any existing profile.
        raced = [group for group in new_groups if group not in created]
        again = {
            kind: profiles_by_key(kind, {key for k, key in raced if k == kind})
            for kind in {kind for kind, _ in raced}
        }
        for group in new_groups:
            delta = deltas.pop(group)
            profile_id = created.get(group)
            if profile_id is None:
                match = again[group[0]].get(group[1])
                if match is None:  # the conflict was on another unique key: start over
                    raise _ConcurrentChange(group)
                profile_id = match.pk
                delta_merge(deltas.setdefault(profile_id, ProfileDelta()), delta)
            target_of[group] = profile_id  # a new profile's target is its own group
        # deltas now holds only updates of existing profiles; created ones are complete.

    if deltas:
        profiles_update(deltas, now=now)

    devices_upsert([r for r in records if r.kind == "token"], target_of, now=now)
    events = [r for r in records if r.kind == "event"]
    if events:
        stored_events.extend(events_insert(events, target_of))
    return late
