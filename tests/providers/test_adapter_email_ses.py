"""The Amazon SES adapter against the sandbox over real HTTP: SES v2 SendEmail signed with
AWS Signature Version 4 in, SES's answers out, one typed result per recipient. The signing
itself is pinned to AWS's published test vectors, so the sandbox (which verifies with the
same code) is not the only judge of it."""

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.urls import reverse

from apps.providers.adapters.base import EmailMessage, ProviderConfig, SendStatus
from apps.providers.kinds import adapter_for
from apps.providers.kinds.ses.adapter import (
    canonical_request,
    result_from_response,
    sha256_hex,
    sign_request,
    signing_key,
)
from apps.providers.kinds.ses.wire import (
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_SECRET_ACCESS_KEY,
    WIRE,
)
from apps.providers.sandbox.wire import FaultPlan, SandboxRequest
from apps.providers.services import provider_create

AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
AUTHORIZATION_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/ses/"
    r"aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def ses(
    sandbox,
    label,
    *,
    key_id=SANDBOX_ACCESS_KEY_ID,
    secret=SANDBOX_SECRET_ACCESS_KEY,
    region="eu-west-1",
    **settings,
):
    return adapter_for(
        ProviderConfig(
            kind="ses",
            nickname=label,
            base_url=sandbox.url_for(label),
            credentials={"access_key_id": key_id, "secret_access_key": secret},
            settings={"region": region, **settings},
        )
    )


def welcome(to="ana@example.com", **overrides):
    fields = {
        "to": to,
        "subject": "Welcome",
        "text": "Hello Ana",
        "html": "<p>Hello Ana</p>",
        "from_email": "news@herald.test",
        "from_name": "Herald News",
    }
    fields.update(overrides)
    return EmailMessage(**fields)


# --- Signature Version 4 against AWS's published vectors ------------------------------------


def test_the_signing_key_matches_the_one_aws_documents():
    key = signing_key(AWS_EXAMPLE_SECRET, "20120215", "us-east-1", "iam")

    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        # aws-sig-v4-test-suite: get-vanilla, post-vanilla, get-vanilla-query-order-key-case
        (
            "GET",
            "https://example.amazonaws.com/",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "POST",
            "https://example.amazonaws.com/",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "GET",
            "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
    ],
)
def test_a_signed_request_matches_the_aws_signature_test_suite(method, url, expected):
    headers = sign_request(
        method=method,
        url=url,
        body=b"",
        headers={},
        access_key_id="AKIDEXAMPLE",
        secret_access_key=AWS_EXAMPLE_SECRET,
        region="us-east-1",
        service="service",
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )

    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Host"] == "example.amazonaws.com"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={expected}"
    )


def test_the_canonical_request_is_the_one_of_the_test_suite():
    request = canonical_request(
        method="GET",
        path="/",
        query="",
        headers={"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
        signed_headers=["host", "x-amz-date"],
        payload_hash=sha256_hex(b""),
    )

    assert request == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert sha256_hex(request.encode()) == (
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    )


# --- SendEmail over HTTP -----------------------------------------------------------------


@pytest.mark.slow
def test_ses_posts_a_signed_v2_send_email_and_reads_the_message_id(provider_sandbox):
    message = welcome(reply_to="help@herald.test", headers={"X-Campaign": "42"})

    [result] = ses(provider_sandbox, "ses-ok", configuration_set="herald").send([message])

    assert result.status is SendStatus.ACCEPTED
    assert result.http_status == 200
    assert re.fullmatch(r"[0-9a-f]{16}-[0-9a-f-]{36}-000000", result.provider_message_id)
    [received] = provider_sandbox.client.messages("ses-ok")
    assert received["kind"] == "ses"
    assert received["recipient"] == "ana@example.com"
    assert received["subject"] == "Welcome"
    assert received["body"] == "Hello Ana"
    assert received["provider_message_id"] == result.provider_message_id
    extra = received["extra"]
    assert extra["path"] == "/v2/email/outbound-emails"
    # The signature verified (or the sandbox would have answered 403), with this scope.
    assert extra["auth_scheme"] == "AWS4-HMAC-SHA256"
    assert extra["access_key_id"] == SANDBOX_ACCESS_KEY_ID
    assert extra["region"] == "eu-west-1"
    assert extra["signed_headers"] == ["content-type", "host", "x-amz-date"]
    assert extra["request"] == {
        "FromEmailAddress": "Herald News <news@herald.test>",
        "Destination": {"ToAddresses": ["ana@example.com"]},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Welcome", "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": "Hello Ana", "Charset": "UTF-8"},
                    "Html": {"Data": "<p>Hello Ana</p>", "Charset": "UTF-8"},
                },
                "Headers": [{"Name": "X-Campaign", "Value": "42"}],
            }
        },
        "ReplyToAddresses": ["help@herald.test"],
        "ConfigurationSetName": "herald",
    }
    assert extra["headers"] == {"X-Campaign": "42"}


@pytest.mark.slow
def test_ses_signs_with_an_authorization_header_of_the_aws_shape(monkeypatch, provider_sandbox):
    sent = []
    from apps.providers.kinds.ses import adapter as ses_module

    original = ses_module.post_or_retryable

    def spy(recipient, url, **kwargs):
        sent.append((url, kwargs["headers"], kwargs["content"]))
        return original(recipient, url, **kwargs)

    monkeypatch.setattr(ses_module, "post_or_retryable", spy)
    before = datetime.now(UTC).replace(microsecond=0)

    [result] = ses(provider_sandbox, "ses-auth", region="us-east-2").send([welcome()])

    assert result.status is SendStatus.ACCEPTED
    [(url, headers, body)] = sent
    assert url == provider_sandbox.url_for("ses-auth") + "/v2/email/outbound-emails"
    match = AUTHORIZATION_RE.fullmatch(headers["Authorization"])
    assert match, headers["Authorization"]
    assert match["key"] == SANDBOX_ACCESS_KEY_ID
    assert match["region"] == "us-east-2"
    assert match["signed"] == "content-type;host;x-amz-date"
    signed_at = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= signed_at <= datetime.now(UTC)
    assert match["date"] == headers["X-Amz-Date"][:8]
    assert headers["Host"] == f"127.0.0.1:{provider_sandbox.port}"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["Destination"] == {"ToAddresses": ["ana@example.com"]}
    # The signature is the one an independent recomputation gives for this exact request.
    expected = sign_request(
        method="POST",
        url=url,
        body=body,
        headers={"Content-Type": "application/json"},
        access_key_id=SANDBOX_ACCESS_KEY_ID,
        secret_access_key=SANDBOX_SECRET_ACCESS_KEY,
        region="us-east-2",
        now=signed_at,
    )
    assert expected["Authorization"] == headers["Authorization"]


@pytest.mark.slow
def test_ses_with_a_wrong_secret_is_refused_by_signature_and_is_retryable(provider_sandbox):
    adapter = ses(provider_sandbox, "ses-wrong", secret="not-the-sandbox-secret")

    [result] = adapter.send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 403
    assert result.error.startswith(
        "SignatureDoesNotMatch: The request signature we calculated does not match"
    )
    assert provider_sandbox.client.messages("ses-wrong") == []


@pytest.mark.slow
def test_ses_with_an_unknown_access_key_is_refused_as_an_invalid_token(provider_sandbox):
    [result] = ses(provider_sandbox, "ses-key", key_id="AKIAUNKNOWN").send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 403
    assert result.error == (
        "InvalidClientTokenId: The security token included in the request is invalid."
    )
    assert provider_sandbox.client.messages("ses-key") == []


@pytest.mark.slow
def test_ses_returns_one_result_per_message_in_order(provider_sandbox):
    provider_sandbox.client.set_faults("ses-mixed", reject_recipients=["gone@example.com"])
    messages = [welcome("a@example.com"), welcome("gone@example.com"), welcome("c@example.com")]

    results = ses(provider_sandbox, "ses-mixed").send(messages)

    assert [r.recipient for r in results] == ["a@example.com", "gone@example.com", "c@example.com"]
    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.PERMANENT,
        SendStatus.ACCEPTED,
    ]
    assert results[1].error == "MessageRejected: Address blacklisted."
    assert results[1].http_status == 400
    received = provider_sandbox.client.messages("ses-mixed", order="asc")
    assert [m["recipient"] for m in received] == ["a@example.com", "c@example.com"]


@pytest.mark.slow
def test_ses_malformed_address_is_a_permanent_bad_request(provider_sandbox):
    [result] = ses(provider_sandbox, "ses-bad").send([welcome("not-an-address")])

    assert result.status is SendStatus.PERMANENT
    assert result.http_status == 400
    assert result.error == "BadRequestException: Missing final '@domain'"


@pytest.mark.slow
def test_ses_unverified_sender_is_retryable_because_it_is_account_configuration(
    provider_sandbox,
):
    message = welcome(from_email="news@unverified.test")

    [result] = ses(provider_sandbox, "ses-unverified").send([message])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 400
    assert result.error == (
        "MessageRejected: Email address is not verified. The following identities failed the "
        "check in region EU-WEST-1: news@unverified.test"
    )


@pytest.mark.slow
def test_ses_missing_configuration_set_is_retryable_with_ses_text(provider_sandbox):
    [result] = ses(provider_sandbox, "ses-cfg", configuration_set="missing").send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == 404
    assert result.error == "NotFoundException: Configuration set <missing> does not exist."


@pytest.mark.slow
@pytest.mark.parametrize("status", [500, 503, 429])
def test_ses_injected_server_errors_and_throttling_are_retryable(provider_sandbox, status):
    provider_sandbox.client.set_faults("ses-5xx", error_rate=1, error_status=status)

    [result] = ses(provider_sandbox, "ses-5xx").send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.http_status == status
    assert "sandbox injected fault" in result.error
    assert provider_sandbox.client.messages("ses-5xx") == []


@pytest.mark.slow
def test_ses_timeout_is_retryable(provider_sandbox):
    provider_sandbox.client.set_faults("ses-slow", timeout_rate=1)

    [result] = ses(provider_sandbox, "ses-slow", timeout_s=0.3).send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")


def test_ses_connection_refused_is_retryable():
    adapter = adapter_for(
        ProviderConfig(
            kind="ses",
            nickname="down",
            base_url="http://127.0.0.1:9",  # discard port: nothing listens
            credentials={"access_key_id": "AKIA", "secret_access_key": "x"},
            settings={"region": "eu-west-1", "timeout_s": 2},
        )
    )

    [result] = adapter.send([welcome()])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("connection error")


@pytest.mark.slow
def test_ses_without_keys_or_region_is_retryable_and_sends_nothing(provider_sandbox):
    no_secret = ses(provider_sandbox, "ses-nokey", secret="")
    no_region = ses(provider_sandbox, "ses-noregion", region="")

    [missing_secret] = no_secret.send([welcome()])
    [missing_region] = no_region.send([welcome()])

    assert missing_secret.status is SendStatus.RETRYABLE
    assert missing_secret.error == "no SES access key id / secret is set"
    assert missing_region.status is SendStatus.RETRYABLE
    assert missing_region.error == "no SES region is set"
    assert provider_sandbox.client.health()["requests"] == {}


def test_ses_takes_the_region_from_an_aws_base_url_when_none_is_set():
    adapter = adapter_for(
        ProviderConfig(
            kind="ses",
            nickname="aws",
            base_url="https://email.ap-south-1.amazonaws.com",
            credentials={"access_key_id": "AKIA", "secret_access_key": "x"},
            settings={},
        )
    )

    assert adapter._region() == "ap-south-1"


@pytest.mark.slow
def test_ses_carries_unicode_subjects_bodies_and_sender_names(provider_sandbox):
    message = welcome(
        subject="Привет, 世界 🎉", text="Ünïcödé ✓ body", html="<p>नमस्ते</p>", from_name="Hérald"
    )

    [result] = ses(provider_sandbox, "ses-utf").send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = provider_sandbox.client.messages("ses-utf")
    assert received["subject"] == "Привет, 世界 🎉"
    assert received["body"] == "Ünïcödé ✓ body"
    assert received["extra"]["html"] == "<p>नमस्ते</p>"
    assert received["extra"]["from"] == "=?utf-8?q?H=C3=A9rald?= <news@herald.test>"


@pytest.mark.slow
def test_ses_tags_the_send_with_the_idempotency_key_when_ses_allows_its_characters(
    provider_sandbox,
):
    adapter = ses(provider_sandbox, "ses-tag")

    adapter.send([welcome("a@example.com", idempotency_key="run-7_profile-9_v-1")])
    adapter.send([welcome("b@example.com", idempotency_key="run 7/profile 9")])

    received = {
        m["recipient"]: m["extra"]["request"] for m in provider_sandbox.client.messages("ses-tag")
    }
    assert received["a@example.com"]["EmailTags"] == [
        {"Name": "herald_key", "Value": "run-7_profile-9_v-1"}
    ]
    assert "EmailTags" not in received["b@example.com"]


# --- SES's error answers, mapped -----------------------------------------------------------


def _ses_answer(status, error_type, message):
    headers = {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/"}
    return httpx.Response(status, headers=headers, json={"message": message})


@pytest.mark.parametrize(
    ("status", "error_type", "message", "expected"),
    [
        (400, "BadRequestException", "Illegal address", SendStatus.PERMANENT),
        (400, "MessageRejected", "Address blacklisted.", SendStatus.PERMANENT),
        (400, "MessageRejected", "Email address is not verified.", SendStatus.RETRYABLE),
        (400, "MailFromDomainNotVerifiedException", "MAIL FROM not verified", SendStatus.RETRYABLE),
        (400, "AccountSuspendedException", "Account suspended", SendStatus.RETRYABLE),
        (400, "SendingPausedException", "Sending paused", SendStatus.RETRYABLE),
        (400, "LimitExceededException", "Daily message quota exceeded", SendStatus.RETRYABLE),
        (429, "TooManyRequestsException", "Maximum sending rate exceeded", SendStatus.RETRYABLE),
        (404, "NotFoundException", "Configuration set <x> does not exist.", SendStatus.RETRYABLE),
        (
            403,
            "AccessDeniedException",
            "not authorized to perform ses:SendEmail",
            SendStatus.RETRYABLE,
        ),
        (500, "InternalFailure", "internal error", SendStatus.RETRYABLE),
        (409, "ConflictException", "conflict", SendStatus.PERMANENT),
    ],
)
def test_each_ses_error_maps_to_a_result_keeping_ses_text(status, error_type, message, expected):
    result = result_from_response("ana@example.com", _ses_answer(status, error_type, message))

    assert result.status is expected
    assert result.http_status == status
    assert result.error == f"{error_type}: {message}"


def test_an_error_type_in_the_body_is_read_when_the_header_is_missing():
    response = httpx.Response(
        400, json={"__type": "com.amazonaws.sesv2#MessageRejected", "message": "Bad content"}
    )

    result = result_from_response("ana@example.com", response)

    assert result.status is SendStatus.PERMANENT
    assert result.error == "MessageRejected: Bad content"


def test_a_200_without_a_message_id_is_not_taken_for_a_send():
    result = result_from_response("ana@example.com", httpx.Response(200, json={}))

    assert result.status is SendStatus.PERMANENT
    assert result.error.startswith("SES answered 200 without a MessageId")


# --- The wire on its own -------------------------------------------------------------------


def _wire_request(body: dict, *, secret=SANDBOX_SECRET_ACCESS_KEY, now=None, tamper=False):
    raw = json.dumps(body).encode()
    url = "http://127.0.0.1:8025/p/w/v2/email/outbound-emails"
    headers = sign_request(
        method="POST",
        url=url,
        body=raw,
        headers={"Content-Type": "application/json"},
        access_key_id=SANDBOX_ACCESS_KEY_ID,
        secret_access_key=secret,
        region="eu-west-1",
        now=now,
    )
    return SandboxRequest(
        label="w",
        method="POST",
        path="/v2/email/outbound-emails",
        query={},
        headers={name.lower(): value for name, value in headers.items()},
        body=raw + (b" " if tamper else b""),
    )


VALID = {
    "FromEmailAddress": "news@herald.test",
    "Destination": {"ToAddresses": ["a@example.com"]},
    "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}}}},
}


def test_the_wire_refuses_a_changed_body_and_an_old_signature_like_ses():
    match = WIRE.matches("POST", "/v2/email/outbound-emails")

    ok = WIRE.handle(_wire_request(VALID), match, FaultPlan())
    tampered = WIRE.handle(_wire_request(VALID, tamper=True), match, FaultPlan())
    stale = WIRE.handle(
        _wire_request(VALID, now=datetime.now(UTC) - timedelta(minutes=20)), match, FaultPlan()
    )

    assert ok.status == 200 and ok.body["MessageId"]
    assert tampered.status == 403
    assert tampered.headers["x-amzn-ErrorType"].startswith("SignatureDoesNotMatch:")
    assert stale.status == 403
    assert stale.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException:")
    assert stale.body["message"].startswith("Signature expired:")
    assert tampered.deliveries == [] and stale.deliveries == []


def test_the_wire_refuses_a_mail_without_subject_or_body_naming_the_field():
    match = WIRE.matches("POST", "/v2/email/outbound-emails")
    no_subject = {**VALID, "Content": {"Simple": {"Body": {"Text": {"Data": "x"}}}}}
    no_body = {**VALID, "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {}}}}
    no_recipient = {**VALID, "Destination": {}}

    answers = [
        WIRE.handle(_wire_request(body), match, FaultPlan())
        for body in (no_subject, no_body, no_recipient)
    ]

    assert [a.status for a in answers] == [400, 400, 400]
    assert [a.body["message"] for a in answers] == [
        "Content.Simple.Subject.Data is required.",
        "Content.Simple.Body must contain Text or Html.",
        "Destination must contain at least one recipient.",
    ]
    assert all(a.headers["x-amzn-ErrorType"].startswith("BadRequestException:") for a in answers)


def test_the_wire_refuses_an_unsigned_request():
    match = WIRE.matches("POST", "/v2/email/outbound-emails")
    request = SandboxRequest(
        label="w",
        method="POST",
        path="/v2/email/outbound-emails",
        query={},
        headers={"content-type": "application/json"},
        body=json.dumps(VALID).encode(),
    )

    answer = WIRE.handle(request, match, FaultPlan())

    assert answer.status == 403
    assert answer.body == {"message": "Missing Authentication Token"}


# --- The provider page ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db
def test_the_provider_page_test_send_through_ses_shows_the_accepted_answer(
    admin_client, provider_sandbox
):
    provider = provider_create(
        channel="email",
        kind="ses",
        nickname="SES",
        base_url=provider_sandbox.url_for("ses-page"),
        credentials={
            "access_key_id": SANDBOX_ACCESS_KEY_ID,
            "secret_access_key": SANDBOX_SECRET_ACCESS_KEY,
        },
        settings={"region": "eu-west-1", "from_email": "demo@herald.test"},
    )
    url = reverse("providers:provider_test_send", args=[provider.pk])

    html = admin_client.post(url, {"to": "ada@example.com", "text": "Hi Ada"}).content.decode()

    [delivered] = provider_sandbox.client.messages("ses-page")
    assert (delivered["recipient"], delivered["body"]) == ("ada@example.com", "Hi Ada")
    assert delivered["subject"] == "Herald test email"
    assert '<span class="badge good">accepted</span>' in html
    assert f"<code>{delivered['provider_message_id']}</code>" in html
    assert SANDBOX_SECRET_ACCESS_KEY not in html


@pytest.mark.slow
@pytest.mark.django_db
def test_the_provider_page_test_send_through_ses_with_a_wrong_secret_shows_ses_error(
    admin_client, provider_sandbox
):
    provider = provider_create(
        channel="email",
        kind="ses",
        nickname="SES wrong",
        base_url=provider_sandbox.url_for("ses-page-bad"),
        credentials={"access_key_id": SANDBOX_ACCESS_KEY_ID, "secret_access_key": "wrong"},
        settings={"region": "eu-west-1", "from_email": "demo@herald.test"},
    )

    html = admin_client.post(
        reverse("providers:provider_test_send", args=[provider.pk]), {"to": "ada@example.com"}
    ).content.decode()

    assert "retryable failure" in html
    assert "HTTP 403" in html
    assert "SignatureDoesNotMatch: The request signature we calculated" in html
    assert provider_sandbox.client.messages("ses-page-bad") == []
