import pytest
from django.urls import resolve

from apps.accounts.models import ApiPasscode
from apps.accounts.services import api_passcode_revoke
from apps.audience.models import Profile
from tests.api.helpers import upload

pytestmark = pytest.mark.django_db

RECORD = {"type": "profile", "identity": "intruder", "profileData": {"Name": "X"}}


def test_a_wrong_passcode_is_refused_with_401_and_nothing_is_stored(client, api_credentials):
    headers = {
        "HTTP_X_CLEVERTAP_ACCOUNT_ID": api_credentials["account_id"],
        "HTTP_X_CLEVERTAP_PASSCODE": "not-the-passcode",
    }

    response = upload(client, headers, [RECORD])

    assert response.status_code == 401
    assert response.json() == {
        "status": "fail",
        "error": "Invalid account id or passcode (or the passcode was revoked)",
        "code": 401,
    }
    assert not Profile.objects.exists()


def test_a_wrong_account_id_is_refused(client, api_credentials):
    headers = {
        "HTTP_X_CLEVERTAP_ACCOUNT_ID": "AAA-BBB-CCCC",
        "HTTP_X_CLEVERTAP_PASSCODE": api_credentials["passcode"],
    }

    response = upload(client, headers, [RECORD])

    assert response.status_code == 401 and response.json()["code"] == 401
    assert not Profile.objects.exists()


def test_missing_headers_are_named_in_the_error(client, api_credentials):
    response = upload(client, {}, [RECORD])
    assert response.status_code == 401
    assert response.json()["error"] == (
        "Missing authentication header X-CleverTap-Account-Id and X-CleverTap-Passcode"
    )

    only_account = {"HTTP_X_CLEVERTAP_ACCOUNT_ID": api_credentials["account_id"]}
    response = upload(client, only_account, [RECORD])
    assert response.status_code == 401
    assert response.json() == {
        "status": "fail",
        "error": "Missing authentication header X-CleverTap-Passcode",
        "code": 401,
    }
    assert not Profile.objects.exists()


def test_a_revoked_passcode_no_longer_works(client, api_headers):
    assert upload(client, api_headers, [RECORD]).status_code == 200
    api_passcode_revoke(passcode=ApiPasscode.objects.get())

    response = upload(client, api_headers, [{**RECORD, "identity": "after-revoke"}])

    assert response.status_code == 401 and response.json()["code"] == 401
    assert list(Profile.objects.values_list("identity", flat=True)) == ["intruder"]


def test_profile_json_needs_the_headers_too(client, api_credentials):
    response = client.get("/1/profile.json", {"identity": "anyone"})
    assert response.status_code == 401 and response.json()["status"] == "fail"


def test_api_views_are_public_and_authenticate_by_header():
    # The permission matrix accepts views marked @public; these check the headers instead.
    for path in ("/1/upload", "/1/profile.json"):
        assert resolve(path).func.public_view is True
        assert resolve(path).func.csrf_exempt is True


def test_a_wrong_method_gets_405_in_the_api_error_shape(client, api_headers):
    response = client.get("/1/upload", **api_headers)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == {
        "status": "fail",
        "error": "Method GET not allowed; use POST",
        "code": 405,
    }

    response = client.post("/1/profile.json", **api_headers)
    assert response.status_code == 405 and response.json()["code"] == 405
