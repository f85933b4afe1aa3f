"""An admin creates an API passcode in the browser, sees it once, uses it against the real
REST API served by the same live server, and revokes it."""

import httpx
import pytest

from apps.accounts.models import ApiPasscode
from apps.audience.models import Event
from apps.core.roles import Role
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def upload_event(base_url: str, account_id: str, passcode: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/1/upload",
        headers={"X-CleverTap-Account-Id": account_id, "X-CleverTap-Passcode": passcode},
        json={"d": [{"type": "event", "identity": "c-1", "evtName": "App Launched"}]},
    )


def test_an_admin_creates_uses_and_revokes_a_passcode(page, live_server, screenshot):
    UserFactory(username="ada", role=Role.ADMIN)
    log_in(page, "ada")
    page.goto("/settings/api-credentials/")
    page.fill("input[name=name]", "Checkout backend")
    page.click("button:has-text('Create passcode')")
    raw = page.locator("#new-passcode-value").inner_text().strip()
    account_id = page.input_value("#account-id")
    screenshot(page, "settings-api-credentials-created")

    assert ApiPasscode.objects.get(name="Checkout backend").hint == raw[:6]
    accepted = upload_event(live_server.url, account_id, raw)
    assert accepted.json() == {"status": "success", "processed": 1, "unprocessed": []}
    assert Event.objects.filter(profile__identity="c-1", name="App Launched").count() == 1

    page.goto("/settings/api-credentials/")
    assert raw not in page.content()  # shown once, never again
    assert "Checkout backend" in page.content()
    page.click("text=Revoke…")
    page.click("button:has-text('Revoke passcode')")
    page.wait_for_selector("text=revoked")

    refused = upload_event(live_server.url, account_id, raw)
    assert refused.status_code == 401
    assert refused.json()["status"] == "fail"
    assert Event.objects.count() == 1
