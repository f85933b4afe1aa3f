import csv
import io
import time
from datetime import date

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audience.models import ImportStatus, Profile, ProfileImport, ProfileImportRejection
from apps.audience.tasks import profile_import_run_task

MIXED_CSV = (
    "Identity,Name,Email,Phone,DOB,Country,City,MSG-email,plan,score,vip\r\n"
    "u-1,Zoë Ångström,Zoe@Example.com,+14155550123,1990-12-10,Sverige,Göteborg,false,"
    "gold,42,true\r\n"
    "u-2,李小龙,bruce@example.com,+8613800138000,,China,香港,,silver,7.5,false\r\n"
    "u-3,Bad Phone,bad@example.com,12345,,,,,,,\r\n"
    "u-4,Bad Birthday,dob@example.com,,31/02/1990,,,,,,\r\n"
    "u-5,Too Few Cells\r\n"
    'u-6,"Smith, John",john@example.com,,,,,yes,"gold, plus",00123,\r\n'
    ",No Identity,,,,,,,,,\r\n"
)


@pytest.fixture
def worker(media_root, celery_worker):
    return celery_worker


def stored_import(content: bytes, **fields) -> ProfileImport:
    profile_import = ProfileImport(original_name="people.csv", **fields)
    profile_import.file.save("people.csv", ContentFile(content), save=True)
    return profile_import


def wait_until_finished(profile_import: ProfileImport, timeout: float = 60) -> ProfileImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        profile_import.refresh_from_db()
        if profile_import.status in (ImportStatus.COMPLETED, ImportStatus.FAILED):
            return profile_import
        time.sleep(0.2)
    raise AssertionError(f"import still {profile_import.status} after {timeout}s")


def database_state() -> dict:
    return {
        "profiles": list(Profile.objects.order_by("pk").values_list()),
        "rejections": list(ProfileImportRejection.objects.order_by("pk").values_list()),
        "imports": list(ProfileImport.objects.order_by("pk").values_list()),
    }


@pytest.mark.slow
def test_an_uploaded_file_is_imported_by_a_real_worker_good_rows_stored_bad_rows_listed(
    worker, marketer_client, htmx_client
):
    upload = SimpleUploadedFile("mixed.csv", MIXED_CSV.encode(), content_type="text/csv")
    response = marketer_client.post("/audience/imports/", {"file": upload})
    assert response.status_code == 302
    profile_import = wait_until_finished(ProfileImport.objects.get())

    assert profile_import.status == ImportStatus.COMPLETED, profile_import.error
    assert (profile_import.total_rows, profile_import.processed_rows) == (7, 7)
    assert (profile_import.imported_rows, profile_import.rejected_rows) == (3, 4)

    zoe = Profile.objects.get(identity="u-1")
    assert (zoe.name, zoe.email, zoe.phone) == ("Zoë Ångström", "zoe@example.com", "+14155550123")
    assert (zoe.date_of_birth, zoe.country, zoe.city) == (date(1990, 12, 10), "Sverige", "Göteborg")
    assert zoe.email_unsubscribed is True  # MSG-email false
    assert zoe.properties == {"plan": "gold", "score": 42, "vip": True}
    bruce = Profile.objects.get(identity="u-2")
    assert (bruce.name, bruce.city, bruce.date_of_birth) == ("李小龙", "香港", None)
    assert bruce.properties == {"plan": "silver", "score": 7.5, "vip": False}
    john = Profile.objects.get(identity="u-6")
    assert john.name == "Smith, John"
    assert john.properties == {"plan": "gold, plus", "score": "00123"}
    assert john.email_unsubscribed is False
    assert Profile.objects.count() == 3

    rejections = {r.row_number: r for r in profile_import.rejections.all()}
    assert sorted(rejections) == [3, 4, 5, 7]
    assert rejections[3].reason.startswith('Phone "12345" is not a valid phone number')
    assert rejections[3].raw == "u-3,Bad Phone,bad@example.com,12345,,,,,,,"
    assert rejections[4].reason.startswith('DOB "31/02/1990" is not a date')
    assert rejections[5].reason == "The row has 2 cells but the header has 11 columns."
    assert rejections[5].raw == "u-5,Too Few Cells"
    assert "no identity" in rejections[7].reason

    download = marketer_client.get(f"/audience/imports/{profile_import.pk}/rejected-rows.csv")
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["row_number", "reason", "original_row"]
    assert [row[0] for row in rows[1:]] == ["3", "4", "5", "7"]
    assert rows[3] == ["5", rejections[5].reason, "u-5,Too Few Cells"]

    partial = htmx_client.get(f"/audience/imports/{profile_import.pk}/").content.decode()
    assert "every 1s" not in partial
    assert "3 profiles imported, 4 rows rejected" in partial
    assert '<progress value="7" max="7"' in partial


def test_running_the_task_again_on_a_completed_import_changes_nothing(media_root, db):
    profile_import = stored_import(MIXED_CSV.encode())
    profile_import_run_task(profile_import.pk)
    profile_import.refresh_from_db()
    assert profile_import.status == ImportStatus.COMPLETED
    before = database_state()

    profile_import_run_task(profile_import.pk)

    assert database_state() == before


def big_csv(rows: int) -> bytes:
    lines = ["identity,email_address,n"]
    lines += [f"row-{n},row{n}@example.com,{n}" for n in range(1, rows + 1)]
    return ("\n".join(lines) + "\n").encode()


def test_a_resumed_import_starts_after_the_rows_already_committed(media_root, db):
    # As a worker killed after committing the first chunk of 1,000 rows leaves it.
    profile_import = stored_import(
        big_csv(1500),
        status=ImportStatus.RUNNING,
        total_rows=1500,
        processed_rows=1000,
        imported_rows=1000,
    )

    profile_import_run_task(profile_import.pk)

    profile_import.refresh_from_db()
    assert profile_import.status == ImportStatus.COMPLETED
    assert (profile_import.processed_rows, profile_import.imported_rows) == (1500, 1500)
    identities = set(Profile.objects.values_list("identity", flat=True))
    assert identities == {f"row-{n}" for n in range(1001, 1501)}
    assert Profile.objects.get(identity="row-1001").properties == {"n": 1001}


def test_a_large_file_is_imported_in_chunks_with_progress_counted(media_root, db):
    content = big_csv(2100).replace(b"row-2000,row2000@example.com", b"row-2000,not-an-email")
    profile_import = stored_import(content)

    profile_import_run_task(profile_import.pk)

    profile_import.refresh_from_db()
    assert profile_import.status == ImportStatus.COMPLETED
    assert profile_import.total_rows == 2100
    assert (profile_import.imported_rows, profile_import.rejected_rows) == (2099, 1)
    assert Profile.objects.count() == 2099
    rejection = profile_import.rejections.get()
    assert rejection.row_number == 2000
    # Named by the column's header as written, not the Upload API's profileData.Email.
    assert rejection.reason.startswith('email_address "not-an-email" is not a valid email')


def test_a_row_that_is_not_utf8_is_rejected_alone(media_root, db):
    content = (
        b"Identity,Name\n"
        b"u-1,Ada\n"
        b"u-2,Bj\xf6rk\n"  # Latin-1, not UTF-8
        b"u-3,Zo\xc3\xab\n"
    )
    profile_import = stored_import(content)

    profile_import_run_task(profile_import.pk)

    profile_import.refresh_from_db()
    assert (profile_import.imported_rows, profile_import.rejected_rows) == (2, 1)
    assert set(Profile.objects.values_list("name", flat=True)) == {"Ada", "Zoë"}
    rejection = profile_import.rejections.get()
    assert (rejection.row_number, rejection.reason) == (2, "The row is not valid UTF-8 text.")
    assert rejection.raw == "u-2,Bj\ufffdrk"


def test_a_quoted_cell_may_span_lines_and_the_rejection_keeps_the_row_as_written(media_root, db):
    content = b'Identity,Phone,note\nu-1,+14155550123,"line one\nline two"\nu-2,nope,"a\nb"\n'
    profile_import = stored_import(content)

    profile_import_run_task(profile_import.pk)

    assert Profile.objects.get(identity="u-1").properties == {"note": "line one\nline two"}
    rejection = ProfileImportRejection.objects.get()
    assert (rejection.row_number, rejection.raw) == (2, 'u-2,nope,"a\nb"')


def test_an_import_whose_file_has_gone_fails_with_the_reason(media_root, db):
    profile_import = stored_import(MIXED_CSV.encode())
    profile_import.file.storage.delete(profile_import.file.name)

    profile_import_run_task(profile_import.pk)

    profile_import.refresh_from_db()
    assert profile_import.status == ImportStatus.FAILED
    assert profile_import.error.startswith("The uploaded file cannot be read")
    assert profile_import.finished_at is not None
    assert not Profile.objects.exists()


def test_an_import_whose_header_lost_its_identity_column_fails_with_the_reason(media_root, db):
    profile_import = stored_import(b"Name,Phone\nAda,+14155550123\n")

    profile_import_run_task(profile_import.pk)

    profile_import.refresh_from_db()
    assert profile_import.status == ImportStatus.FAILED
    assert "no identity column" in profile_import.error
    assert not Profile.objects.exists()


def test_an_import_another_run_has_moved_on_from_is_left_to_that_run(media_root, db):
    from apps.audience import csv_import, services

    profile_import = stored_import(big_csv(10), status=ImportStatus.RUNNING, processed_rows=0)
    with profile_import.file.open("rb") as stored:
        header, rows = csv_import.open_rows(stored)
        chunk = list(rows)
    ProfileImport.objects.filter(pk=profile_import.pk).update(processed_rows=10)

    assert services._import_chunk(profile_import.pk, header, chunk, offset=0) is False
    assert not Profile.objects.exists()


def test_a_file_with_old_mac_line_endings_is_accepted_and_imported(marketer_client, media_root):
    upload = SimpleUploadedFile("mac.csv", b"Identity,Name\ru-1,Ada\ru-2,Bob\r")
    response = marketer_client.post("/audience/imports/", {"file": upload})
    assert response.status_code == 302

    profile_import = ProfileImport.objects.get()
    profile_import_run_task(profile_import.pk)

    profile_import.refresh_from_db()
    assert (profile_import.total_rows, profile_import.imported_rows) == (2, 2)
    assert sorted(Profile.objects.values_list("name", flat=True)) == ["Ada", "Bob"]


def test_an_import_whose_retries_are_used_up_is_marked_failed_not_left_running(media_root, db):
    from django.db import OperationalError

    profile_import = stored_import(MIXED_CSV.encode(), status=ImportStatus.RUNNING)

    profile_import_run_task.on_failure(
        OperationalError("server closed the connection"), "task-id", (profile_import.pk,), {}, None
    )

    profile_import.refresh_from_db()
    assert profile_import.status == ImportStatus.FAILED
    assert "repeated errors: server closed the connection" in profile_import.error
