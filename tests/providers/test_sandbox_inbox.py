"""The Sandbox inbox page: what the sandbox received, for Admins only."""

import smtplib
from email.message import EmailMessage

import pytest
from django.urls import NoReverseMatch, reverse

from tests.net import free_port


def _inbox_url(name: str = "inbox") -> str:
    # Included under the providers pages (namespace providers:sandbox) or, failing that,
    # directly under settings (namespace sandbox).
    for qualified in (f"providers:sandbox:{name}", f"sandbox:{name}"):
        try:
            return reverse(qualified)
        except NoReverseMatch:
            continue
    pytest.fail("the sandbox inbox URLs are not included in the URLconf")


@pytest.fixture
def sandbox_for_pages(provider_sandbox, settings):
    settings.PROVIDER_SANDBOX_HOST = "127.0.0.1"
    settings.PROVIDER_SANDBOX_PORT = provider_sandbox.port
    settings.PROVIDER_SANDBOX_SMTP_PORT = provider_sandbox.smtp_port
    return provider_sandbox


def _send_email(sandbox, *, label: str, to: str, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = "herald@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=10) as smtp:
        smtp.login(label, "pw")
        smtp.send_message(message)


@pytest.mark.slow
def test_the_inbox_shows_a_message_the_sandbox_received(admin_client, sandbox_for_pages):
    _send_email(
        sandbox_for_pages,
        label="demo-email",
        to="ana@example.com",
        subject="Your order shipped",
        text="It arrives Tuesday",
    )
    [recorded] = sandbox_for_pages.client.messages()

    page = admin_client.get(_inbox_url())

    html = page.content.decode()
    assert page.status_code == 200
    assert "Sandbox inbox" in html
    assert "ana@example.com" in html
    assert "Your order shipped" in html and "It arrives Tuesday" in html
    assert "demo-email" in html
    assert recorded["provider_message_id"] in html
    assert 'hx-trigger="every 2s"' in html


@pytest.mark.slow
def test_the_inbox_filters_by_label(admin_client, sandbox_for_pages):
    _send_email(sandbox_for_pages, label="alpha", to="a@example.com", subject="A", text="one")
    _send_email(sandbox_for_pages, label="beta", to="b@example.com", subject="B", text="two")

    html = admin_client.get(_inbox_url(), {"label": "alpha"}).content.decode()

    assert "a@example.com" in html
    assert "b@example.com" not in html
    assert "beta (1)" in html  # still offered in the label filter


@pytest.mark.slow
def test_an_htmx_refresh_returns_only_the_inbox_partial(admin_client, sandbox_for_pages):
    _send_email(sandbox_for_pages, label="alpha", to="a@example.com", subject="A", text="one")

    partial = admin_client.get(_inbox_url(), HTTP_HX_REQUEST="true").content.decode()

    assert partial.lstrip().startswith('<section id="sandbox-inbox"')
    assert "a@example.com" in partial
    assert "<html" not in partial


@pytest.mark.slow
def test_clearing_the_inbox_empties_the_sandbox(admin_client, sandbox_for_pages):
    _send_email(sandbox_for_pages, label="alpha", to="a@example.com", subject="A", text="one")

    response = admin_client.post(_inbox_url("clear"), follow=True)

    assert sandbox_for_pages.client.messages() == []
    html = response.content.decode()
    assert "Sandbox inbox cleared." in html
    assert "The sandbox inbox is empty" in html


def test_the_inbox_says_when_the_sandbox_is_not_running(admin_client, settings):
    settings.PROVIDER_SANDBOX_PORT = free_port()  # nothing listens there

    page = admin_client.get(_inbox_url())
    cleared = admin_client.post(_inbox_url("clear"), follow=True)

    assert page.status_code == 200
    assert "The provider sandbox is not running" in page.content.decode()
    assert "nothing to clear" in cleared.content.decode()


@pytest.mark.slow
def test_only_admins_may_see_or_clear_the_inbox(client, marketer_client, sandbox_for_pages):
    _send_email(sandbox_for_pages, label="alpha", to="a@example.com", subject="A", text="one")

    assert marketer_client.get(_inbox_url()).status_code == 403
    assert marketer_client.post(_inbox_url("clear")).status_code == 403
    client.logout()
    anonymous = client.get(_inbox_url())
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert len(sandbox_for_pages.client.messages()) == 1  # nothing was cleared


@pytest.mark.slow
def test_admins_find_the_inbox_in_the_settings_navigation(admin_client, sandbox_for_pages):
    html = admin_client.get(reverse("core:home")).content.decode()

    assert "Sandbox inbox" in html and _inbox_url() in html
