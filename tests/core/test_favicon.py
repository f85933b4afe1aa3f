"""/favicon.ico: browsers ask for it on every page that names no icon (the API's JSON, a
download); it is served to anyone, not answered with a 404."""

import pytest
from django.templatetags.static import static

from apps.core.roles import Role
from tests.accounts.factories import UserFactory

ICO_HEADER = b"\x00\x00\x01\x00"  # reserved 0, type 1 (icon)


def test_favicon_ico_is_served_without_a_login(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302 and response["Location"] == static("favicon.ico")
    icon = client.get(response["Location"])
    assert icon.status_code == 200
    assert b"".join(icon.streaming_content).startswith(ICO_HEADER)


@pytest.mark.django_db
def test_the_pages_name_the_icon_so_browsers_fetch_it_without_the_redirect(client):
    icon = f'<link rel="icon" href="{static("favicon.ico")}"'
    assert icon in client.get("/accounts/login/").content.decode()
    client.force_login(UserFactory(username="mia", role=Role.MARKETER))
    assert icon in client.get("/").content.decode()
