import hashlib
import re

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import ApiPasscode
from apps.accounts.services import (
    account_settings_get,
    api_passcode_authenticate,
    api_passcode_create,
)

pytestmark = pytest.mark.django_db

URL = "/settings/api-credentials/"


def _shown_passcode(page: str) -> str:
    return re.search(r'id="new-passcode-value">([^<]+)<', page).group(1)


def _every_stored_value() -> str:
    """Every row of every table, sessions decoded, as one string to search in."""
    chunks = []
    for model in apps.get_models():
        chunks.extend(repr(row) for row in model.objects.values_list())
    chunks.extend(repr(session.get_decoded()) for session in Session.objects.all())
    return "\n".join(chunks)


def test_empty_state_invites_creating_the_first_passcode(admin_client):
    page = admin_client.get(URL).content.decode()
    assert "No passcodes yet" in page
    assert 'action="/settings/api-credentials/"' in page


def test_page_shows_the_account_id_and_a_curl_example_with_both_headers(admin_client):
    account = account_settings_get()
    page = admin_client.get(URL).content.decode()
    assert f'value="{account.account_id}" readonly' in page
    assert 'curl -X POST "http://testserver/1/upload"' in page
    assert f"X-CleverTap-Account-Id: {account.account_id}" in page
    assert "X-CleverTap-Passcode: YOUR_PASSCODE" in page


def test_a_new_passcode_is_shown_once_and_only_its_digest_is_stored(admin_client, admin_user):
    response = admin_client.post(URL, {"name": "Backend server"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = _shown_passcode(response.content.decode())
    passcode = ApiPasscode.objects.get()
    assert passcode.name == "Backend server"
    assert passcode.created_by == admin_user
    assert passcode.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert passcode.hint == raw[:6]
    assert raw not in _every_stored_value()
    # Not in a flash message either: the next page view does not show it again.
    later = admin_client.get(URL).content.decode()
    assert raw not in later
    assert "Backend server" in later and f"{raw[:6]}…" in later
    account_id = account_settings_get().account_id
    assert api_passcode_authenticate(account_id=account_id, passcode=raw) == passcode


def test_a_passcode_needs_a_name(admin_client):
    response = admin_client.post(URL, {"name": "   "})
    assert response.status_code == 400
    page = response.content.decode()
    field_and_after = page.split('id="id_name"', 1)[1]
    assert 'class="errorlist"' in field_and_after.split("</form>", 1)[0]
    assert "new-passcode-value" not in page
    assert not ApiPasscode.objects.exists()


def test_list_shows_creator_hint_last_use_and_status(admin_client, admin_user):
    _, raw_used = api_passcode_create(name="Used one", created_by=admin_user)
    _, _raw_cli = api_passcode_create(name="From the command line")
    api_passcode_authenticate(account_id=account_settings_get().account_id, passcode=raw_used)
    page = admin_client.get(URL).content.decode()
    used_row = page.split("<td>Used one</td>", 1)[1].split("</tr>", 1)[0]
    assert f"{raw_used[:6]}…" in used_row
    assert "<td>ada</td>" in used_row
    assert "now" in used_row and "never" not in used_row
    assert 'badge good">active' in used_row
    cli_row = page.split("<td>From the command line</td>", 1)[1].split("</tr>", 1)[0]
    assert "command line" in cli_row and "never" in cli_row


def test_revoking_asks_for_confirmation_then_refuses_the_passcode(admin_client):
    passcode, raw = api_passcode_create(name="Old job")
    confirm_url = f"/settings/api-credentials/{passcode.pk}/revoke/"

    confirmation = admin_client.get(confirm_url).content.decode()
    assert "Revoke passcode “Old job”?" in confirmation
    assert f'action="{confirm_url}"' in confirmation
    passcode.refresh_from_db()
    assert passcode.revoked_at is None  # looking at the question changes nothing

    response = admin_client.post(confirm_url, follow=True)
    passcode.refresh_from_db()
    assert passcode.revoked_at is not None
    page = response.content.decode()
    assert "Passcode “Old job” revoked" in page
    assert 'badge bad"' in page and "revoked</span>" in page
    account_id = account_settings_get().account_id
    assert api_passcode_authenticate(account_id=account_id, passcode=raw) is None


def test_revoking_twice_says_it_was_already_revoked(admin_client):
    passcode, _ = api_passcode_create(name="Old job")
    url = f"/settings/api-credentials/{passcode.pk}/revoke/"
    admin_client.post(url)
    first_revoked_at = ApiPasscode.objects.get().revoked_at
    response = admin_client.post(url, follow=True)
    assert "was already revoked" in response.content.decode()
    assert ApiPasscode.objects.get().revoked_at == first_revoked_at


def test_revoking_an_unknown_passcode_is_a_404(admin_client):
    assert admin_client.post("/settings/api-credentials/999999/revoke/").status_code == 404


def test_the_list_costs_the_same_queries_for_one_or_many_passcodes(
    admin_client, admin_user, django_assert_num_queries
):
    api_passcode_create(name="first", created_by=admin_user)
    admin_client.get(URL)  # warm the account row and the session
    with CaptureQueriesContext(connection) as one:
        admin_client.get(URL)
    for n in range(5):
        api_passcode_create(name=f"more {n}", created_by=admin_user)
    with django_assert_num_queries(len(one)):
        admin_client.get(URL)
