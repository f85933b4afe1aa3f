"""Writes for the Audience pages (marking test profiles, importing CSV files of profiles) and
the delivery engine's one write into the audience: deactivating a dead push token."""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from config.celery_app import app as celery_app

from . import csv_import
from .ingest import ingest_records
from .models import Device, ImportStatus, Profile, ProfileImport, ProfileImportRejection

logger = logging.getLogger(__name__)

# Rows per transaction: the Upload API's own batch limit, so a chunk is one ingest call.
IMPORT_CHUNK_ROWS = 1000
# The import task (tasks.py), enqueued by name: tasks.py imports this module.
PROFILE_IMPORT_TASK = "audience.profile_import_run"


def profile_set_test(*, profile: Profile, is_test: bool) -> bool:
    """Mark or unmark a test profile (campaign test sends go to these). Setting a value
    rather than flipping it keeps a double-clicked button from undoing itself. Returns
    whether anything changed."""
    changed = (
        Profile.objects.filter(pk=profile.pk)
        .exclude(is_test=is_test)
        .update(is_test=is_test, updated_at=timezone.now())
    )
    profile.is_test = is_test
    return bool(changed)


def profile_import_create(*, upload: UploadedFile, created_by) -> ProfileImport:
    """Store the file and queue its import once the row is committed, so the worker never
    looks for an import that is not there yet."""
    with transaction.atomic():
        profile_import = ProfileImport(original_name=upload.name[:255], created_by=created_by)
        profile_import.file.save(upload.name, upload, save=False)
        profile_import.save()
        import_id = profile_import.pk
        # Imports share the "default" queue with rollups, never the sending queues.
        transaction.on_commit(
            lambda: celery_app.tasks[PROFILE_IMPORT_TASK].apply_async(
                args=[import_id], queue="default"
            )
        )
    return profile_import


def profile_import_run(*, import_id: int) -> None:
    """Import a stored CSV file in chunks of IMPORT_CHUNK_ROWS rows.

    Safe to run again at any point: each chunk's profiles, rejections and progress counters
    commit together, so a retried or redelivered task resumes after `processed_rows` and
    never imports or rejects a row twice; a completed or failed import is left alone."""
    now = timezone.now()
    ProfileImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now
    )
    profile_import = ProfileImport.objects.filter(pk=import_id).first()
    if profile_import is None or profile_import.status != ImportStatus.RUNNING:
        return
    try:
        if profile_import.total_rows is None:
            total = _count_rows(profile_import)
            ProfileImport.objects.filter(pk=import_id, total_rows__isnull=True).update(
                total_rows=total
            )
        reached_the_end = _import_rows(profile_import)
    except csv_import.CsvFileError as exc:
        profile_import_fail(import_id=import_id, reason=str(exc))
        return
    except OSError as exc:
        profile_import_fail(
            import_id=import_id, reason=f"The uploaded file cannot be read ({exc})."
        )
        return
    except (OperationalError, InterfaceError):
        raise  # the database went away: Celery retries and the next run resumes
    except Exception as exc:
        # A bug must not leave the page saying "running" for ever.
        logger.exception("profile import %s failed", import_id)
        profile_import_fail(import_id=import_id, reason=f"The import stopped on an error: {exc}")
        return
    if reached_the_end:
        ProfileImport.objects.filter(pk=import_id, status=ImportStatus.RUNNING).update(
            status=ImportStatus.COMPLETED, finished_at=timezone.now()
        )


def profile_import_fail(*, import_id: int, reason: str) -> None:
    ProfileImport.objects.filter(
        pk=import_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
    ).update(status=ImportStatus.FAILED, error=reason, finished_at=timezone.now())


def _count_rows(profile_import: ProfileImport) -> int:
    with profile_import.file.storage.open(profile_import.file.name, "rb") as stored:
        _, rows = csv_import.open_rows(stored)
        return sum(1 for _ in rows)


def _import_rows(profile_import: ProfileImport) -> bool:
    """Returns False when another run of the task took over (then that one finishes)."""
    offset = profile_import.processed_rows
    with profile_import.file.storage.open(profile_import.file.name, "rb") as stored:
        header, rows = csv_import.open_rows(stored)
        for _ in range(offset):  # rows that earlier runs committed
            if next(rows, None) is None:
                break
        for chunk in _chunks(rows, IMPORT_CHUNK_ROWS):
            if not _import_chunk(profile_import.pk, header, chunk, offset=offset):
                return False
            offset += len(chunk)
    return True


def _chunks(rows: Iterable[csv_import.CsvRow], size: int) -> Iterator[list[csv_import.CsvRow]]:
    chunk: list[csv_import.CsvRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class _Sourced:
    record: dict
    row: csv_import.CsvRow


def _import_chunk(
    import_id: int, header: csv_import.CsvHeader, chunk: list[csv_import.CsvRow], *, offset: int
) -> bool:
    rejections: list[ProfileImportRejection] = []
    sourced: list[_Sourced] = []
    for row in chunk:
        if row.error:
            record, reason = None, row.error
        else:
            record, reason = csv_import.row_to_record(header, row.cells)
        if record is None:
            rejections.append(_rejection(import_id, row, reason))
        else:
            sourced.append(_Sourced(record=record, row=row))

    with transaction.atomic():
        # The lock orders two runs of the same import (a redelivered task while the first
        # still works): the second waits here, then sees the progress moved and stops.
        locked = (
            ProfileImport.objects.select_for_update()
            .only("status", "processed_rows")
            .get(pk=import_id)
        )
        if locked.status != ImportStatus.RUNNING or locked.processed_rows != offset:
            return False
        imported = 0
        if sourced:
            result = ingest_records([s.record for s in sourced])
            for rejected in result.rejected:
                reason = _reason_in_csv_terms(rejected.error or str(rejected.code), header)
                rejections.append(_rejection(import_id, sourced[rejected.index].row, reason))
            imported = len(sourced) - len(result.rejected)
        ProfileImportRejection.objects.bulk_create(rejections)
        ProfileImport.objects.filter(pk=import_id).update(
            processed_rows=F("processed_rows") + len(chunk),
            imported_rows=F("imported_rows") + imported,
            rejected_rows=F("rejected_rows") + len(rejections),
        )
    return True


def _reason_in_csv_terms(error: str, header: csv_import.CsvHeader) -> str:
    """The Upload API names fields as `profileData.Phone`; a CSV user knows the column by
    the header they wrote, say `phone_number`."""
    for key, name in zip(header.keys, header.names, strict=True):
        prefix = f"profileData.{key} "
        if error.startswith(prefix):
            return f"{name} {error.removeprefix(prefix)}"
    return error


def _rejection(import_id: int, row: csv_import.CsvRow, reason: str) -> ProfileImportRejection:
    return ProfileImportRejection(
        profile_import_id=import_id, row_number=row.number, reason=reason, raw=row.raw
    )


def devices_deactivate(*, dead: dict[str, str], now=None) -> int:
    """Deactivate the devices of push tokens a provider refused for good: token → the
    provider's words. One UPDATE for the whole batch, matched on the token that was sent, so
    a device whose app registered a new token meanwhile is left alone. The reach flags follow
    by themselves (their triggers watch push_token). Returns how many were deactivated."""
    if not dead:
        return 0
    tokens = list(dead)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Device._meta.db_table} AS d SET deactivated_token = d.push_token, "
            "push_token = NULL, deactivated_at = %s, deactivated_reason = x.reason "
            "FROM unnest(%s::text[], %s::text[]) AS x(token, reason) "
            "WHERE d.push_token = x.token",
            [now or timezone.now(), tokens, [dead[t][:200] for t in tokens]],
        )
        return cursor.rowcount
