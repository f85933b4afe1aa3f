import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.accounts.services import UserChangeRefused, user_change_role, user_set_active
from apps.core.roles import Role
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/settings/users/"
STRONG = "plum-orchard-Harbour-42"


def _errors_after(page: str, field_id: str) -> str:
    after = page.split(f'id="{field_id}"', 1)[1].split("<label", 1)[0]
    match = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', after, re.S)
    return match.group(1) if match else ""


def _row(page: str, user: User) -> str:
    """The user's <tbody>: their row and the message row under it, if any."""
    return page.split(f'<tbody id="user-{user.pk}">', 1)[1].split("</tbody>", 1)[0]


def _new_user(**overrides) -> dict:
    return {
        "username": "nina",
        "email": "nina@example.com",
        "first_name": "Nina",
        "last_name": "Simone",
        "role": Role.MARKETER,
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }


def test_users_are_listed_with_role_status_and_last_login(admin_client, admin_user):
    gone = UserFactory(username="gone", first_name="Gus", last_name="One", role=Role.VIEWER)
    gone.is_active = False
    gone.save()
    page = admin_client.get(URL).content.decode()

    mine = _row(page, admin_user)
    assert "ada" in mine and "you</span>" in mine
    assert '<option value="admin" selected>' in mine
    assert 'badge good">active' in mine
    theirs = _row(page, gone)
    assert "Gus One" in theirs and "gone@example.com" in theirs
    assert '<option value="viewer" selected>' in theirs
    assert 'badge bad">inactive' in theirs and "never" in theirs
    assert "Reactivate" in theirs


def test_an_admin_creates_a_user_who_can_then_log_in(admin_client):
    response = admin_client.post(URL, _new_user(), follow=True)
    assert "User nina created with the Marketer role." in response.content.decode()
    nina = User.objects.get(username="nina")
    assert (nina.email, nina.role, nina.get_full_name()) == (
        "nina@example.com",
        Role.MARKETER,
        "Nina Simone",
    )
    assert nina.check_password(STRONG)
    assert Client().login(username="nina", password=STRONG)


def test_a_weak_password_is_refused_beside_the_password_field(admin_client):
    response = admin_client.post(URL, _new_user(password1="12345678", password2="12345678"))
    assert response.status_code == 400
    errors = _errors_after(response.content.decode(), "id_password1")
    assert "This password is too common." in errors
    assert "This password is entirely numeric." in errors
    assert not User.objects.filter(username="nina").exists()


def test_a_password_like_the_username_is_refused(admin_client):
    response = admin_client.post(URL, _new_user(password1="nina-simone", password2="nina-simone"))
    assert response.status_code == 400
    assert "too similar" in _errors_after(response.content.decode(), "id_password1")


def test_mismatched_passwords_and_a_missing_email_are_refused_beside_their_fields(
    admin_client,
):
    response = admin_client.post(URL, _new_user(email="", password2=STRONG + "x"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "The two passwords differ." in _errors_after(page, "id_password2")
    assert "This field is required." in _errors_after(page, "id_email")
    assert not User.objects.filter(username="nina").exists()


def test_a_username_that_differs_only_in_case_is_taken(admin_client):
    response = admin_client.post(URL, _new_user(username="ADA"))
    assert response.status_code == 400
    assert "already exists" in _errors_after(response.content.decode(), "id_username")
    assert User.objects.count() == 1


def test_an_admin_changes_another_users_role(admin_client, marketer_user):
    response = admin_client.post(f"/settings/users/{marketer_user.pk}/role/", {"role": "admin"})
    assert response.status_code == 302
    marketer_user.refresh_from_db()
    assert marketer_user.role == Role.ADMIN
    assert "mia is now Admin." in admin_client.get(URL).content.decode()


def test_an_htmx_role_change_returns_only_the_users_row(admin_client, marketer_user):
    response = admin_client.post(
        f"/settings/users/{marketer_user.pk}/role/", {"role": "viewer"}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.strip().startswith(f'<tbody id="user-{marketer_user.pk}">')
    assert "<html" not in page
    assert '<option value="viewer" selected>' in page and "mia is now Viewer." in page
    marketer_user.refresh_from_db()
    assert marketer_user.role == Role.VIEWER


def test_an_unknown_role_is_refused(admin_client, marketer_user):
    response = admin_client.post(f"/settings/users/{marketer_user.pk}/role/", {"role": "owner"})
    assert response.status_code == 400
    assert "Choose one of the roles." in _row(response.content.decode(), marketer_user)
    marketer_user.refresh_from_db()
    assert marketer_user.role == Role.MARKETER


def test_a_deactivated_user_is_signed_out_and_can_be_reactivated(admin_client):
    mia = UserFactory(username="mia", role=Role.MARKETER)
    client = Client()  # mia's own browser; admin_client is the shared `client` fixture
    client.force_login(mia)
    assert client.get("/").status_code == 200

    admin_client_response = admin_client.post(
        f"/settings/users/{mia.pk}/active/", {"is_active": "0"}, follow=True
    )
    assert "mia deactivated" in admin_client_response.content.decode()
    mia.refresh_from_db()
    assert mia.is_active is False
    assert client.get("/")["Location"] == "/accounts/login/?next=/"

    admin_client.post(f"/settings/users/{mia.pk}/active/", {"is_active": "1"})
    mia.refresh_from_db()
    assert mia.is_active is True


def test_an_admin_cannot_deactivate_themselves(admin_client, admin_user):
    UserFactory(username="bo", role=Role.ADMIN)  # not the last admin
    response = admin_client.post(f"/settings/users/{admin_user.pk}/active/", {"is_active": "0"})
    assert response.status_code == 400
    assert "You cannot deactivate yourself." in _row(response.content.decode(), admin_user)
    admin_user.refresh_from_db()
    assert admin_user.is_active is True


def test_an_admin_cannot_demote_themselves(admin_client, admin_user):
    UserFactory(username="bo", role=Role.ADMIN)
    response = admin_client.post(
        f"/settings/users/{admin_user.pk}/role/", {"role": "marketer"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200  # htmx swaps only 2xx: the row shows the refusal
    assert "You cannot change your own role" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


@pytest.mark.parametrize(
    ("action", "data"), [("role", {"role": "viewer"}), ("active", {"is_active": "0"})]
)
def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(
    admin_client, admin_user, action, data
):
    # An inactive admin does not count: they cannot log in to manage anything.
    retired = UserFactory(username="old", role=Role.ADMIN)
    retired.is_active = False
    retired.save()
    response = admin_client.post(f"/settings/users/{admin_user.pk}/{action}/", data)
    assert response.status_code == 400
    assert "ada is the last active admin" in _row(response.content.decode(), admin_user)
    admin_user.refresh_from_db()
    assert (admin_user.role, admin_user.is_active) == (Role.ADMIN, True)


def test_the_service_keeps_one_active_admin_whoever_asks(db):
    first = UserFactory(username="first", role=Role.ADMIN)
    second = UserFactory(username="second", role=Role.ADMIN)
    user_change_role(user=first, role=Role.MARKETER)  # two admins: allowed
    with pytest.raises(UserChangeRefused, match="second is the last active admin"):
        user_set_active(user=second, is_active=False)
    second.refresh_from_db()
    assert (second.role, second.is_active) == (Role.ADMIN, True)


def test_a_user_demoted_meanwhile_can_no_longer_change_users(db):
    admin = UserFactory(username="first", role=Role.ADMIN)
    UserFactory(username="second", role=Role.ADMIN)
    target = UserFactory(username="target", role=Role.VIEWER)
    stale = User.objects.get(pk=admin.pk)  # as loaded by a request still in flight
    user_change_role(user=admin, role=Role.MARKETER)
    with pytest.raises(UserChangeRefused, match="Only an active admin"):
        user_change_role(user=target, role=Role.ADMIN, acting_user=stale)
    target.refresh_from_db()
    assert target.role == Role.VIEWER


def test_the_users_list_costs_the_same_queries_for_few_or_many_users(
    admin_client, django_assert_num_queries
):
    admin_client.get(URL)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(URL)
    UserFactory.create_batch(8)
    with django_assert_num_queries(len(few)):
        admin_client.get(URL)
