"""The APNs adapter against the sandbox over real HTTP: an ES256 provider token, the apns-*
headers and the aps payload in, Apple's answers out."""

import base64
import json
import time
import uuid

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from apps.campaigns.messages import push_message
from apps.providers.adapters.base import ProviderConfig, PushMessage, SendStatus
from apps.providers.kinds import adapter_for
from apps.providers.kinds.apns import adapter as apns_module
from apps.providers.kinds.apns import payload as apns_payload_module
from apps.providers.kinds.apns.wire import WIRE
from apps.providers.sandbox.wire import FaultPlan, SandboxRequest

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


KEY = "0b6d9f3e-2f57-4a0e-8d1c-6b1e3a9f2c44"
# Every option of PushMessage's contract, set at once.
LOADED_OPTIONS = {
    "link": "herald://sale",
    "image": "https://cdn.example/big.jpg",
    "large_icon": "https://cdn.example/large.png",
    "icon": "https://cdn.example/web-icon.png",
    "sound": "chime.caf",
    "badge": 3,
    "badge_icon": "app icon",
    "category": "SALE_ACTIONS",
    "buttons": [{"id": "action_1", "label": "Buy", "link": "herald://buy"}],
    "carousel": [
        {"image_url": "https://cdn.example/1.jpg", "caption": "Shoes", "link": "herald://1"},
        {"image_url": "https://cdn.example/2.mp4", "caption": "", "link": ""},
    ],
    "collapse_id": "sale-2026",
    "channel_id": "marketing",
    "tray_priority": "max",
    "delivery_priority": "high",
    "push_type": "alert",
    "expires_at": 1_999_999_999,
    "mutable_content": True,
    "content_available": True,
    "subtitle": "Today only",
}
DATA = {"size": "42", "wzrk_id": "7_9", "wzrk_pivot": "A", "herald_mid": "1234"}


def sent(sandbox, label, p8_key, message):
    """Send `message` through APNs at `label`; what the sandbox recorded."""
    [result] = apns(sandbox, label, p8_key).send([message])
    assert result.status is SendStatus.ACCEPTED, result.error
    [received] = sandbox.client.messages(label)
    return received


@pytest.mark.slow
def test_apns_writes_every_option_into_apples_headers_and_payload(provider_sandbox, p8_key):
    message = PushMessage(
        token=DEVICE,
        platform="ios",
        title="Sale",
        body="50% off",
        data=DATA,
        options=LOADED_OPTIONS,
        idempotency_key=KEY,
    )

    [result] = apns(provider_sandbox, "apns-ok", p8_key).send([message])

    assert result.status is SendStatus.ACCEPTED
    assert result.provider_message_id == KEY.upper()
    [received] = provider_sandbox.client.messages("apns-ok")
    assert received["kind"] == "apns"
    assert received["recipient"] == DEVICE
    assert (received["subject"], received["body"]) == ("Sale", "50% off")
    assert received["extra"]["path"] == f"/3/device/{DEVICE}"
    assert received["extra"]["auth_scheme"] == "bearer"
    # Apple: "Sending notification requests to APNs" (headers), "Generating a remote
    # notification" (aps); CleverTap's iOS SDK keys beside aps.
    assert received["extra"]["headers"] == {
        "apns-topic": "com.herald.demo",
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": "1999999999",
        "apns-collapse-id": "sale-2026",
        "apns-id": KEY.upper(),
    }
    assert received["extra"]["request"] == {
        "aps": {
            "alert": {"title": "Sale", "subtitle": "Today only", "body": "50% off"},
            "badge": 3,
            "sound": "chime.caf",
            "category": "SALE_ACTIONS",
            "mutable-content": 1,
            "content-available": 1,
        },
        "ct_mediaUrl": "https://cdn.example/big.jpg",
        "ct_mediaType": "image",
        "wzrk_dl": "herald://sale",
        "ct_ContentSlider": {
            "items": [
                {
                    "imageUrl": "https://cdn.example/1.jpg",
                    "caption": "Shoes",
                    "actionUrl": "herald://1",
                },
                {"imageUrl": "https://cdn.example/2.mp4", "actionUrl": "herald://sale"},
            ]
        },
        "size": "42",
        "wzrk_id": "7_9",
        "wzrk_pivot": "A",
        "herald_mid": "1234",
    }


@pytest.mark.slow
def test_apns_forces_mutable_content_for_an_image_and_names_its_media_type(
    provider_sandbox, p8_key
):
    message = PushMessage(
        token=DEVICE,
        platform="ios",
        body="Look",
        options={"image": "https://cdn.example/dance.gif?v=2", "delivery_priority": "normal"},
    )

    received = sent(provider_sandbox, "apns-media", p8_key, message)

    assert received["extra"]["headers"] == {
        "apns-topic": "com.herald.demo",
        "apns-push-type": "alert",
        "apns-priority": "5",
    }
    assert received["extra"]["request"] == {
        "aps": {"alert": {"body": "Look"}, "mutable-content": 1},
        "ct_mediaUrl": "https://cdn.example/dance.gif?v=2",
        "ct_mediaType": "gif",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "expiration"),
    [
        ({"ttl": 3600}, "1800003600"),
        ({"ttl": 0}, "0"),  # deliver once, never store
        ({"expires_at": 1_800_086_400, "ttl": 60}, "1800086400"),
        ({}, None),  # no header: APNs stores it by its own policy
    ],
)
def test_apns_expiration_comes_from_the_ttl_or_the_absolute_expiry(
    provider_sandbox, p8_key, monkeypatch, options, expiration
):
    monkeypatch.setattr(apns_payload_module, "_clock", lambda: 1_800_000_000.7)
    message = PushMessage(token=DEVICE, platform="ios", body="x", options=options)

    received = sent(provider_sandbox, "apns-exp", p8_key, message)

    assert received["extra"]["headers"].get("apns-expiration") == expiration


@pytest.mark.slow
def test_apns_collapse_id_longer_than_64_bytes_becomes_a_stable_hash_that_fits(
    provider_sandbox, p8_key
):
    long_id = "é" * 40  # 80 bytes
    message = PushMessage(token=DEVICE, platform="ios", body="x", options={"collapse_id": long_id})

    received = sent(provider_sandbox, "apns-collapse", p8_key, message)

    # The SHA-256 of the id's UTF-8, in hex: 64 bytes exactly.
    assert received["extra"]["headers"]["apns-collapse-id"] == (
        "84fe2e03d50dd3a18b630669d7d5e361117ac6af9cbb487c284c8e6c91a9758a"
    )


@pytest.mark.slow
@pytest.mark.parametrize("priority", [None, "high", "normal"])
def test_apns_background_push_goes_at_priority_five_with_content_available(
    provider_sandbox, p8_key, priority
):
    options = {"content_available": True}
    if priority:
        options["delivery_priority"] = priority
    message = PushMessage(token=DEVICE, platform="ios", options=options)

    received = sent(provider_sandbox, f"apns-bg-{priority}", p8_key, message)

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
    assert result.unregistered is True
    assert provider_sandbox.client.messages("apns-gone") == []


@pytest.mark.slow
def test_apns_bad_device_token_is_permanent(provider_sandbox, p8_key):
    [result] = apns(provider_sandbox, "apns-bad", p8_key).send(
        [PushMessage(token="not-hex", platform="ios", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert (result.http_status, result.error) == (400, "BadDeviceToken")
    assert result.unregistered is True


@pytest.mark.parametrize(
    ("status", "reason", "result_status", "unregistered"),
    [
        (410, "Unregistered", SendStatus.PERMANENT, True),
        (410, "ExpiredToken", SendStatus.PERMANENT, True),
        (400, "BadDeviceToken", SendStatus.PERMANENT, True),
        # The topic setting is wrong, not the device.
        (400, "DeviceTokenNotForTopic", SendStatus.PERMANENT, False),
        (400, "TopicDisallowed", SendStatus.PERMANENT, False),
        (400, "PayloadEmpty", SendStatus.PERMANENT, False),
        (413, "PayloadTooLarge", SendStatus.PERMANENT, False),
        (403, "InvalidProviderToken", SendStatus.RETRYABLE, False),
        (429, "TooManyRequests", SendStatus.RETRYABLE, False),
        (503, "ServiceUnavailable", SendStatus.RETRYABLE, False),
    ],
)
def test_only_a_dead_or_foreign_device_token_is_marked_unregistered(
    status, reason, result_status, unregistered
):
    adapter = apns_module.ApnsAdapter(None)
    response = httpx.Response(status, json={"reason": reason})

    result = adapter._result(PushMessage(token=DEVICE, platform="ios"), response)

    assert (result.status, result.error) == (result_status, reason)
    assert result.unregistered is unregistered


@pytest.mark.slow
def test_apns_refuses_a_push_it_cannot_build_and_still_sends_the_rest_of_the_batch(
    provider_sandbox, p8_key
):
    broken = PushMessage(token="b2" * 32, platform="ios", body="x", options={"ttl": "a day"})
    fine = PushMessage(token=DEVICE, platform="ios", body="ok")

    results = apns(provider_sandbox, "apns-broken", p8_key).send([broken, fine])

    assert [r.status for r in results] == [SendStatus.PERMANENT, SendStatus.ACCEPTED]
    assert results[0].error.startswith("cannot build the push:")
    assert [m["recipient"] for m in provider_sandbox.client.messages("apns-broken")] == [DEVICE]


@pytest.mark.slow
def test_apns_missing_topic_is_permanent_with_the_reason(provider_sandbox, p8_key):
    [result] = apns(provider_sandbox, "apns-notopic", p8_key, topic="").send(
        [PushMessage(token=DEVICE, platform="ios", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert result.error == "MissingTopic"
    assert result.unregistered is False


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


def _wire_post(headers, body=b'{"aps": {"alert": "hi"}}', token=DEVICE, authorization=None):
    """One request straight to the sandbox's APNs wire, signed with a fresh key unless
    `authorization` says otherwise."""
    if authorization is None:
        jwt = apns_module.provider_token(
            key_id=KEY_ID, team_id=TEAM_ID, private_key=pem(ec.generate_private_key(ec.SECP256R1()))
        )
        authorization = f"bearer {jwt}"
    headers = {"apns-topic": "com.herald.demo", **headers}
    if authorization:
        headers["authorization"] = authorization
    path = f"/3/device/{token}"
    request = SandboxRequest(
        label="apns", method="POST", path=path, query={}, headers=headers, body=body
    )
    return WIRE.handle(request, WIRE.matches("POST", path), FaultPlan())


def test_apns_wire_refuses_missing_or_malformed_provider_tokens():
    missing = _wire_post({}, authorization="")
    malformed = _wire_post({}, authorization="bearer not.a-jwt")

    assert (missing.status, missing.body) == (403, {"reason": "MissingProviderToken"})
    assert (malformed.status, malformed.body) == (403, {"reason": "InvalidProviderToken"})
    assert missing.deliveries == malformed.deliveries == []


@pytest.mark.parametrize(
    ("headers", "body", "token", "status", "reason"),
    [
        # Apple refuses priority 10 for a background push, and 10 is the default.
        ({"apns-push-type": "background", "apns-priority": "10"}, None, DEVICE, 400, "BadPriority"),
        ({"apns-push-type": "background"}, None, DEVICE, 400, "BadPriority"),
        ({"apns-priority": "7"}, None, DEVICE, 400, "BadPriority"),
        ({"apns-push-type": "banner"}, None, DEVICE, 400, "InvalidPushType"),
        ({"apns-expiration": "tomorrow"}, None, DEVICE, 400, "BadExpirationDate"),
        ({"apns-collapse-id": "c" * 65}, None, DEVICE, 400, "BadCollapseId"),
        ({"apns-id": "run-1:profile-2"}, None, DEVICE, 400, "BadMessageId"),
        ({"apns-topic": ""}, None, DEVICE, 400, "MissingTopic"),
        ({}, None, "not-hex", 400, "BadDeviceToken"),
        ({}, None, "ab" * 16, 400, "BadDeviceToken"),  # too short for a device token
        ({}, b'{"aps": {}}', DEVICE, 400, "PayloadEmpty"),  # an alert with nothing to show
        ({}, b'{"herald_mid": "1"}', DEVICE, 400, "PayloadEmpty"),
        ({}, b"not json", DEVICE, 400, "PayloadEmpty"),
        ({}, json.dumps({"aps": {"alert": "x" * 4090}}).encode(), DEVICE, 413, "PayloadTooLarge"),
    ],
)
def test_apns_wire_refuses_what_apple_refuses(headers, body, token, status, reason):
    reply = _wire_post(headers, body or b'{"aps": {"alert": "hi"}}', token=token)

    assert (reply.status, reply.body) == (status, {"reason": reason})
    assert reply.deliveries == []


def test_apns_wire_takes_a_background_push_at_priority_five_and_a_payload_of_4096_bytes():
    background = _wire_post(
        {"apns-push-type": "background", "apns-priority": "5"}, b'{"aps": {"content-available": 1}}'
    )
    edge = json.dumps({"aps": {"alert": ""}}).encode()
    at_the_limit = _wire_post({}, json.dumps({"aps": {"alert": "x" * (4096 - len(edge))}}).encode())

    assert background.status == 200 and len(background.deliveries) == 1
    assert background.deliveries[0].extra["headers"]["apns-priority"] == "5"
    assert at_the_limit.status == 200, at_the_limit.body


@pytest.mark.slow
def test_a_batch_of_ios_pushes_to_the_sandbox_is_in_flight_at_once(provider_sandbox, p8_key):
    latency = 0.4
    provider_sandbox.client.set_faults("apns-batch", latency_ms=int(latency * 1000))
    devices = [f"{n:02x}" * 32 for n in range(20)]
    messages = [PushMessage(token=d, platform="ios", body=f"n{i}") for i, d in enumerate(devices)]
    adapter = apns(provider_sandbox, "apns-batch", p8_key)
    adapter.jwt()  # signing is not what is timed

    started = time.monotonic()
    results = adapter.send(messages)
    elapsed = time.monotonic() - started

    assert [r.status for r in results] == [SendStatus.ACCEPTED] * 20
    assert [r.recipient for r in results] == devices
    received = sorted(
        m["received_at"] for m in provider_sandbox.client.messages("apns-batch", limit=100)
    )
    assert len(received) == 20
    # One after the other, each would reach the sandbox a latency after the one before; in
    # flight together, the first ten arrive within one latency of each other.
    assert received[9] - received[0] < latency
    assert elapsed < 5 * latency


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
