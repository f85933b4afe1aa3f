import pytest

from apps.core.roles import Role
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_marketer_logs_in_and_finds_the_sections_of_the_shell(page, screenshot):
    UserFactory(username="mia", role=Role.MARKETER)
    log_in(page, "mia")
    page.wait_for_selector("text=Welcome to Herald")
    nav = page.locator("aside nav").inner_text()
    for section in ("Campaigns", "Notify", "Segments", "Audience", "Templates", "Stats"):
        assert section in nav
    assert "Users" not in nav  # settings are for admins
    screenshot(page, "shell-home-1280")

    page.click("aside >> text=Stats")
    page.wait_for_selector("h1:has-text('Stats')")
    assert "Coming soon" in page.content()

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "shell-stats-phone")
    assert page.locator("aside >> text=Audience").is_visible()


def test_a_wrong_password_keeps_the_visitor_on_the_login_page_with_an_error(page):
    UserFactory(username="mia", role=Role.MARKETER)
    log_in(page, "mia", password="not the password")
    page.wait_for_selector(".errorlist")
    assert "/accounts/login/" in page.url
    assert "correct username and password" in page.locator(".errorlist").inner_text()


def test_logging_out_ends_the_session(page):
    UserFactory(username="ada", role=Role.ADMIN)
    log_in(page, "ada")
    page.wait_for_selector("text=Welcome to Herald")
    page.click("text=Log out")
    page.wait_for_selector("#id_username")
    page.goto("/audience/")
    assert "/accounts/login/" in page.url
