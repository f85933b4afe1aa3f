"""The FCM HTTP v1 adapter against the sandbox over real HTTP: a service-account JWT
exchanged for an access token, messages:send in, FCM's answers out."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from apps.campaigns.messages import push_message
from apps.providers.adapters.base import ProviderConfig, PushMessage, SendStatus
from apps.providers.kinds import adapter_for
from apps.providers.kinds.fcm import adapter as fcm_module
from apps.providers.kinds.fcm.wire import WIRE
from apps.providers.sandbox.wire import FaultPlan, SandboxRequest

TOKEN = "fcm-device-token_" + "a" * 40 + ":APA91b"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(autouse=True)
def empty_token_cache():
    fcm_module._token_cache.clear()
    yield
    fcm_module._token_cache.clear()


def fcm(sandbox, label, rsa_key, *, as_json=True, **settings):
    base_url = sandbox.url_for(label)
    account = {
        "type": "service_account",
        "project_id": "herald-demo",
        "client_email": f"{label}@herald-demo.iam.gserviceaccount.com",
        "private_key": rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "token_uri": base_url + "/token",
    }
    credentials = {"service_account": json.dumps(account)} if as_json else account
    return adapter_for(
        ProviderConfig(
            kind="fcm",
            nickname=label,
            base_url=base_url,
            credentials=credentials,
            settings=settings,
        )
    )


def _b64decode(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.slow
def test_fcm_posts_messages_send_for_android_with_the_notification_data_and_options(
    provider_sandbox, rsa_key
):
    message = PushMessage(
        token=TOKEN,
        platform="android",
        title="Sale",
        body="50% off today",
        data={"deeplink": "herald://sale", "count": 3},
        options={
            "ttl": 3600,
            "collapse_key": "sale",
            "sound": "default",
            "image": "https://x/i.png",
        },
    )

    [result] = fcm(provider_sandbox, "fcm-ok", rsa_key).send([message])

    assert result.status is SendStatus.ACCEPTED
    assert result.provider_message_id.startswith("projects/herald-demo/messages/")
    [received] = provider_sandbox.client.messages("fcm-ok")
    assert received["kind"] == "fcm"
    assert received["recipient"] == TOKEN
    assert received["subject"] == "Sale"
    assert received["body"] == "50% off today"
    assert received["provider_message_id"] == result.provider_message_id
    assert received["extra"]["path"] == "/v1/projects/herald-demo/messages:send"
    assert received["extra"]["auth_scheme"] == "Bearer"
    assert received["extra"]["request"] == {
        "message": {
            "token": TOKEN,
            "notification": {"title": "Sale", "body": "50% off today", "image": "https://x/i.png"},
            "data": {"deeplink": "herald://sale", "count": "3"},
            "android": {
                "priority": "high",
                "ttl": "3600s",
                "collapse_key": "sale",
                "notification": {"sound": "default"},
            },
        }
    }


@pytest.mark.slow
def test_fcm_sends_web_push_options_for_web_tokens(provider_sandbox, rsa_key):
    message = PushMessage(
        token=TOKEN, platform="web", title="Hi", body="Web", options={"ttl": 60, "link": "/x"}
    )

    [result] = fcm(provider_sandbox, "fcm-web", rsa_key, as_json=False).send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("fcm-web")
    assert received["extra"]["webpush"] == {"headers": {"TTL": "60"}, "fcm_options": {"link": "/x"}}


@pytest.mark.slow
def test_fcm_fetches_one_access_token_with_an_rs256_jwt_and_reuses_it(provider_sandbox, rsa_key):
    adapter = fcm(provider_sandbox, "fcm-cache", rsa_key)
    messages = [PushMessage(token=TOKEN + str(i), platform="android", body="x") for i in range(3)]

    results = adapter.send(messages)

    assert [r.status for r in results] == [SendStatus.ACCEPTED] * 3
    health = provider_sandbox.client.health()
    # 1 token request + 3 sends under this label.
    assert health["requests"]["fcm-cache"] == 4
    [(key, (token, _expiry))] = fcm_module._token_cache.items()
    assert key == (
        "fcm-cache@herald-demo.iam.gserviceaccount.com",
        provider_sandbox.url_for("fcm-cache") + "/token",
    )
    assert token.startswith("ya29.sandbox.")


def test_fcm_jwt_assertion_is_signed_with_the_service_account_key(rsa_key):
    account = {
        "client_email": "svc@p.iam.gserviceaccount.com",
        "private_key": rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "token_uri": "https://oauth2.googleapis.com/token",
    }

    assertion = fcm_module.signed_assertion(account, now=1_700_000_000)

    header_b64, claims_b64, signature_b64 = assertion.split(".")
    assert json.loads(_b64decode(header_b64)) == {"alg": "RS256", "typ": "JWT"}
    assert json.loads(_b64decode(claims_b64)) == {
        "iss": "svc@p.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/firebase.messaging",
        "aud": "https://oauth2.googleapis.com/token",
        "iat": 1_700_000_000,
        "exp": 1_700_003_600,
    }
    # Raises InvalidSignature if the signature is wrong.
    rsa_key.public_key().verify(
        _b64decode(signature_b64),
        f"{header_b64}.{claims_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


@pytest.mark.slow
def test_fcm_unregistered_token_is_permanent_with_fcms_error(provider_sandbox, rsa_key):
    provider_sandbox.client.set_faults("fcm-gone", reject_recipients=[TOKEN])

    [result] = fcm(provider_sandbox, "fcm-gone", rsa_key).send(
        [PushMessage(token=TOKEN, platform="android", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert result.http_status == 404
    assert result.error == "UNREGISTERED: Requested entity was not found."
    assert provider_sandbox.client.messages("fcm-gone") == []


@pytest.mark.slow
def test_fcm_malformed_token_is_permanent_invalid_argument(provider_sandbox, rsa_key):
    [result] = fcm(provider_sandbox, "fcm-bad", rsa_key).send(
        [PushMessage(token="short", platform="android", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert result.http_status == 400
    assert result.error == (
        "INVALID_ARGUMENT: The registration token is not a valid FCM registration token"
    )


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 503, 429])
def test_fcm_injected_server_errors_and_quota_are_retryable(provider_sandbox, rsa_key, status):
    adapter = fcm(provider_sandbox, "fcm-5xx", rsa_key)
    adapter.access_token()  # the token endpoint shares the label's faults: fetch it first
    provider_sandbox.client.set_faults("fcm-5xx", error_rate=1, error_status=status)

    [result] = adapter.send([PushMessage(token=TOKEN, platform="android", body="x")])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == status


@pytest.mark.slow
def test_fcm_token_endpoint_failure_is_retryable(provider_sandbox, rsa_key):
    provider_sandbox.client.set_faults("fcm-noauth", error_rate=1, error_status=503)

    [result] = fcm(provider_sandbox, "fcm-noauth", rsa_key).send(
        [PushMessage(token=TOKEN, platform="android", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("token endpoint refused (503)")


@pytest.mark.slow
def test_fcm_timeout_is_retryable(provider_sandbox, rsa_key):
    adapter = fcm(provider_sandbox, "fcm-slow", rsa_key, timeout_s=0.3)
    adapter.access_token()
    provider_sandbox.client.set_faults("fcm-slow", timeout_rate=1)

    [result] = adapter.send([PushMessage(token=TOKEN, platform="android", body="x")])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")


@pytest.mark.slow
def test_fcm_refetches_a_revoked_access_token_once(provider_sandbox, rsa_key):
    adapter = fcm(provider_sandbox, "fcm-revoked", rsa_key)
    key = adapter._cache_key()
    fcm_module._token_cache[key] = ("ya29.revoked", time.monotonic() + 600)

    [result] = adapter.send([PushMessage(token=TOKEN, platform="android", body="x")])

    assert result.status is SendStatus.ACCEPTED
    assert fcm_module._token_cache[key][0].startswith("ya29.sandbox.")


@pytest.mark.slow
def test_fcm_carries_unicode_titles_and_bodies(provider_sandbox, rsa_key):
    message = PushMessage(token=TOKEN, platform="android", title="Скидка 🎉", body="आज 50% ✓")

    [result] = fcm(provider_sandbox, "fcm-utf", rsa_key).send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("fcm-utf")
    assert (received["subject"], received["body"]) == ("Скидка 🎉", "आज 50% ✓")


def _token_request(form: str) -> SandboxRequest:
    return SandboxRequest(
        label="fcm",
        method="POST",
        path="/token",
        query={},
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=form.encode(),
    )


def test_fcm_wire_token_endpoint_refuses_a_wrong_grant_and_an_unsigned_jwt():
    match = WIRE.matches("POST", "/token")

    wrong_grant = WIRE.handle(_token_request("grant_type=password"), match, FaultPlan())
    unsigned = WIRE.handle(
        _token_request(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b"
        ),
        match,
        FaultPlan(),
    )

    assert (wrong_grant.status, wrong_grant.body["error"]) == (400, "unsupported_grant_type")
    assert (unsigned.status, unsigned.body["error"]) == (400, "invalid_grant")


def _wire_send(message, auth="Bearer ya29.sandbox.x.y"):
    """One messages:send request straight to the sandbox's FCM wire."""
    request = SandboxRequest(
        label="fcm",
        method="POST",
        path="/v1/projects/p/messages:send",
        query={},
        headers={"authorization": auth},
        body=json.dumps({"message": message}).encode(),
    )
    return WIRE.handle(request, WIRE.matches("POST", "/v1/projects/p/messages:send"), FaultPlan())


def test_fcm_wire_refuses_non_string_data_and_a_missing_token():
    send = _wire_send

    bad_data = send({"token": TOKEN, "data": {"n": 1}})
    no_auth = send({"token": TOKEN}, auth="")

    assert bad_data.status == 400
    assert bad_data.body["error"]["details"][0]["errorCode"] == "INVALID_ARGUMENT"
    assert (no_auth.status, no_auth.body["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert bad_data.deliveries == [] and no_auth.deliveries == []


def test_fcm_wire_refuses_an_android_priority_or_tray_priority_fcm_does_not_know():
    tray_word = _wire_send({"token": TOKEN, "android": {"priority": "max"}})
    bad_tray = _wire_send(
        {"token": TOKEN, "android": {"notification": {"notification_priority": "max"}}}
    )
    fine = _wire_send(
        {
            "token": TOKEN,
            "android": {
                "priority": "high",
                "notification": {"notification_priority": "PRIORITY_MAX"},
            },
        }
    )

    assert tray_word.status == 400 and '"max"' in tray_word.body["error"]["message"]
    assert "android.priority" in tray_word.body["error"]["message"]
    assert bad_tray.status == 400 and "notification_priority" in bad_tray.body["error"]["message"]
    assert fine.status == 200 and len(fine.deliveries) == 1


@pytest.mark.slow
def test_a_campaign_push_with_tray_priority_max_reaches_fcm_as_notification_priority(
    provider_sandbox, rsa_key
):
    rendered = {"title": "Sale", "body": "Now", "android_priority": "max"}
    message = push_message(TOKEN, "android", rendered)

    [result] = fcm(provider_sandbox, "fcm-tray", rsa_key).send([message])

    assert result.status is SendStatus.ACCEPTED, result.error
    [received] = provider_sandbox.client.messages("fcm-tray")
    android = received["extra"]["android"]
    assert android["priority"] == "high"  # delivery priority: not the tray's word
    assert android["notification"]["notification_priority"] == "PRIORITY_MAX"
