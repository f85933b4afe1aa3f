import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audience.models import ImportStatus, ProfileImport, ProfileImportRejection

IMPORTS_URL = "/audience/imports/"
GOOD_CSV = b"Identity,Name,Email,plan\r\nu-1,Ada,ada@example.com,gold\r\n"


def upload(content: bytes, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def post_file(client, content: bytes, name: str = "people.csv"):
    return client.post(IMPORTS_URL, {"file": upload(content, name)})


def field_errors(response) -> str:
    page = response.content.decode()
    start = page.index('<ul class="errorlist" id="file-errors">')
    return page[start : page.index("</ul>", start)]


# --- The upload form -----------------------------------------------------------------------


def test_a_good_file_is_stored_and_queued_once_the_row_is_committed(
    marketer_client, marketer_user, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_file(marketer_client, GOOD_CSV, name="Spring list.csv")
    profile_import = ProfileImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/audience/imports/{profile_import.pk}/"
    assert len(callbacks) == 1  # the task is enqueued only after the commit
    assert profile_import.status == ImportStatus.QUEUED
    assert profile_import.original_name == "Spring list.csv"
    assert profile_import.created_by == marketer_user
    assert profile_import.file.name.startswith("imports/")
    with profile_import.file.open("rb") as stored:
        assert stored.read() == GOOD_CSV


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "The submitted file is empty."),
        (b"\r\n\r\n", "blank.csv", "The file is empty: the first row must be a header."),
        (b"Name,Phone\r\nAda,+14155550123\r\n", "people.csv", "The header has no identity column"),
        (b"Identity,Name\r\n", "header-only.csv", "The file has a header but no rows"),
        (GOOD_CSV, "people.xlsx", "Choose a .csv file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "This is not a CSV text file"),
        (b"PK\x03\x04\x14\x00\x06\x00", "book.csv", "This is not a CSV text file"),
        ("Identité,Nom\r\n".encode("latin-1"), "latin.csv", "The file is not UTF-8 text"),
        (b"Identity,Email,email\r\nu,a@b.c,a@b.c\r\n", "twice.csv", "both mean Email"),
        (b"Identity,,Name\r\nu,,Ada\r\n", "gap.csv", "Column 2 of the header has no name"),
    ],
)
def test_a_file_that_cannot_be_imported_gets_a_clear_error_beside_the_field(
    marketer_client, media_root, content, name, message
):
    response = post_file(marketer_client, content, name)
    assert response.status_code == 400
    assert message in field_errors(response)
    assert 'aria-invalid="true"' in response.content.decode()
    assert not ProfileImport.objects.exists()


def test_a_file_over_the_size_limit_is_refused_with_the_limit(
    marketer_client, media_root, settings
):
    settings.CSV_IMPORT_MAX_BYTES = 40
    response = post_file(marketer_client, GOOD_CSV + b"u-2,Bob,bob@example.com,silver\r\n")
    assert response.status_code == 400
    assert "the limit is 40\xa0bytes" in field_errors(response)
    assert not ProfileImport.objects.exists()


def test_a_post_without_a_file_says_the_field_is_required(marketer_client, media_root):
    response = marketer_client.post(IMPORTS_URL, {})
    assert response.status_code == 400
    assert "This field is required." in field_errors(response)


def test_semicolon_separated_files_with_a_bom_are_accepted(marketer_client, media_root):
    content = "\ufeffidentity;Name;Email\r\nu-1;Zoë;zoe@example.com\r\n".encode()
    response = post_file(marketer_client, content)
    assert response.status_code == 302
    assert ProfileImport.objects.count() == 1


# --- The import list page ------------------------------------------------------------------


def test_the_import_page_documents_the_columns_and_offers_a_sample(marketer_client, db):
    page = marketer_client.get(IMPORTS_URL).content.decode()
    assert "<title>Import profiles · Herald</title>" in page
    assert 'enctype="multipart/form-data"' in page
    assert 'href="/audience/imports/sample.csv"' in page
    for column in ("Identity", "objectId", "MSG-email", "<code>date_of_birth</code>"):
        assert column in page
    assert "custom property" in page
    assert "No imports yet" in page


def test_the_sample_csv_downloads_and_is_itself_accepted_by_the_form(marketer_client, media_root):
    response = marketer_client.get("/audience/imports/sample.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["Identity", "Name", "Email"]
    assert len(rows) == 3
    assert post_file(marketer_client, response.content).status_code == 302


def test_past_imports_are_listed_with_their_status_and_counts(marketer_client, marketer_user):
    ProfileImport.objects.create(
        original_name="march.csv",
        file="imports/march.csv",
        status=ImportStatus.COMPLETED,
        total_rows=1200,
        processed_rows=1200,
        imported_rows=1190,
        rejected_rows=10,
        created_by=marketer_user,
    )
    ProfileImport.objects.create(
        original_name="broken.csv", file="imports/broken.csv", status=ImportStatus.FAILED
    )
    page = marketer_client.get(IMPORTS_URL).content.decode()
    assert "march.csv" in page and "broken.csv" in page
    assert '<span class="badge good">Completed</span>' in page
    assert '<span class="badge bad">Failed</span>' in page
    assert "1,190" in page and "1,200" in page
    assert "by mia" in page
    assert "No imports yet" not in page


# --- The progress page -----------------------------------------------------------------------


def test_the_progress_partial_polls_every_second_while_the_import_runs(htmx_client, db):
    running = ProfileImport.objects.create(
        original_name="big.csv",
        file="imports/big.csv",
        status=ImportStatus.RUNNING,
        total_rows=4000,
        processed_rows=1000,
        imported_rows=990,
        rejected_rows=10,
    )
    partial = htmx_client.get(f"/audience/imports/{running.pk}/").content.decode()
    assert partial.lstrip().startswith('<article id="import-progress"')
    assert 'hx-trigger="every 1s"' in partial
    assert f'hx-get="/audience/imports/{running.pk}/"' in partial
    assert '<progress value="1000" max="4000"' in partial
    assert "Download rejected rows" not in partial


def test_the_progress_partial_stops_polling_once_the_import_is_done(htmx_client, db):
    done = ProfileImport.objects.create(
        original_name="big.csv",
        file="imports/big.csv",
        status=ImportStatus.COMPLETED,
        total_rows=3,
        processed_rows=3,
        imported_rows=2,
        rejected_rows=1,
    )
    ProfileImportRejection.objects.create(
        profile_import=done, row_number=2, reason="profileData.Phone is bad", raw="u,12"
    )
    partial = htmx_client.get(f"/audience/imports/{done.pk}/").content.decode()
    assert "every 1s" not in partial and "hx-get" not in partial
    assert "2 profiles imported, 1 row rejected" in partial
    assert f'href="/audience/imports/{done.pk}/rejected-rows.csv"' in partial
    assert "profileData.Phone is bad" in partial


def test_a_failed_import_shows_why_and_stops_polling(marketer_client, db):
    failed = ProfileImport.objects.create(
        original_name="gone.csv",
        file="imports/gone.csv",
        status=ImportStatus.FAILED,
        error="The uploaded file cannot be read (no such file).",
    )
    page = marketer_client.get(f"/audience/imports/{failed.pk}/").content.decode()
    assert "The import failed: The uploaded file cannot be read (no such file)." in page
    assert "every 1s" not in page


def test_the_rejected_rows_download_lists_row_reason_and_the_row_as_written(marketer_client, db):
    done = ProfileImport.objects.create(
        original_name="x.csv", file="imports/x.csv", status=ImportStatus.COMPLETED
    )
    ProfileImportRejection.objects.create(
        profile_import=done, row_number=7, reason="The row has 2 cells", raw='u-7,"Ünïcode, Name"'
    )
    ProfileImportRejection.objects.create(
        profile_import=done, row_number=3, reason="profileData.DOB is not a date", raw="u-3,x"
    )
    response = marketer_client.get(f"/audience/imports/{done.pk}/rejected-rows.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="import-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["row_number", "reason", "original_row"],
        ["3", "profileData.DOB is not a date", "u-3,x"],
        ["7", "The row has 2 cells", 'u-7,"Ünïcode, Name"'],
    ]


def test_the_rejected_rows_download_defuses_spreadsheet_formulas(marketer_client, db):
    done = ProfileImport.objects.create(
        original_name="x.csv", file="imports/x.csv", status=ImportStatus.COMPLETED
    )
    ProfileImportRejection.objects.create(
        profile_import=done, row_number=2, reason="bad phone", raw='=HYPERLINK("http://evil")'
    )
    response = marketer_client.get(f"/audience/imports/{done.pk}/rejected-rows.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[1] == ["2", "bad phone", '\'=HYPERLINK("http://evil")']


@pytest.mark.parametrize(
    "path", ["/audience/imports/", "/audience/imports/sample.csv", "/audience/imports/{pk}/"]
)
def test_a_viewer_may_not_open_the_import_pages(viewer_client, db, path):
    profile_import = ProfileImport.objects.create(original_name="x.csv", file="imports/x.csv")
    response = viewer_client.get(path.format(pk=profile_import.pk))
    assert response.status_code == 403


def test_a_viewer_may_not_upload_a_file(viewer_client, media_root):
    response = viewer_client.post(IMPORTS_URL, {"file": upload(GOOD_CSV)})
    assert response.status_code == 403
    assert not ProfileImport.objects.exists()
    assert not (media_root / "imports").exists()


def test_a_file_name_with_a_path_is_stored_under_imports_and_shown_as_sent(
    marketer_client, media_root
):
    response = post_file(marketer_client, GOOD_CSV, name="../../etc/people.csv")
    profile_import = ProfileImport.objects.get()
    assert response.status_code == 302
    assert profile_import.file.name.startswith("imports/")
    assert ".." not in profile_import.file.name
    assert (media_root / profile_import.file.name).read_bytes() == GOOD_CSV
