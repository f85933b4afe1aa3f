"""The wizard's Test step in a real browser at 1280 px: the table of provider answers fits the
step's box however long the push tokens and the providers' answers are, and the "no test
profiles" note goes once a profile is picked."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from apps.campaigns.models import WizardStep
from apps.core.roles import Role
from apps.providers.services import provider_create
from tests.accounts.factories import UserFactory
from tests.audience.factories import DeviceFactory, ProfileFactory
from tests.campaigns.factories import CampaignFactory
from tests.e2e.conftest import log_in
from tests.providers.factories import fresh_provider_state, sandbox_fcm, sandbox_twilio

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A real FCM registration token: 163 characters with no space to break at.
TOKEN = "dXk3Zm9vYmFy:APA91bH" + "q7Rz-X_4kLm9NpQwErTyUiOp" * 6
# What a proxy in front of a provider answers when the provider is down: one long line.
GATEWAY_ANSWER = (
    '{"error":"upstream_connect_error_or_disconnect_or_reset_before_headers",'
    '"trace":"' + "0f3a9c" * 80 + '"}'
)


def _sms_coupon(provider):
    """An SMS draft through `provider` saying "Hi", up to its Test step."""
    return CampaignFactory(
        name="Coupon",
        channel="sms",
        provider=provider,
        wizard_step=WizardStep.WHAT,
        content={
            "mode": "single",
            "variants": [{"key": "A", "name": "Variant A", "match": "", "message": {"body": "Hi"}}],
            "template_id": None,
        },
    )


@pytest.fixture(autouse=True)
def _fresh_state():
    yield from fresh_provider_state()


@pytest.fixture
def wordy_gateway():
    """A base URL whose server answers every request 502 with GATEWAY_ANSWER."""

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = GATEWAY_ANSWER.encode()
            self.send_response(502)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _log_in_to_the_step(page, campaign) -> None:
    UserFactory(username="mia", role=Role.MARKETER)
    log_in(page, "mia")
    page.wait_for_selector("text=Welcome to Herald")
    page.goto(_step_url(campaign))


def _assert_the_table_fits(page) -> None:
    box = page.locator(".wizard-body")
    table = page.locator("table.test-results")
    assert table.evaluate("element => element.scrollWidth") <= box.evaluate(
        "element => element.clientWidth"
    )
    # The wrapper around the table does not scroll sideways either: every column is in view.
    wrapper = page.locator("#test-results .overflow-auto")
    assert wrapper.evaluate("element => element.scrollWidth - element.clientWidth") <= 0
    box_right = box.evaluate("element => element.getBoundingClientRect().right")
    for header in ("Result", "Provider", "Details"):
        right = page.locator("table.test-results th", has_text=header).evaluate(
            "element => element.getBoundingClientRect().right"
        )
        assert right <= box_right + 1, f"the {header} column ends off the step"


def _push_campaign(provider):
    message = {"title": "Hey {{ Profile.Name }}", "body": "Our winter sale starts today"}
    return CampaignFactory(
        name="Winter sale",
        channel="push",
        provider=provider,
        wizard_step=WizardStep.WHAT,
        content={
            "mode": "single",
            "variants": [{"key": "A", "name": "Variant A", "match": "", "message": message}],
            "template_id": None,
        },
    )


def _step_url(campaign) -> str:
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "test"})


def test_the_results_table_fits_the_step_at_1280_px_with_long_tokens_and_answers(
    page, screenshot, provider_sandbox
):
    tess = ProfileFactory(name="Tess", identity="tess", is_test=True)
    DeviceFactory(profile=tess, push_token=TOKEN)
    DeviceFactory(profile=tess, push_token=TOKEN[::-1])  # the sandbox turns this one down
    provider = sandbox_fcm(provider_sandbox, "fcm-wide")
    provider_sandbox.client.set_faults("fcm-wide", reject_recipients=[TOKEN[::-1]])
    _log_in_to_the_step(page, _push_campaign(provider))

    page.get_by_role("button", name="Send test").click()
    rows = page.locator("#test-results tbody tr")
    rows.nth(1).wait_for()

    assert sorted(rows.nth(i).locator("td").nth(3).inner_text() for i in range(2)) == [
        "accepted HTTP 200",
        "failed HTTP 404",
    ]
    assert {rows.nth(i).locator("td").nth(2).inner_text() for i in range(2)} == {
        TOKEN,
        TOKEN[::-1],
    }
    _assert_the_table_fits(page)
    screenshot(page, "campaign-test-step-long-tokens-1280")


def test_a_long_provider_answer_shows_its_start_and_opens_in_full_inside_the_step(
    page, screenshot, wordy_gateway
):
    ProfileFactory(name="Tess", identity="tess", phone="+14155550101", is_test=True)
    provider = provider_create(
        channel="sms",
        kind="twilio",
        nickname="Behind a proxy",
        base_url=wordy_gateway,
        credentials={"account_sid": "ACproxy", "auth_token": "token"},
        settings={"from_number": "+15550000000"},
    )
    campaign = _sms_coupon(provider)
    _log_in_to_the_step(page, campaign)

    page.get_by_role("button", name="Send test").click()
    answer = page.locator("#test-results details.test-error")
    answer.wait_for()

    assert "failed (temporary)" in page.locator("#test-results tbody tr td").nth(3).inner_text()
    summary = answer.locator("summary").inner_text()
    assert GATEWAY_ANSWER.startswith(summary.rstrip("…")) and len(summary) < 200
    _assert_the_table_fits(page)
    answer.locator("summary").click()
    assert GATEWAY_ANSWER[:500] in answer.inner_text()
    _assert_the_table_fits(page)
    screenshot(page, "campaign-test-step-long-answer-1280")


def test_profiles_picked_in_the_search_join_the_list_and_both_get_the_test(page, provider_sandbox):
    carla = ProfileFactory(name="Carla", identity="carla", phone="+4930123456")
    bruno = ProfileFactory(name="Bruno", identity="bruno", phone="+4930123457")
    campaign = _sms_coupon(sandbox_twilio(provider_sandbox, "tw-pick"))
    _log_in_to_the_step(page, campaign)
    assert page.locator(".test-empty").is_visible()  # no test profiles yet

    for person in (carla, bruno):
        page.fill("#test-search", person.identity)
        # Ticking it moves it into the list: click, as check() would wait to see it ticked.
        page.locator("#test-search-results").get_by_label(person.name).click()
        page.locator("#test-profiles").get_by_label(person.name).wait_for()

    assert page.locator(".test-empty").count() == 0
    listed = page.locator("#test-profiles")
    assert listed.get_by_label("Carla").is_checked() and listed.get_by_label("Bruno").is_checked()
    assert "Bruno" not in page.locator("#test-search-results").inner_text()  # moved, not twice
    page.get_by_role("button", name="Send test").click()
    page.locator("#test-results tbody tr").nth(1).wait_for()
    assert sorted(d["recipient"] for d in provider_sandbox.client.messages("tw-pick")) == [
        "+4930123456",
        "+4930123457",
    ]
    assert page.locator(".test-empty").count() == 0
