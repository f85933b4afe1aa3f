import re

import pytest

from apps.accounts.models import AccountSettings
from apps.accounts.services import account_settings_get

pytestmark = pytest.mark.django_db

URL = "/settings/account/"


def _errors_after(page: str, field_id: str) -> str:
    """The text of the error list that follows the field's input, before the next label."""
    after = page.split(f'id="{field_id}"', 1)[1].split("<label", 1)[0]
    match = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', after, re.S)
    return match.group(1) if match else ""


def test_account_page_shows_the_read_only_account_id_and_the_current_zone(admin_client):
    account = account_settings_get()
    page = admin_client.get(URL).content.decode()
    assert f'value="{account.account_id}" readonly' in page
    assert "Copy" in page
    assert '<option value="UTC" selected>' in page
    assert '<optgroup label="Europe">' in page and '<option value="Europe/Paris">' in page


def test_saving_a_valid_zone_stores_it_and_says_so(admin_client):
    response = admin_client.post(
        URL, {"name": "Acme shop", "timezone": "Asia/Kolkata"}, follow=True
    )
    account = AccountSettings.objects.get(pk=1)
    assert (account.name, account.timezone) == ("Acme shop", "Asia/Kolkata")
    page = response.content.decode()
    assert "Account settings saved." in page
    assert '<option value="Asia/Kolkata" selected>' in page


def test_an_unknown_zone_is_refused_beside_the_field_and_nothing_is_saved(admin_client):
    account = account_settings_get()
    response = admin_client.post(URL, {"name": "Renamed", "timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Mars/Olympus_Mons” is not an IANA time zone" in _errors_after(page, "id_timezone")
    assert _errors_after(page, "id_name") == ""
    account.refresh_from_db()
    assert (account.name, account.timezone) == ("Herald", "UTC")


def test_an_empty_name_is_refused_beside_the_name_field(admin_client):
    account_settings_get()
    response = admin_client.post(URL, {"name": "", "timezone": "Europe/Paris"})
    assert response.status_code == 400
    assert "This field is required." in _errors_after(response.content.decode(), "id_name")
    assert AccountSettings.objects.get(pk=1).timezone == "UTC"
