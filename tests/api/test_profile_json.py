import pytest

from apps.api import errors
from apps.audience.models import Profile
from tests.api.helpers import upload

pytestmark = pytest.mark.django_db

TS = 1_700_000_000


@pytest.fixture
def jane(client, api_headers):
    upload(
        client,
        api_headers,
        [
            {
                "type": "profile",
                "identity": "jane-42",
                "profileData": {
                    "Name": "Jane",
                    "Email": "Jane@Example.com",
                    "Phone": "+919876543210",
                    "Gender": "F",
                    "DOB": "1991-04-05",
                    "Country": "India",
                    "Region": "MH",
                    "City": "Mumbai",
                    "Latitude": 19.07,
                    "Longitude": 72.87,
                    "Timezone": "Asia/Kolkata",
                    "Language": "hi",
                    "MSG-email": False,
                    "Plan": "Gold",
                },
            },
            {"type": "event", "identity": "jane-42", "evtName": "Opened", "ts": TS},
            {"type": "event", "identity": "jane-42", "evtName": "Opened", "ts": TS + 3600},
            {
                "type": "token",
                "identity": "jane-42",
                "ts": TS + 3600,
                "tokenData": {"id": "fcm-jane", "type": "fcm", "make": "Samsung"},
            },
        ],
    )
    return Profile.objects.get(identity="jane-42")


def test_profile_json_returns_the_profile_with_its_devices(client, api_headers, jane):
    response = client.get("/1/profile.json", {"identity": "jane-42"}, **api_headers)

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "record": {
            "identity": "jane-42",
            "objectId": jane.object_id,
            "FBID": None,
            "email": "jane@example.com",
            "phone": "+919876543210",
            "name": "Jane",
            "gender": "F",
            "DOB": "1991-04-05",
            "location": {
                "country": "India",
                "region": "MH",
                "city": "Mumbai",
                "latitude": 19.07,
                "longitude": 72.87,
            },
            "timezone": "Asia/Kolkata",
            "language": "hi",
            "MSG-email": False,
            "MSG-sms": True,
            "MSG-push": True,
            "profileData": {"Plan": "Gold"},
            "firstSeen": TS,
            "lastSeen": TS + 3600,
            "devices": [
                {
                    "platform": "android",
                    "token": "fcm-jane",
                    "appVersion": "",
                    "make": "Samsung",
                    "model": "",
                    "osVersion": "",
                    "sdkVersion": "",
                    "lastActive": TS + 3600,
                }
            ],
        },
    }


@pytest.mark.parametrize("parameter", ["identity", "email", "objectId"])
def test_profile_json_finds_the_profile_by_each_key(client, api_headers, jane, parameter):
    value = {"identity": "jane-42", "email": "JANE@example.com", "objectId": jane.object_id}[
        parameter
    ]

    response = client.get("/1/profile.json", {parameter: value}, **api_headers)

    assert response.status_code == 200
    assert response.json()["record"]["objectId"] == jane.object_id


def test_an_unknown_profile_is_404(client, api_headers, jane):
    response = client.get("/1/profile.json", {"identity": "nobody"}, **api_headers)

    assert response.status_code == 404
    assert response.json() == {
        "status": "fail",
        "error": "Profile not found",
        "code": errors.PROFILE_NOT_FOUND,
    }


@pytest.mark.parametrize("query", [{}, {"identity": "  "}, {"name": "Jane"}])
def test_profile_json_without_a_key_is_400_naming_the_accepted_keys(client, api_headers, query):
    response = client.get("/1/profile.json", query, **api_headers)

    assert response.status_code == 400
    assert response.json() == {
        "status": "fail",
        "error": "Give one of identity, objectId, email as a query parameter",
        "code": errors.MISSING_LOOKUP_KEY,
    }
