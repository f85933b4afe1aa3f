import pytest

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the factory's


def test_wrong_credentials_show_an_error_and_do_not_log_in(client):
    UserFactory(username="mia")
    response = client.post("/accounts/login/", {"username": "mia", "password": "wrong"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Please enter a correct username and password." in page
    assert 'value="mia"' in page  # the username is kept, the password is not
    assert "_auth_user_id" not in client.session


def test_login_returns_to_the_page_that_asked_for_it(client):
    UserFactory(username="ada", role="admin")
    bounce = client.get("/settings/users/")
    assert bounce["Location"] == "/accounts/login/?next=/settings/users/"
    login_page = client.get(bounce["Location"]).content.decode()
    assert 'name="next" value="/settings/users/"' in login_page

    response = client.post(
        "/accounts/login/",
        {"username": "ada", "password": PASSWORD, "next": "/settings/users/"},
    )
    assert response["Location"] == "/settings/users/"
    assert "<h1>Users</h1>" in client.get("/settings/users/").content.decode()


def test_login_ignores_a_next_that_points_to_another_site(client):
    UserFactory(username="ada")
    response = client.post(
        "/accounts/login/",
        {"username": "ada", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_a_deactivated_user_cannot_log_in(client):
    gone = UserFactory(username="gone")
    gone.is_active = False
    gone.save()
    response = client.post("/accounts/login/", {"username": "gone", "password": PASSWORD})
    assert "Please enter a correct username and password." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_needs_a_post(admin_client):
    assert admin_client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in admin_client.session
    response = admin_client.post("/accounts/logout/")
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in admin_client.session
