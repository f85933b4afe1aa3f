"""The FCM HTTP v1 adapter against the sandbox over real HTTP: a service-account JWT
exchanged for an access token, messages:send in, FCM's answers out."""

import base64
import json
import time

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from apps.campaigns.messages import push_message
from apps.providers.adapters.base import ProviderConfig, PushMessage, SendStatus
from apps.providers.kinds import adapter_for
from apps.providers.kinds.apns import payload as apns_payload_module
from apps.providers.kinds.fcm import adapter as fcm_module
from apps.providers.kinds.fcm.payload import fcm_message
from apps.providers.kinds.fcm.wire import WIRE
from apps.providers.sandbox.wire import FaultPlan, SandboxRequest

TOKEN = "fcm-device-token_" + "a" * 40 + ":APA91b"
APNS_TOKEN = "a1" * 32
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key():
    return RSA_KEY


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


# Every option of PushMessage's contract, set at once.
LOADED_OPTIONS = {
    "link": "https://shop.example/sale",
    "image": "https://cdn.example/big.jpg",
    "large_icon": "https://cdn.example/large.png",
    "icon": "https://cdn.example/web-icon.png",
    "sound": "default",
    "badge": 3,
    "badge_icon": "app icon",
    "category": "SALE_ACTIONS",
    "buttons": [
        {"id": "action_1", "label": "Buy", "link": "herald://buy"},
        {"id": "action_2", "label": "Later", "link": ""},
        {"id": "action_3", "label": "Share", "link": "herald://share"},
    ],
    "carousel": [
        {"image_url": "https://cdn.example/1.jpg", "caption": "Shoes", "link": "herald://1"},
        {"image_url": "https://cdn.example/2.jpg", "caption": "Bags", "link": ""},
    ],
    "collapse_id": "sale-2026",
    "channel_id": "marketing",
    "tray_priority": "max",
    "delivery_priority": "normal",
    "ttl": 7200,
    "mutable_content": True,
    "content_available": True,
    "subtitle": "Today only",
}
DATA = {"size": "42", "wzrk_id": "7_9", "wzrk_pivot": "A", "herald_mid": "1234"}


def loaded(platform, **options):
    return PushMessage(
        token=TOKEN,
        platform=platform,
        title="Sale",
        body="50% off",
        data=DATA,
        options={**LOADED_OPTIONS, **options},
        idempotency_key="run-1:profile-2:device-3:A",
    )


def sent(sandbox, label, message):
    """Send `message` through FCM at `label`; the request body the sandbox recorded."""
    [result] = fcm(sandbox, label, RSA_KEY).send([message])
    assert result.status is SendStatus.ACCEPTED, result.error
    [received] = sandbox.client.messages(label)
    return received


@pytest.mark.slow
def test_fcm_writes_every_option_of_an_android_push_where_fcm_and_the_clevertap_sdk_read_it(
    provider_sandbox,
):
    received = sent(provider_sandbox, "fcm-android", loaded("android"))

    assert (received["recipient"], received["subject"], received["body"]) == (
        TOKEN,
        "Sale",
        "50% off",
    )
    assert received["extra"]["path"] == "/v1/projects/herald-demo/messages:send"
    assert received["extra"]["auth_scheme"] == "Bearer"
    # FCM v1 Message / AndroidConfig / AndroidNotification, and CleverTap's data keys.
    assert received["extra"]["request"] == {
        "message": {
            "token": TOKEN,
            "notification": {
                "title": "Sale",
                "body": "50% off",
                "image": "https://cdn.example/big.jpg",
            },
            "android": {
                "priority": "NORMAL",
                "ttl": "7200s",
                "collapse_key": "sale-2026",
                "notification": {
                    "channel_id": "marketing",
                    "sound": "default",
                    "notification_priority": "PRIORITY_MAX",
                    "notification_count": 3,
                    "image": "https://cdn.example/big.jpg",
                    "click_action": "SALE_ACTIONS",
                    "tag": "sale-2026",
                },
            },
            "data": {
                "wzrk_dl": "https://shop.example/sale",
                "wzrk_acts": '[{"l":"Buy","dl":"herald://buy","id":"action_1"},'
                '{"l":"Later","id":"action_2"},'
                '{"l":"Share","dl":"herald://share","id":"action_3"}]',
                "wzrk_bc": "3",
                "wzrk_bi": "2",
                "ico": "https://cdn.example/large.png",
                "wzrk_cid": "marketing",
                "wzrk_st": "Today only",
                "wzrk_bp": "https://cdn.example/big.jpg",
                "pr": "max",
                "wzrk_sound": "true",
                "wzrk_ck": "sale-2026",
                "pt_id": "pt_manual_carousel",
                "pt_title": "Sale",
                "pt_msg": "50% off",
                "pt_bg": "#FFFFFF",
                "pt_msg_summary": "Shoes",
                "pt_subtitle": "Today only",
                "pt_ico": "https://cdn.example/large.png",
                "pt_img1": "https://cdn.example/1.jpg",
                "pt_dl1": "herald://1",
                "pt_img2": "https://cdn.example/2.jpg",
                "pt_dl2": "https://shop.example/sale",
                "size": "42",
                "wzrk_id": "7_9",
                "wzrk_pivot": "A",
                "herald_mid": "1234",
            },
        }
    }


@pytest.mark.slow
def test_fcm_writes_every_option_of_an_ios_push_into_the_apns_block(provider_sandbox):
    message = loaded("ios", ttl=None, expires_at=1_999_999_999, collapse_id="c" * 70)

    received = sent(provider_sandbox, "fcm-ios", message)

    assert (received["subject"], received["body"]) == ("Sale", "50% off")
    # FCM ApnsConfig: Apple's headers and payload, passed on to APNs; data at the root.
    assert received["extra"]["request"] == {
        "message": {
            "token": TOKEN,
            "apns": {
                "headers": {
                    "apns-push-type": "alert",
                    "apns-priority": "5",
                    "apns-expiration": "1999999999",
                    # 70 bytes is over Apple's 64: its SHA-256, in hex.
                    "apns-collapse-id": (
                        "6fe5981a314622bb624db8ecb4fdcd5b38997ee6a13c2ed85e5a5b4f424de25c"
                    ),
                },
                "payload": {
                    "ct_mediaUrl": "https://cdn.example/big.jpg",
                    "ct_mediaType": "image",
                    "wzrk_dl": "https://shop.example/sale",
                    "ct_ContentSlider": {
                        "items": [
                            {
                                "imageUrl": "https://cdn.example/1.jpg",
                                "caption": "Shoes",
                                "actionUrl": "herald://1",
                            },
                            {
                                "imageUrl": "https://cdn.example/2.jpg",
                                "caption": "Bags",
                                "actionUrl": "https://shop.example/sale",
                            },
                        ]
                    },
                    "aps": {
                        "alert": {"title": "Sale", "subtitle": "Today only", "body": "50% off"},
                        "badge": 3,
                        "sound": "default",
                        "category": "SALE_ACTIONS",
                        "mutable-content": 1,
                        "content-available": 1,
                    },
                },
                "fcm_options": {"image": "https://cdn.example/big.jpg"},
            },
            "data": DATA,
        }
    }


@pytest.mark.slow
def test_fcm_writes_every_option_of_a_web_push_into_the_webpush_block(provider_sandbox):
    received = sent(provider_sandbox, "fcm-web", loaded("web", delivery_priority="high"))

    assert (received["subject"], received["body"]) == ("Sale", "50% off")
    # FCM WebpushConfig: Web Push headers (RFC 8030), the Notification's options, the link.
    assert received["extra"]["request"] == {
        "message": {
            "token": TOKEN,
            "webpush": {
                "headers": {"TTL": "7200", "Urgency": "high", "Topic": "sale-2026"},
                "notification": {
                    "title": "Sale",
                    "body": "50% off",
                    "icon": "https://cdn.example/web-icon.png",
                    "image": "https://cdn.example/big.jpg",
                    "tag": "sale-2026",
                    "actions": [
                        {"action": "action_1", "title": "Buy"},
                        {"action": "action_2", "title": "Later"},
                    ],
                },
                "fcm_options": {"link": "https://shop.example/sale"},
            },
            "data": {
                "wzrk_acts": '[{"l":"Buy","dl":"herald://buy","id":"action_1"},'
                '{"l":"Later","id":"action_2"}]',
                **DATA,
            },
        }
    }


@pytest.mark.slow
def test_fcm_puts_a_web_link_that_is_not_https_in_data_and_a_long_collapse_id_in_a_topic(
    provider_sandbox,
):
    message = PushMessage(
        token=TOKEN,
        platform="web",
        title="Hi",
        options={"link": "http://shop.example/x", "collapse_id": "spring sale, all shoes 2026!"},
    )

    received = sent(provider_sandbox, "fcm-web-http", message)

    assert received["extra"]["request"]["message"] == {
        "token": TOKEN,
        "webpush": {
            # RFC 8030 allows 32 URL-safe base64 characters: a stable hash of the id.
            "headers": {"Topic": "uozcIsgFdaOyWj_Y5l_2akN8oECFvwEX"},
            "notification": {"title": "Hi", "tag": "spring sale, all shoes 2026!"},
        },
        "data": {"wzrk_dl": "http://shop.example/x"},
    }


@pytest.mark.slow
def test_fcm_android_defaults_to_high_delivery_and_turns_an_absolute_expiry_into_a_ttl(
    provider_sandbox, monkeypatch
):
    monkeypatch.setattr(apns_payload_module, "_clock", lambda: 1_800_000_000.4)
    message = PushMessage(
        token=TOKEN, platform="android", body="x", options={"expires_at": 1_800_003_600}
    )

    received = sent(provider_sandbox, "fcm-expiry", message)

    assert received["extra"]["android"] == {"priority": "HIGH", "ttl": "3600s"}


@pytest.mark.parametrize(
    ("options", "ttl"),
    [
        ({"ttl": 90 * 24 * 3600}, "2419200s"),  # FCM keeps a message 4 weeks at most
        ({"expires_at": 1_799_999_000}, "0s"),  # already past: deliver now or never
        ({"ttl": 0}, "0s"),
    ],
)
def test_fcm_android_ttl_is_clamped_to_what_fcm_takes(options, ttl):
    message = PushMessage(token=TOKEN, platform="android", body="x", options=options)

    body = fcm_message(message, at=1_800_000_000)

    assert body["message"]["android"]["ttl"] == ttl


@pytest.mark.parametrize(
    ("options", "notification"),
    [
        ({"tray_priority": "default"}, {"notification_priority": "PRIORITY_DEFAULT"}),
        ({"tray_priority": "high"}, {"notification_priority": "PRIORITY_HIGH"}),
        # The old option name is nobody's contract any more.
        ({"notification_priority": "PRIORITY_MAX"}, None),
    ],
)
def test_fcm_maps_the_tray_priority_to_fcms_notification_priority(options, notification):
    message = PushMessage(token=TOKEN, platform="android", body="x", options=options)

    android = fcm_message(message, at=0)["message"]["android"]

    assert android.get("notification") == notification


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
    assert result.unregistered is True
    assert provider_sandbox.client.messages("fcm-gone") == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "token",
    [APNS_TOKEN, "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2K"],
    ids=["apns-device-token", "web-push-endpoint"],
)
def test_fcm_refuses_another_services_token_as_invalid_without_unregistering_it(
    provider_sandbox, token
):
    # A misconfigured route (iOS devices sent through FCM) must not wipe the devices.
    [result] = fcm(provider_sandbox, "fcm-foreign", RSA_KEY).send(
        [PushMessage(token=token, platform="ios", body="x")]
    )

    assert result.status is SendStatus.PERMANENT
    assert (result.http_status, result.error) == (
        400,
        "INVALID_ARGUMENT: The registration token is not a valid FCM registration token",
    )
    assert result.unregistered is False
    assert provider_sandbox.client.messages("fcm-foreign") == []


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
    assert result.unregistered is False


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 503, 429])
def test_fcm_injected_server_errors_and_quota_are_retryable(provider_sandbox, rsa_key, status):
    adapter = fcm(provider_sandbox, "fcm-5xx", rsa_key)
    adapter.access_token()  # the token endpoint shares the label's faults: fetch it first
    provider_sandbox.client.set_faults("fcm-5xx", error_rate=1, error_status=status)

    [result] = adapter.send([PushMessage(token=TOKEN, platform="android", body="x")])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == status
    assert result.unregistered is False


@pytest.mark.parametrize(
    ("status", "error", "unregistered"),
    [
        (404, {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}, True),
        (
            400,
            {"status": "INVALID_ARGUMENT", "details": [{"errorCode": "INVALID_ARGUMENT"}]},
            False,
        ),
        (
            403,
            {"status": "PERMISSION_DENIED", "details": [{"errorCode": "SENDER_ID_MISMATCH"}]},
            False,
        ),
        (404, {"status": "NOT_FOUND"}, False),
        (503, {"status": "UNAVAILABLE", "details": [{"errorCode": "UNAVAILABLE"}]}, False),
    ],
)
def test_only_fcms_unregistered_answer_marks_the_token_unregistered(status, error, unregistered):
    adapter = fcm_module.FcmAdapter(None)
    response = httpx.Response(status, json={"error": {"message": "m", **error}})

    result = adapter._result(PushMessage(token=TOKEN, platform="android"), response)

    assert result.unregistered is unregistered
    assert result.status is (SendStatus.RETRYABLE if status == 503 else SendStatus.PERMANENT)


@pytest.mark.slow
def test_fcm_refuses_a_push_it_cannot_build_and_still_sends_the_rest_of_the_batch(
    provider_sandbox,
):
    broken = PushMessage(token=TOKEN + "x", platform="android", options={"badge": "three"})
    fine = PushMessage(token=TOKEN, platform="android", body="ok")

    results = fcm(provider_sandbox, "fcm-broken", RSA_KEY).send([broken, fine])

    assert [r.status for r in results] == [SendStatus.PERMANENT, SendStatus.ACCEPTED]
    assert results[0].error.startswith("cannot build the push:")
    assert [m["recipient"] for m in provider_sandbox.client.messages("fcm-broken")] == [TOKEN]


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


def test_fcm_wire_refuses_a_request_without_an_access_token():
    refused = _wire_send({"token": TOKEN}, auth="")

    assert (refused.status, refused.body["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert refused.deliveries == []


def _error_code(reply):
    return next(
        (d["errorCode"] for d in reply.body["error"].get("details", []) if "errorCode" in d), None
    )


BAD_TOKEN = "The registration token is not a valid FCM registration token"


@pytest.mark.parametrize(
    ("message", "words", "error_code"),
    [
        # exactly one target
        ({"data": {"a": "b"}}, "Recipient of the message is not set.", "INVALID_ARGUMENT"),
        (
            {"token": TOKEN, "topic": "news"},
            "oneof field 'target' is already set",
            "INVALID_ARGUMENT",
        ),
        # the registration token's shape
        ({"token": APNS_TOKEN}, BAD_TOKEN, "INVALID_ARGUMENT"),
        (
            {"token": "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABn"},
            BAD_TOKEN,
            "INVALID_ARGUMENT",
        ),
        ({"token": "short"}, BAD_TOKEN, "INVALID_ARGUMENT"),
        # the Message proto: field names and types
        (
            {"token": TOKEN, "android": {"collapse_id": "x"}},
            "Unknown name \"collapse_id\" at 'message.android'",
            None,
        ),
        (
            {"token": TOKEN, "apns": {"payload": {"aps": {}}, "priority": "10"}},
            'Unknown name "priority"',
            None,
        ),
        (
            {"token": TOKEN, "data": {"n": 1}},
            "Invalid value at 'message.data[0].value' (TYPE_STRING), 1",
            None,
        ),
        ({"token": TOKEN, "apns": {"headers": {"apns-priority": 10}}}, "(TYPE_STRING), 10", None),
        # reserved data keys
        (
            {"token": TOKEN, "data": {"from": "shop"}},
            "Invalid data payload key: from",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "data": {"message_type": "x"}},
            "Invalid data payload key: message_type",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "data": {"google.c.a.e": "1"}},
            "Invalid data payload key: google.c.a.e",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "data": {"gcm.n.e": "1"}},
            "Invalid data payload key: gcm.n.e",
            "INVALID_ARGUMENT",
        ),
        # android
        (
            {"token": TOKEN, "android": {"priority": "max"}},
            "'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1."
            'AndroidMessagePriority), "max"',
            None,
        ),
        (
            {"token": TOKEN, "android": {"ttl": "3600"}},
            "'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), \"3600\"",
            None,
        ),
        ({"token": TOKEN, "android": {"ttl": "1.5m"}}, "google.protobuf.Duration", None),
        ({"token": TOKEN, "android": {"ttl": 3600}}, "google.protobuf.Duration", None),
        (
            {"token": TOKEN, "android": {"ttl": "2419201s"}},
            "maximum of 4 weeks (2419200s)",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "android": {"notification": {"notification_priority": "max"}}},
            'NotificationPriority), "max"',
            None,
        ),
        (
            {"token": TOKEN, "android": {"notification": {"notification_count": -1}}},
            "notification_count' (TYPE_INT32), -1",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "android": {"notification": {"notification_count": "three"}}},
            "(TYPE_INT32)",
            "INVALID_ARGUMENT",
        ),
        # apns
        (
            {"token": TOKEN, "apns": {"headers": {"apns-priority": "7"}}},
            "Invalid apns-priority: 7",
            "INVALID_ARGUMENT",
        ),
        (
            {
                "token": TOKEN,
                "apns": {"headers": {"apns-push-type": "background", "apns-priority": "10"}},
            },
            "needs apns-priority 5",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "apns": {"headers": {"apns-push-type": "background"}}},
            "needs apns-priority 5",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "apns": {"headers": {"apns-push-type": "banner"}}},
            "Invalid apns-push-type",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "apns": {"headers": {"apns-expiration": "tomorrow"}}},
            "Invalid apns-expiration",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "apns": {"headers": {"apns-collapse-id": "c" * 65}}},
            "longer than 64 bytes",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "apns": {"payload": {"aps": "alert"}}},
            "aps must be an object",
            "INVALID_ARGUMENT",
        ),
        # webpush
        (
            {"token": TOKEN, "webpush": {"fcm_options": {"link": "http://shop.example/"}}},
            "HTTPS is required",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "webpush": {"fcm_options": {"link": "/sale"}}},
            "HTTPS is required",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "webpush": {"headers": {"Urgency": "urgent"}}},
            "Invalid Urgency header",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "webpush": {"headers": {"TTL": "1h"}}},
            "Invalid TTL header",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "webpush": {"headers": {"Topic": "spring sale"}}},
            "Invalid Topic header",
            "INVALID_ARGUMENT",
        ),
        # 4096 bytes
        (
            {"token": TOKEN, "android": {}, "data": {"a": "x" * 4096}},
            "Android message is too big",
            "INVALID_ARGUMENT",
        ),
        (
            {"token": TOKEN, "apns": {"payload": {"aps": {"alert": "x" * 4096}}}},
            "Message is too big",
            "INVALID_ARGUMENT",
        ),
    ],
)
def test_fcm_wire_refuses_what_fcm_refuses_with_400_invalid_argument(message, words, error_code):
    reply = _wire_send(message)

    assert reply.status == 400, reply.body
    assert reply.body["error"]["status"] == "INVALID_ARGUMENT"
    assert words in reply.body["error"]["message"]
    assert _error_code(reply) == error_code
    assert reply.deliveries == []


def test_fcm_wire_takes_lower_camel_case_names_numeric_strings_and_a_payload_of_4096_bytes():
    base = {"token": TOKEN, "android": {"notification": {}}, "data": {"a": ""}}
    filler = 4096 - len(
        json.dumps({k: v for k, v in base.items() if k != "token"}, separators=(",", ":"))
    )
    message = {
        "token": TOKEN,
        "android": {
            "collapseKey": "sale",
            "priority": "high",
            "ttl": "2419200s",
            "notification": {"notificationPriority": "PRIORITY_MAX", "notificationCount": "3"},
        },
        "apns": {"headers": {"apns-push-type": "background", "apns-priority": "5"}},
        "webpush": {"fcmOptions": {"link": "https://shop.example/"}},
    }

    at_the_limit = _wire_send({**base, "data": {"a": "x" * filler}})
    camel = _wire_send(message)

    assert at_the_limit.status == 200, at_the_limit.body
    assert camel.status == 200, camel.body
    [delivery] = camel.deliveries
    assert delivery.extra["request"] == {"message": message}  # as sent
    assert delivery.extra["android"]["collapse_key"] == "sale"


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
    assert android["priority"] == "HIGH"  # delivery priority: not the tray's word
    assert android["notification"]["notification_priority"] == "PRIORITY_MAX"
