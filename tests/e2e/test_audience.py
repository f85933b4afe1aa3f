"""A marketer works with the audience in a real browser: search, open a profile, flag it as
a test profile, import a CSV and watch the progress bar finish (a real Celery worker)."""

import pytest

from apps.audience.models import ImportStatus, Profile, ProfileImport
from apps.core.roles import Role
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CSV = (
    "Identity,Name,Email,Phone,Country,plan\n"
    "imp-1,Grace Hopper,grace@example.com,+14155550100,United States,gold\n"
    "imp-2,Alan Turing,alan@example.com,12345,United Kingdom,silver\n"
    "imp-3,Ada Lovelace,ada@example.com,+447911123456,United Kingdom,gold\n"
)


def test_a_marketer_finds_a_profile_and_marks_it_as_a_test_profile(page, screenshot):
    UserFactory(username="mia", role=Role.MARKETER)
    Profile.objects.create(identity="u-1", name="Zoë Ångström", email="zoe@example.com")
    Profile.objects.create(identity="u-2", name="Bruce Lee", email="bruce@example.com")
    log_in(page, "mia")

    page.goto("/audience/")
    page.wait_for_selector("text=Bruce Lee")
    page.fill("input[name=q]", "Ångström")
    page.wait_for_function(
        "!document.querySelector('#profile-results').innerText.includes('Bruce')"
    )
    assert "Zoë Ångström" in page.locator("#profile-results").inner_text()
    assert "q=" in page.url  # the search is in the address bar, so reload and back work
    screenshot(page, "audience-search")

    page.click("#profile-results >> text=Zoë Ångström")
    page.wait_for_selector("h1:has-text('Zoë Ångström')")
    page.click("text=Mark as test profile")
    page.wait_for_selector("text=Unmark as test profile")
    assert Profile.objects.get(identity="u-1").is_test is True
    screenshot(page, "audience-profile-test")


def test_a_marketer_imports_a_csv_and_watches_it_finish(
    page, screenshot, media_root, celery_worker, tmp_path
):
    UserFactory(username="mia", role=Role.MARKETER)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(CSV)
    log_in(page, "mia")

    page.goto("/audience/imports/")
    page.set_input_files("input[type=file]", str(csv_file))
    page.click("text=Upload and import")
    page.wait_for_selector("text=Completed", timeout=60_000)  # htmx polling, no reload
    screenshot(page, "audience-import-done")

    profile_import = ProfileImport.objects.get()
    assert profile_import.status == ImportStatus.COMPLETED
    assert (profile_import.imported_rows, profile_import.rejected_rows) == (2, 1)
    assert set(Profile.objects.values_list("identity", flat=True)) == {"imp-1", "imp-3"}
    body = page.locator("main").inner_text()
    assert "rejected" in body.lower()
    with page.expect_download() as download:
        page.click("text=/[Dd]ownload rejected rows/")
    assert "12345" in download.value.path().read_text(encoding="utf-8-sig")
