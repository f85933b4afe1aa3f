"""The APNs adapter against the sandbox over real HTTP: an ES256 provider token, the apns-*
headers and the aps payload in, Apple's answers out."""

import base64
import json
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from apps.campaigns.messages import push_message
from apps.providers.adapters.base import ProviderConfig, PushMessage, SendStatus
from apps.providers.kinds import adapter_for
from apps.providers.kinds.apns import adapter as apns_module

DEVICE = "a1" * 32
KEY_ID = "ABC123DEFG"
TEAM_ID = "DEF123GHIJ"


@pytest.fixture(scope="module")
def p8_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(autouse=True)
def empty_jwt_cache():
    apns_module._jwt_cache.clear()
    yield
    apns_module._jwt_cache.clear()


def pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def apns(sandbox, label, p8_key, *, topic="com.herald.demo", **settings):
    return adapter_for(
        ProviderConfig(
            kind="apns",
            nickname=label,
            base_url=sandbox.url_for(label),
            credentials={"key_id": KEY_ID, "team_id": TEAM_ID, "private_key": pem(p8_key)},
            settings={"topic": topic, **settings},
        )
    )


def _b64decode(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.slow
def test_apns_posts_the_device_path_with_apns_headers_and_the_aps_payload(provider_sandbox, p8_key):
    key = "0b6d9f3e-2f57-4a0e-8d1c-6b1e3a9f2c44"
    message = PushMessage(
        token=DEVICE,
        platform="ios",
        title="Sale",
        body="50% off",
        data={"deeplink": "herald://sale"},
        options={
            "badge": 3,
            "sound": "default",
            "mutable_content": True,
            "expiration": 1999999999,
            "collapse_id": "sale",
        },
        idempotency_key=key,
    )

    [result] = apns(provider_sandbox, "apns-ok", p8_key).send([message])

    assert result.status is SendStatus.ACCEPTED
    assert result.provider_message_id == key.upper()
    [received] = provider_sandbox.client.messages("apns-ok")
    assert received["kind"] == "apns"
    assert received["recipient"] == DEVICE
    assert (received["subject"], received["body"]) == ("Sale", "50% off")
    assert received["extra"]["path"] == f"/3/device/{DEVICE}"
    assert received["extra"]["auth_scheme"] == "bearer"
    assert received["extra"]["headers"] == {
        "apns-topic": "com.herald.demo",
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": "1999999999",
        "apns-collapse-id": "sale",
        "apns-id": key.upper(),
    }
    assert received["extra"]["request"] == {
        "aps": {
            "alert": {"title": "Sale", "body": "50% off"},
            "badge": 3,
            "sound": "default",
            "mutable-content": 1,
        },
        "deeplink": "herald://sale",
    }


@pytest.mark.slow
def test_apns_background_push_goes_at_priority_five_with_content_available(
    provider_sandbox, p8_key
):
    message = PushMessage(token=DEVICE, platform="ios", options={"content_available": True})

    [result] = apns(provider_sandbox, "apns-bg", p8_key).send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("apns-bg")
    assert received["extra"]["headers"]["apns-push-type"] == "background"
    assert received["extra"]["headers"]["apns-priority"] == "5"
    assert received["extra"]["request"] == {"aps": {"content-available": 1}}


def test_apns_non_uuid_idempotency_key_becomes_a_stable_uuid():
    first = apns_module.apns_id_for("run-7:profile-42:A")

    assert first == apns_module.apns_id_for("run-7:profile-42:A")
    assert uuid.UUID(first).version == 5
    assert first != apns_module.apns_id_for("run-7:profile-43:A")


def test_apns_provider_token_is_an_es256_jwt_signed_with_the_p8_key(p8_key):
    token = apns_module.provider_token(
        key_id=KEY_ID, team_id=TEAM_ID, private_key=pem(p8_key), now=1_700_000_000
    )

    header_b64, claims_b64, signature_b64 = token.split(".")
    assert json.loads(_b64decode(header_b64)) == {"alg": "ES256", "kid": KEY_ID}
    assert json.loads(_b64decode(claims_b64)) == {"iss": TEAM_ID, "iat": 1_700_000_000}
    raw = _b64decode(signature_b64)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    p8_key.public_key().verify(
        der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256())
    )


@pytest.mark.slow
def test_apns_reuses_one_provider_token_across_sends(provider_sandbox, p8_key):
    adapter = apns(provider_sandbox, "apns-cache", p8_key)

    adapter.send([PushMessage(token=DEVICE, platform="ios", body="1")])
    first = adapter.jwt()
    adapter.send([PushMessage(token=DEVICE, platform="ios", body="2")])

    assert adapter.jwt() == first
    assert list(apns_module._jwt_cache) == [(TEAM_ID, KEY_ID)]


@pytest.mark.slow
def test_apns_unregistered_device_is_permanent_with_apples_reason(provider_sandbox, p8_key):
    provider_sandbox.client.set_faults("apns-gone", reject_recipients=[DEVICE])

    [result] = apns(provider_sandbox, "apns-gone", p8_key).send(
        [PushMessage(token=DEVICE, platform="ios", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert (result.http_status, result.error) == (410, "Unregistered")
    assert provider_sandbox.client.messages("apns-gone") == []


@pytest.mark.slow
def test_apns_bad_device_token_is_permanent(provider_sandbox, p8_key):
    [result] = apns(provider_sandbox, "apns-bad", p8_key).send(
        [PushMessage(token="not-hex", platform="ios", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert (result.http_status, result.error) == (400, "BadDeviceToken")


@pytest.mark.slow
def test_apns_missing_topic_is_permanent_with_the_reason(provider_sandbox, p8_key):
    [result] = apns(provider_sandbox, "apns-notopic", p8_key, topic="").send(
        [PushMessage(token=DEVICE, platform="ios", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert result.error == "MissingTopic"


@pytest.mark.slow
def test_apns_expired_provider_token_is_renewed_once(provider_sandbox, p8_key):
    adapter = apns(provider_sandbox, "apns-expired", p8_key)
    stale = apns_module.provider_token(
        key_id=KEY_ID, team_id=TEAM_ID, private_key=pem(p8_key), now=1_700_000_000
    )
    apns_module._jwt_cache[(TEAM_ID, KEY_ID)] = (stale, float("inf"))

    [result] = adapter.send([PushMessage(token=DEVICE, platform="ios", body="x")])

    assert result.status is SendStatus.ACCEPTED
    assert adapter.jwt() != stale


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 503, 429])
def test_apns_injected_server_errors_and_throttling_are_retryable(provider_sandbox, p8_key, status):
    provider_sandbox.client.set_faults("apns-5xx", error_rate=1, error_status=status)

    [result] = apns(provider_sandbox, "apns-5xx", p8_key).send(
        [PushMessage(token=DEVICE, platform="ios", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == status


@pytest.mark.slow
def test_apns_timeout_is_retryable(provider_sandbox, p8_key):
    provider_sandbox.client.set_faults("apns-slow", timeout_rate=1)

    [result] = apns(provider_sandbox, "apns-slow", p8_key, timeout_s=0.3).send(
        [PushMessage(token=DEVICE, platform="ios", body="x")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")


@pytest.mark.slow
def test_apns_carries_unicode_alerts(provider_sandbox, p8_key):
    message = PushMessage(token=DEVICE, platform="ios", title="Скидка 🎉", body="आज ✓")

    [result] = apns(provider_sandbox, "apns-utf", p8_key).send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("apns-utf")
    assert (received["subject"], received["body"]) == ("Скидка 🎉", "आज ✓")


def test_apns_wire_refuses_missing_or_malformed_provider_tokens_and_oversized_payloads():
    from apps.providers.kinds.apns.wire import WIRE
    from apps.providers.sandbox.wire import FaultPlan, SandboxRequest

    path = f"/3/device/{DEVICE}"
    match = WIRE.matches("POST", path)

    def post(authorization, body=b'{"aps": {}}'):
        headers = {"apns-topic": "com.herald.demo"}
        if authorization:
            headers["authorization"] = authorization
        request = SandboxRequest(
            label="apns", method="POST", path=path, query={}, headers=headers, body=body
        )
        return WIRE.handle(request, match, FaultPlan())

    missing = post("")
    malformed = post("bearer not.a-jwt")
    big = apns_module.provider_token(
        key_id=KEY_ID, team_id=TEAM_ID, private_key=pem(ec.generate_private_key(ec.SECP256R1()))
    )
    too_large = post(f"bearer {big}", body=json.dumps({"aps": {"alert": "x" * 5000}}).encode())

    assert (missing.status, missing.body) == (403, {"reason": "MissingProviderToken"})
    assert (malformed.status, malformed.body) == (403, {"reason": "InvalidProviderToken"})
    assert (too_large.status, too_large.body) == (413, {"reason": "PayloadTooLarge"})
    assert missing.deliveries == malformed.deliveries == too_large.deliveries == []


@pytest.mark.slow
@pytest.mark.parametrize("tray", ["default", "high", "max"])
def test_a_campaign_push_with_any_android_tray_priority_is_accepted_by_apns_at_priority_ten(
    provider_sandbox, p8_key, tray
):
    # The What step's Android tray priority once became apns-priority ("default": 400
    # BadPriority, so every iOS campaign push failed); it is not APNs' business.
    message = push_message(
        DEVICE, "ios", {"title": "Sale", "body": "Now", "android_priority": tray}
    )
    label = f"apns-tray-{tray}"

    [result] = apns(provider_sandbox, label, p8_key).send([message])

    assert result.status is SendStatus.ACCEPTED, result.error
    [received] = provider_sandbox.client.messages(label)
    assert received["extra"]["headers"]["apns-priority"] == "10"
