"""The Web Push adapter against the sandbox over real HTTP: a VAPID-signed, aes128gcm
encrypted POST to each subscription's endpoint in, RFC 8030 answers out. The sandbox plays
the push service and the browser, so it decrypts what it accepts."""

import base64
import hashlib
import json
import struct
import time
from dataclasses import replace

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.urls import reverse

from apps.campaigns.messages import push_message
from apps.providers.adapters.base import ProviderConfig, PushMessage, SendStatus
from apps.providers.crypto import credentials_encrypt
from apps.providers.forms import ProviderForm
from apps.providers.kinds import adapter_for
from apps.providers.kinds.webpush import adapter as webpush_module
from apps.providers.kinds.webpush import vapid as vapid_module
from apps.providers.kinds.webpush.vapid import VapidSigner, generate_vapid_key, load_vapid_key
from apps.providers.kinds.webpush.wire import sandbox_subscription
from apps.providers.models import Provider

SUBJECT = "mailto:push@herald.example"


@pytest.fixture(scope="module")
def vapid_key():
    return generate_vapid_key()


@pytest.fixture(autouse=True)
def empty_token_cache():
    vapid_module._token_cache.clear()
    yield
    vapid_module._token_cache.clear()


def webpush(sandbox, label, vapid_key, **settings):
    return adapter_for(
        ProviderConfig(
            kind="webpush",
            nickname=label,
            base_url=sandbox.url_for(label),
            credentials={"vapid_private_key": vapid_key["private_key"]},
            settings={"subject": SUBJECT, **settings},
        )
    )


def to(sandbox, label, subscription_id, **fields) -> PushMessage:
    subscription = sandbox_subscription(sandbox.url_for(label), subscription_id)
    return PushMessage(
        token=subscription["endpoint"],
        platform="web",
        subscription_keys=subscription["keys"],
        **fields,
    )


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf(salt, ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def browser_decrypt(body: bytes, private_key, auth: bytes) -> bytes:
    """RFC 8291 §3.4 and RFC 8188 as a browser decrypts, written here with `cryptography`
    alone: independent of http_ece, which the adapter encrypts with."""
    salt, (record_size,), id_length = body[:16], struct.unpack("!L", body[16:20]), body[20]
    sender, record = body[21 : 21 + id_length], body[21 + id_length :]
    receiver = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    shared = private_key.exchange(
        ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
    )
    ikm = hkdf(auth, shared, b"WebPush: info\x00" + receiver + sender, 32)
    key = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12)
    assert (record_size, id_length) == (4096, 65) and len(record) <= record_size
    padded = AESGCM(key).decrypt(nonce, record, None)
    assert padded.endswith(b"\x02")  # one record, the last, unpadded
    return padded[:-1]


FULL_OPTIONS = {
    "link": "https://shop.example/spring?utm=push",
    "image": "https://cdn.example/spring.jpg",
    "icon": "https://cdn.example/icon-192.png",
    "badge": 3,
    "collapse_id": "Spring sale: 20% off!",
    "delivery_priority": "high",
    "ttl": 3600,
    "buttons": [
        {"id": "action_1", "label": "Shop now", "link": "https://shop.example/spring"},
        {"id": "action_2", "label": "Later", "link": ""},
        {"id": "action_3", "label": "Never shown", "link": "https://shop.example/x"},
    ],
}
FULL_PAYLOAD = {
    "title": "Spring sale 🌷",
    "body": "20% off everything until Sunday",
    "icon": "https://cdn.example/icon-192.png",
    "image": "https://cdn.example/spring.jpg",
    "tag": "Spring sale: 20% off!",
    "actions": [
        {"action": "action_1", "title": "Shop now", "url": "https://shop.example/spring"},
        {"action": "action_2", "title": "Later"},
    ],
    "data": {
        "herald_mid": "m-42",
        "promo": "SPRING20",
        "url": "https://shop.example/spring?utm=push",
    },
}
FULL_TOPIC = base64.urlsafe_b64encode(hashlib.sha256(b"Spring sale: 20% off!").digest())[:32]


@pytest.mark.slow
def test_webpush_posts_the_encrypted_documented_payload_with_the_push_headers(
    provider_sandbox, vapid_key
):
    message = to(
        provider_sandbox,
        "wp-ok",
        "alice",
        title="Spring sale 🌷",
        body="20% off everything until Sunday",
        data={"herald_mid": "m-42", "promo": "SPRING20"},
        options=FULL_OPTIONS,
    )

    [result] = webpush(provider_sandbox, "wp-ok", vapid_key).send([message])

    assert result.status is SendStatus.ACCEPTED, result.error
    assert result.http_status == 201
    assert result.provider_message_id.startswith(provider_sandbox.url_for("wp-ok") + "/m/")
    [received] = provider_sandbox.client.messages("wp-ok")
    assert received["kind"] == "webpush"
    assert received["recipient"] == message.token == provider_sandbox.url_for("wp-ok") + "/wp/alice"
    assert (received["subject"], received["body"]) == (FULL_PAYLOAD["title"], FULL_PAYLOAD["body"])
    assert received["provider_message_id"] == result.provider_message_id
    assert received["extra"]["payload"] == FULL_PAYLOAD
    assert received["extra"]["auth_scheme"] == "vapid"
    assert received["extra"]["headers"] == {
        "ttl": "3600",
        "urgency": "high",
        "topic": FULL_TOPIC.decode(),
        "content-encoding": "aes128gcm",
        "content-type": "application/octet-stream",
    }
    claims = received["extra"]["vapid"]
    assert claims["aud"] == provider_sandbox.base_url  # the endpoint's origin
    assert claims["sub"] == SUBJECT
    assert claims["k"] == vapid_key["public_key"]
    assert abs(claims["exp"] - (time.time() + 12 * 3600)) < 120


def test_the_payload_decrypts_with_the_browsers_keys_in_one_fresh_record(vapid_key):
    browser_key, auth = ec.generate_private_key(ec.SECP256R1()), b"0123456789abcdef"
    p256dh = browser_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    message = PushMessage(
        token="https://fcm.googleapis.com/fcm/send/abc:APA91b",
        platform="web",
        title="Spring sale 🌷",
        body="20% off everything until Sunday",
        data={"herald_mid": "m-42", "promo": "SPRING20"},
        options=FULL_OPTIONS,
        subscription_keys={
            "p256dh": base64.urlsafe_b64encode(p256dh).rstrip(b"=").decode(),
            "auth": base64.urlsafe_b64encode(auth).rstrip(b"=").decode(),
        },
    )
    adapter = adapter_for(
        ProviderConfig(
            "webpush",
            "x",
            "",
            {"vapid_private_key": vapid_key["private_key"]},
            {"subject": SUBJECT},
        )
    )
    signer = VapidSigner.from_config(adapter.config.credentials, adapter.config.settings)

    first = adapter.request_for(message, signer)
    second = adapter.request_for(message, signer)

    assert first.url == message.token
    body = first.options["content"]
    assert json.loads(browser_decrypt(body, browser_key, auth)) == FULL_PAYLOAD
    assert json.loads(browser_decrypt(second.options["content"], browser_key, auth)) == FULL_PAYLOAD
    # A fresh salt and ephemeral key per message; never the VAPID key as the keyid.
    assert body[:16] != second.options["content"][:16]
    assert body[21:86] != second.options["content"][21:86]
    assert base64.urlsafe_b64encode(body[21:86]).rstrip(b"=").decode() != vapid_key["public_key"]
    assert first.options["headers"]["Authorization"].startswith("vapid t=")
    assert first.options["headers"]["Authorization"].endswith(f", k={vapid_key['public_key']}")


def test_the_vapid_jwt_verifies_with_the_public_key_and_names_origin_contact_and_expiry():
    key = generate_vapid_key()
    signer = VapidSigner.from_config(
        {"vapid_private_key": key["private_key"]}, {"subject": SUBJECT}
    )

    token = signer.token("https://fcm.googleapis.com", now=1_800_000_000)

    header_b64, claims_b64, signature_b64 = token.split(".")
    assert json.loads(b64decode(header_b64))["alg"] == "ES256"
    assert json.loads(b64decode(claims_b64)) == {
        "aud": "https://fcm.googleapis.com",
        "exp": 1_800_000_000 + 12 * 3600,
        "sub": SUBJECT,
    }
    signature = b64decode(signature_b64)
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64decode(key["public_key"])
    )
    # Raises InvalidSignature if the signature is wrong.
    public.verify(
        encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:])),
        f"{header_b64}.{claims_b64}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )


def test_the_vapid_token_is_cached_per_push_service_origin():
    key = generate_vapid_key()
    signer = VapidSigner.from_config(
        {"vapid_private_key": key["private_key"]}, {"subject": SUBJECT}
    )

    fcm_first = signer.authorization("https://fcm.googleapis.com")
    fcm_again = signer.authorization("https://fcm.googleapis.com")
    mozilla = signer.authorization("https://updates.push.services.mozilla.com")

    assert fcm_first == fcm_again != mozilla
    signer.forget("https://fcm.googleapis.com")
    assert signer.authorization("https://fcm.googleapis.com") != fcm_first  # signed again


def test_the_vapid_key_is_read_as_base64url_pem_or_pem_without_line_breaks():
    key = generate_vapid_key()
    pem = (
        load_vapid_key(key["private_key"])
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )

    for text in (key["private_key"], pem, pem.replace("\n", ""), f"  {pem}  "):
        signer = VapidSigner.from_config({"vapid_private_key": text}, {"subject": SUBJECT})
        assert signer.public_key == key["public_key"]


def _valid_request(sandbox, label, vapid_key, subscription_id="bob"):
    """A request the adapter would send, to be spoiled by a test and posted as is."""
    adapter = webpush(sandbox, label, vapid_key)
    signer = VapidSigner.from_config(adapter.config.credentials, adapter.config.settings)
    request = adapter.request_for(
        to(sandbox, label, subscription_id, title="Hi", body="there"), signer
    )
    return request.url, dict(request.options["headers"]), request.options["content"]


def _forged(vapid_key, aud):
    """A token signed with some other key, presented with the provider's public key."""
    other = VapidSigner.from_config(
        {"vapid_private_key": generate_vapid_key()["private_key"]}, {"subject": SUBJECT}
    )
    return f"vapid t={other.token(aud)}, k={vapid_key['public_key']}"


FORGED = object()  # replaced by _forged(...) in the test


@pytest.mark.slow
@pytest.mark.parametrize(
    ("headers_changed", "spoil_body", "status", "words"),
    [
        pytest.param({"Authorization": FORGED}, None, 403, "signature", id="forged-signature"),
        pytest.param({"Authorization": "vapid t=a.b.c, k=d"}, None, 403, "malformed", id="garbled"),
        pytest.param({"Authorization": None}, None, 401, "Missing", id="no-authorization"),
        pytest.param(
            {}, lambda b: b[:-1] + bytes([b[-1] ^ 1]), 400, "does not decrypt", id="tampered"
        ),
        pytest.param({}, lambda b: b[:20] + b"\x10" + b[21:], 400, "65-byte", id="bad-keyid"),
        pytest.param({"Content-Encoding": "aesgcm"}, None, 400, "aes128gcm", id="old-encoding"),
        pytest.param({"TTL": None}, None, 400, "TTL", id="no-ttl"),
        pytest.param({"Urgency": "urgent"}, None, 400, "Urgency", id="bad-urgency"),
        pytest.param({"Topic": "has spaces"}, None, 400, "Topic", id="bad-topic"),
        pytest.param({}, lambda b: b + bytes(4096), 413, "at most 4096", id="too-big"),
    ],
)
def test_the_sandbox_refuses_what_a_push_service_or_browser_would(
    provider_sandbox, vapid_key, headers_changed, spoil_body, status, words
):
    url, headers, body = _valid_request(provider_sandbox, "wp-refuse", vapid_key)
    for name, value in headers_changed.items():
        if value is FORGED:
            value = _forged(vapid_key, provider_sandbox.base_url)
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    body = spoil_body(body) if spoil_body else body

    answer = httpx.post(url, headers=headers, content=body)

    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]
    assert provider_sandbox.client.messages("wp-refuse") == []


@pytest.mark.slow
def test_the_sandbox_takes_the_legacy_webpush_scheme_with_crypto_key(provider_sandbox, vapid_key):
    url, headers, body = _valid_request(provider_sandbox, "wp-legacy", vapid_key)
    token = headers["Authorization"].split("t=", 1)[1].split(",", 1)[0]
    headers["Authorization"] = f"WebPush {token}"
    headers["Crypto-Key"] = f"p256ecdsa={vapid_key['public_key']}"

    answer = httpx.post(url, headers=headers, content=body)

    assert answer.status_code == 201, answer.text
    [received] = provider_sandbox.client.messages("wp-legacy")
    assert (received["extra"]["auth_scheme"], received["subject"]) == ("WebPush", "Hi")


@pytest.mark.slow
def test_the_sandbox_refuses_a_token_for_another_origin(provider_sandbox, vapid_key):
    url, headers, body = _valid_request(provider_sandbox, "wp-aud", vapid_key)
    signer = VapidSigner.from_config(
        {"vapid_private_key": vapid_key["private_key"]}, {"subject": SUBJECT}
    )
    headers["Authorization"] = (
        f"vapid t={signer.token('https://fcm.googleapis.com')}, k={vapid_key['public_key']}"
    )

    answer = httpx.post(url, headers=headers, content=body)

    assert answer.status_code == 403
    assert answer.json()["message"] == (
        f"Request did not validate: the VAPID aud must be '{provider_sandbox.base_url}', "
        "not 'https://fcm.googleapis.com'"
    )


@pytest.mark.slow
def test_a_refused_vapid_token_is_retryable_and_is_signed_again_next_time(
    provider_sandbox, vapid_key
):
    adapter = webpush(provider_sandbox, "wp-403", vapid_key)
    cache_key = (provider_sandbox.base_url, vapid_key["public_key"], SUBJECT)
    vapid_module._token_cache[cache_key] = (
        _forged(vapid_key, provider_sandbox.base_url),
        time.monotonic() + 600,
    )
    message = to(provider_sandbox, "wp-403", "carol", title="Hi")

    [refused] = adapter.send([message])
    [accepted] = adapter.send([message])

    assert (refused.status, refused.http_status, refused.unregistered) == (
        SendStatus.RETRYABLE,
        403,
        False,
    )
    assert refused.error == (
        "Request did not validate: the VAPID signature does not verify with the k= public key"
    )
    assert accepted.status is SendStatus.ACCEPTED


@pytest.mark.slow
@pytest.mark.parametrize("rejected", ["dave", "endpoint"])
def test_a_gone_subscription_is_permanent_and_unregistered(provider_sandbox, vapid_key, rejected):
    message = to(provider_sandbox, "wp-gone", "dave", title="Hi")
    provider_sandbox.client.set_faults(
        "wp-gone", reject_recipients=[message.token if rejected == "endpoint" else rejected]
    )

    [result] = webpush(provider_sandbox, "wp-gone", vapid_key).send([message])

    assert (result.status, result.http_status, result.unregistered) == (
        SendStatus.PERMANENT,
        410,
        True,
    )
    assert result.error == "Request did not validate: the subscription is gone"
    assert provider_sandbox.client.messages("wp-gone") == []


@pytest.mark.slow
def test_an_endpoint_outside_the_push_services_is_permanent_and_never_requested(
    provider_sandbox, vapid_key
):
    keys = sandbox_subscription("http://x", "erin")["keys"]
    # localhost is the sandbox too, on another origin: a request sent would be counted.
    same_server = provider_sandbox.url_for("wp-ssrf").replace("127.0.0.1", "localhost")
    endpoints = [
        same_server + "/wp/erin",
        "http://fcm.googleapis.com/fcm/send/erin",
        "https://fcm.googleapis.com:8443/fcm/send/erin",
        "https://fcm.googleapis.com@127.0.0.1/fcm/send/erin",
        "https://web.push.apple.com.evil.example/erin",
        "https://169.254.169.254/latest/meta-data",
        "https://fcm.googleapis.com\\@127.0.0.1/fcm/send/erin",
        "https://fcm.googleapis.com\t.evil.example/erin",
        "not a url",
    ]
    messages = [
        PushMessage(token=endpoint, platform="web", title="Hi", subscription_keys=keys)
        for endpoint in endpoints
    ]

    results = webpush(provider_sandbox, "wp-ssrf", vapid_key).send(messages)

    assert [(r.status, r.unregistered) for r in results] == [(SendStatus.PERMANENT, False)] * 9
    assert [r.error for r in results] == [
        f"endpoint {endpoint!r} is not a known push service" for endpoint in endpoints
    ]
    assert "wp-ssrf" not in provider_sandbox.client.health()["requests"]


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://autopush.prod.push.services.mozilla.com/wpush/v2/abc",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
        "https://web.push.apple.com/QGq3",
        "https://api.push.apple.com/3/device/abc",
        "https://FCM.googleapis.com:443/fcm/send/abc",
    ],
)
def test_the_well_known_push_services_are_allowed(endpoint):
    assert webpush_module.is_push_service(webpush_module.origin_of(endpoint))


def test_a_collapse_id_that_fits_is_the_topic_and_one_that_does_not_is_hashed():
    assert webpush_module.topic_for("spring-sale_2026") == "spring-sale_2026"
    assert webpush_module.topic_for("Spring sale: 20% off!") == FULL_TOPIC.decode()
    assert webpush_module.topic_for("x" * 33) == webpush_module.topic_for("x" * 33)
    assert len(webpush_module.topic_for("x" * 33)) == 32
    assert webpush_module.topic_for("x" * 33) != webpush_module.topic_for("x" * 34)


def test_ttl_comes_from_ttl_or_the_absolute_expiry_else_four_weeks():
    assert webpush_module.ttl_for({"ttl": 60}) == 60
    assert webpush_module.ttl_for({"expires_at": 1_000_600}, now=1_000_000) == 600
    assert webpush_module.ttl_for({"expires_at": 999_000}, now=1_000_000) == 0
    assert webpush_module.ttl_for({}) == 2419200


@pytest.mark.slow
def test_a_plain_message_has_no_urgency_or_topic_and_a_normal_one_says_normal(
    provider_sandbox, vapid_key
):
    plain = to(provider_sandbox, "wp-plain", "frank", title="Hi")
    normal = replace(plain, options={"delivery_priority": "normal"})

    results = webpush(provider_sandbox, "wp-plain", vapid_key).send([plain, normal])

    assert [r.status for r in results] == [SendStatus.ACCEPTED] * 2
    headers = [
        m["extra"]["headers"] for m in provider_sandbox.client.messages("wp-plain", order="asc")
    ]
    assert [(h["ttl"], h["urgency"], h["topic"]) for h in headers] == [
        ("2419200", "", ""),
        ("2419200", "normal", ""),
    ]
    first = provider_sandbox.client.messages("wp-plain", order="asc")[0]
    assert first["extra"]["payload"] == {"title": "Hi", "body": "", "data": {}}


@pytest.mark.slow
def test_a_payload_too_big_for_one_record_is_permanent_before_sending(provider_sandbox, vapid_key):
    message = to(provider_sandbox, "wp-big", "gina", title="Hi", body="x" * 4000)

    [result] = webpush(provider_sandbox, "wp-big", vapid_key).send([message])

    assert result.status is SendStatus.PERMANENT
    assert result.error.startswith("the payload is 41")
    assert "bytes encrypted; Web Push takes at most 4096 (RFC 8291)" in result.error
    assert "wp-big" not in provider_sandbox.client.health()["requests"]


def test_missing_subscription_keys_are_permanent_and_a_bad_vapid_key_is_retryable(vapid_key):
    config = ProviderConfig(
        "webpush", "x", "", {"vapid_private_key": vapid_key["private_key"]}, {"subject": SUBJECT}
    )
    message = PushMessage(token="https://fcm.googleapis.com/fcm/send/abc", platform="web")

    [no_keys] = adapter_for(config).send([message])
    [bad_key] = adapter_for(replace(config, credentials={"vapid_private_key": "nope"})).send(
        [message]
    )
    [bad_subject] = adapter_for(replace(config, settings={"subject": "ops"})).send([message])

    assert no_keys.status is SendStatus.PERMANENT
    assert no_keys.error.startswith("the subscription's keys are missing or invalid")
    assert bad_key.status is SendStatus.RETRYABLE
    assert bad_key.error == "the VAPID private key is neither a base64url 32-byte key nor a PEM key"
    assert bad_subject.status is SendStatus.RETRYABLE
    assert "mailto: or https:" in bad_subject.error


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 503, 429])
def test_injected_server_errors_and_throttling_are_retryable(provider_sandbox, vapid_key, status):
    provider_sandbox.client.set_faults("wp-5xx", error_rate=1, error_status=status)

    [result] = webpush(provider_sandbox, "wp-5xx", vapid_key).send(
        [to(provider_sandbox, "wp-5xx", "hank", title="Hi")]
    )

    assert (result.status, result.http_status) == (SendStatus.RETRYABLE, status)
    assert result.error == "sandbox injected fault"


@pytest.mark.slow
def test_a_timeout_is_retryable(provider_sandbox, vapid_key):
    provider_sandbox.client.set_faults("wp-slow", timeout_rate=1)

    [result] = webpush(provider_sandbox, "wp-slow", vapid_key, timeout_s=0.3).send(
        [to(provider_sandbox, "wp-slow", "ivan", title="Hi")]
    )

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")


@pytest.mark.slow
def test_a_batch_of_five_is_in_flight_together(provider_sandbox, vapid_key):
    latency_s = 0.5
    provider_sandbox.client.set_faults("wp-batch", latency_ms=int(latency_s * 1000))
    messages = [to(provider_sandbox, "wp-batch", f"user{i}", title=f"#{i}") for i in range(5)]

    started = time.monotonic()
    results = webpush(provider_sandbox, "wp-batch", vapid_key).send(messages)
    elapsed = time.monotonic() - started

    assert [r.status for r in results] == [SendStatus.ACCEPTED] * 5
    received = provider_sandbox.client.messages("wp-batch")
    assert sorted(m["subject"] for m in received) == [f"#{i}" for i in range(5)]
    # Each request waited out the latency before it was answered: one after the other,
    # answers would be a latency apart; together they arrive within a fraction of one.
    arrivals = [m["received_at"] for m in received]
    assert max(arrivals) - min(arrivals) < latency_s
    assert elapsed < 4 * latency_s


@pytest.mark.slow
def test_a_campaign_web_push_reaches_the_browser_with_its_link(provider_sandbox, vapid_key):
    subscription = sandbox_subscription(provider_sandbox.url_for("wp-campaign"), "june")
    rendered = {
        "title": "Back in stock",
        "body": "Your size is here",
        "external_url": "https://shop.example/p/1",
        "large_icon": "https://cdn.example/icon.png",
        "collapse_key": "stock",
        "custom_kv": {"web": {"sku": "P1"}},
    }
    message = replace(
        push_message(subscription["endpoint"], "web", rendered),
        subscription_keys=subscription["keys"],
    )

    [result] = webpush(provider_sandbox, "wp-campaign", vapid_key).send([message])

    assert result.status is SendStatus.ACCEPTED, result.error
    [received] = provider_sandbox.client.messages("wp-campaign")
    assert received["extra"]["payload"] == {
        "title": "Back in stock",
        "body": "Your size is here",
        "icon": "https://cdn.example/icon.png",
        "tag": "stock",
        "data": {"sku": "P1", "url": "https://shop.example/p/1"},
    }
    assert received["extra"]["headers"]["topic"] == "stock"


def test_a_sandbox_subscription_is_a_browsers_subscription_derived_from_its_id():
    first = sandbox_subscription("http://127.0.0.1:8025/p/web/", "kim")
    again = sandbox_subscription("http://127.0.0.1:8025/p/web", "kim")
    other = sandbox_subscription("http://127.0.0.1:8025/p/web", "lee")

    assert first == again
    assert first["endpoint"] == "http://127.0.0.1:8025/p/web/wp/kim"
    assert first["keys"] != other["keys"]
    point = b64decode(first["keys"]["p256dh"])
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)  # on the curve
    assert (len(point), len(b64decode(first["keys"]["auth"]))) == (65, 16)
    with pytest.raises(ValueError):
        sandbox_subscription("http://x", "not/an id")


@pytest.mark.django_db
def test_the_provider_form_asks_for_the_vapid_key_and_subject_and_never_renders_the_key(
    admin_client, vapid_key
):
    # The form only: a webpush row needs the lead's migration of Provider.kind's choices
    # and the kind-matches-channel constraint.
    page = admin_client.get(reverse("providers:provider_create") + "?kind=webpush")
    html = page.content.decode()
    assert "Add a Web Push (VAPID) provider" in html
    assert "VAPID private key" in html and "Contact (VAPID subject)" in html
    fields = {
        "nickname": "Browsers",
        "base_url": "",
        "cred_vapid_private_key": vapid_key["private_key"],
        "setting_subject": SUBJECT,
        "extra_settings": '{"timeout_s": 5}',
    }

    form = ProviderForm(fields, kind="webpush")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["base_url"] == ""
    assert form.credential_values() == {"vapid_private_key": vapid_key["private_key"]}
    assert form.provider_settings() == {"subject": SUBJECT, "timeout_s": 5}
    stored = Provider(
        channel="push",
        kind="webpush",
        nickname="Browsers",
        credentials_encrypted=credentials_encrypt(form.credential_values()),
        settings=form.provider_settings(),
    )
    edit = ProviderForm(kind="webpush", provider=stored)
    rendered = str(edit)
    assert vapid_key["private_key"] not in rendered
    assert "Set. Leave blank to keep it" in rendered
    assert not edit.fields["cred_vapid_private_key"].required
