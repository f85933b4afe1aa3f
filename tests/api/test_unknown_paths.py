"""Whatever an API client gets wrong about the address or the method, the answer is the API's
JSON error shape, never one of the dashboard's HTML pages."""

import pytest

from apps.audience.models import Profile

pytestmark = pytest.mark.django_db

UNKNOWN_PATHS = ["/1/targets/create.json", "/1/send/push.json", "/1/", "/1/upload/records"]


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_an_unknown_api_path_answers_404_in_the_api_error_shape(client, path, method):
    response = client.generic(method, path, data=b"{}", content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "fail",
        "error": f"No API endpoint at {path}",
        "code": 404,
    }


def test_an_unknown_api_path_with_credentials_answers_the_same_and_stores_nothing(
    client, api_headers
):
    response = client.post(
        "/1/upload.json",
        data='{"d": [{"type": "profile", "identity": "x", "profileData": {}}]}',
        content_type="application/json",
        **api_headers,
    )

    assert response.status_code == 404
    assert response.json()["error"] == "No API endpoint at /1/upload.json"
    assert not Profile.objects.exists()


def test_a_slash_too_many_says_which_endpoint_was_meant(client, api_headers):
    response = client.post("/1/upload/", data="{}", content_type="application/json", **api_headers)

    assert response.status_code == 404
    assert response.json() == {
        "status": "fail",
        "error": "No API endpoint at /1/upload/; did you mean /1/upload?",
        "code": 404,
    }
    assert client.get("/1/profile.json/").json()["error"].endswith("did you mean /1/profile.json?")


def test_the_api_root_without_its_slash_ends_in_the_api_error_shape(client):
    response = client.get("/1", follow=True)
    assert response.status_code == 404 and response.json()["code"] == 404


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/1/upload", "put", "POST"),
        ("/1/upload", "delete", "POST"),
        ("/1/upload", "patch", "POST"),
        ("/1/upload", "options", "POST"),
        ("/1/profile.json", "put", "GET"),
        ("/1/profile.json", "delete", "GET"),
    ],
)
def test_a_wrong_method_on_a_known_path_answers_405_in_the_api_error_shape(
    client, path, method, allowed
):
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == allowed
    assert response.json() == {
        "status": "fail",
        "error": f"Method {method.upper()} not allowed; use {allowed}",
        "code": 405,
    }
