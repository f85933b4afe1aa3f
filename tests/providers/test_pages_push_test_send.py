"""The provider page's test send for push providers (FCM and APNs) against the sandbox: the
page shows the provider's own answer, and the sandbox recorded the push to that token."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.urls import reverse

from apps.providers.kinds.apns import adapter as apns_module
from apps.providers.kinds.fcm import adapter as fcm_module
from apps.providers.services import provider_create

pytestmark = pytest.mark.slow

FCM_TOKEN = "fcm-device-token_" + "b" * 40 + ":APA91b"
APNS_TOKEN = "c3" * 32


@pytest.fixture(autouse=True)
def _fresh_push_tokens():
    # Both adapters cache their auth tokens per process; a test must not reuse another's.
    fcm_module._token_cache.clear()
    apns_module._jwt_cache.clear()
    yield
    fcm_module._token_cache.clear()
    apns_module._jwt_cache.clear()


def _pkcs8(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _fcm_provider(sandbox, label):
    base_url = sandbox.url_for(label)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = {
        "type": "service_account",
        "project_id": "herald-demo",
        "client_email": f"{label}@herald-demo.iam.gserviceaccount.com",
        "private_key": _pkcs8(key),
        "token_uri": base_url + "/token",
    }
    return provider_create(
        channel="push",
        kind="fcm",
        nickname=f"FCM {label}",
        base_url=base_url,
        credentials={"service_account": json.dumps(account)},
        settings={"project_id": "herald-demo"},
    )


def _apns_provider(sandbox, label):
    return provider_create(
        channel="push",
        kind="apns",
        nickname=f"APNs {label}",
        base_url=sandbox.url_for(label),
        credentials={
            "key_id": "ABC123DEFG",
            "team_id": "DEF123GHIJ",
            "private_key": _pkcs8(ec.generate_private_key(ec.SECP256R1())),
        },
        settings={"topic": "com.herald.demo"},
    )


def _test_send(client, provider, to, text="Push from the test"):
    url = reverse("providers:provider_test_send", args=[provider.pk])
    return client.post(url, {"to": to, "text": text}).content.decode()


@pytest.mark.django_db
def test_an_fcm_test_push_reaches_the_token_and_the_page_shows_fcms_message_name(
    admin_client, provider_sandbox
):
    provider = _fcm_provider(provider_sandbox, "fcm-page")

    html = _test_send(admin_client, provider, FCM_TOKEN)

    [delivered] = provider_sandbox.client.messages("fcm-page")
    assert delivered["kind"] == "fcm"
    assert delivered["recipient"] == FCM_TOKEN
    assert (delivered["subject"], delivered["body"]) == ("Herald test", "Push from the test")
    assert delivered["provider_message_id"].startswith("projects/herald-demo/messages/")
    assert '<span class="badge good">accepted</span>' in html
    assert f"<code>{delivered['provider_message_id']}</code>" in html
    assert f"<dd>{FCM_TOKEN}</dd>" in html
    assert "PRIVATE KEY" not in html


@pytest.mark.django_db
def test_an_fcm_test_push_to_an_unregistered_token_shows_fcms_error(admin_client, provider_sandbox):
    provider = _fcm_provider(provider_sandbox, "fcm-gone")
    provider_sandbox.client.set_faults("fcm-gone", reject_recipients=[FCM_TOKEN])
    admin_client.defaults["HTTP_HX_REQUEST"] = "true"

    html = _test_send(admin_client, provider, FCM_TOKEN)

    assert "<html" not in html  # the htmx partial
    assert '<span class="badge bad">permanent failure</span>' in html
    assert "HTTP 404" in html
    assert "Requested entity was not found." in html and "UNREGISTERED" in html
    assert provider_sandbox.client.messages("fcm-gone") == []


@pytest.mark.django_db
def test_an_fcm_test_push_to_a_malformed_token_shows_fcms_error(admin_client, provider_sandbox):
    provider = _fcm_provider(provider_sandbox, "fcm-bad")

    html = _test_send(admin_client, provider, "short")

    assert '<span class="badge bad">permanent failure</span>' in html
    assert "HTTP 400" in html
    assert "The registration token is not a valid FCM registration token" in html
    assert provider_sandbox.client.messages("fcm-bad") == []


@pytest.mark.django_db
def test_an_apns_test_push_reaches_the_device_and_the_page_shows_the_apns_id(
    admin_client, provider_sandbox
):
    provider = _apns_provider(provider_sandbox, "apns-page")

    html = _test_send(admin_client, provider, APNS_TOKEN)

    [delivered] = provider_sandbox.client.messages("apns-page")
    assert delivered["kind"] == "apns"
    assert delivered["recipient"] == APNS_TOKEN
    assert (delivered["subject"], delivered["body"]) == ("Herald test", "Push from the test")
    assert delivered["provider_message_id"]
    assert '<span class="badge good">accepted</span>' in html
    assert f"<code>{delivered['provider_message_id']}</code>" in html
    assert "PRIVATE KEY" not in html


@pytest.mark.django_db
def test_an_apns_test_push_to_a_malformed_token_shows_apples_reason(admin_client, provider_sandbox):
    provider = _apns_provider(provider_sandbox, "apns-bad")

    html = _test_send(admin_client, provider, "not-a-device-token")

    assert '<span class="badge bad">permanent failure</span>' in html
    assert "HTTP 400" in html
    assert "<dt>Error</dt><dd>BadDeviceToken</dd>" in html
    assert provider_sandbox.client.messages("apns-bad") == []


@pytest.mark.django_db
def test_an_apns_test_push_to_an_unregistered_device_shows_apples_reason(
    admin_client, provider_sandbox
):
    provider = _apns_provider(provider_sandbox, "apns-gone")
    provider_sandbox.client.set_faults("apns-gone", reject_recipients=[APNS_TOKEN])

    html = _test_send(admin_client, provider, APNS_TOKEN)

    assert '<span class="badge bad">permanent failure</span>' in html
    assert "HTTP 410" in html
    assert "<dt>Error</dt><dd>Unregistered</dd>" in html
    assert provider_sandbox.client.messages("apns-gone") == []


@pytest.mark.django_db
def test_a_push_test_send_needs_a_token(admin_client, provider_sandbox):
    provider = _apns_provider(provider_sandbox, "apns-empty")

    response = admin_client.post(
        reverse("providers:provider_test_send", args=[provider.pk]), {"to": "  "}
    )

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert provider_sandbox.client.messages("apns-empty") == []
