"""The transport helper every HTTP adapter sends through: answers come back, transport
failures become retryable results."""

import multiprocessing

import httpx
import pytest

from apps.providers.adapters.base import (
    ProviderRequest,
    SendResult,
    SendStatus,
    post_each_or_retryable,
    post_or_retryable,
    request_timeout,
)
from apps.providers.http import (
    PROVIDER_HTTP_CLIENTS,
    WireResponse,
    basic_auth_header,
    http_client,
    send_concurrently,
    wire_request,
)


def test_request_timeout_follows_the_timeout_setting_and_caps_connecting_at_3_s():
    assert request_timeout({}) is None
    assert request_timeout({"timeout_s": 0}) is None
    timeout = request_timeout({"timeout_s": "7.5"})
    assert timeout.read == 7.5
    assert timeout.connect == 3.0
    assert request_timeout({"timeout_s": 1}).connect == 1.0


@pytest.mark.slow
def test_post_or_retryable_returns_the_response_whatever_its_status(provider_sandbox):
    provider_sandbox.client.set_faults("base-500", error_rate=1.0, error_status=503)

    response = post_or_retryable(
        "+14155550100", provider_sandbox.url_for("base-500") + "/anything", settings={}
    )

    assert isinstance(response, httpx.Response)
    assert response.status_code == 503


@pytest.mark.slow
def test_post_or_retryable_turns_a_timeout_into_a_retryable_result(provider_sandbox):
    provider_sandbox.client.set_faults("base-slow", timeout_rate=1.0)

    result = post_or_retryable(
        "+14155550100", provider_sandbox.url_for("base-slow") + "/x", settings={"timeout_s": 0.3}
    )

    assert isinstance(result, SendResult)
    assert result.recipient == "+14155550100"
    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout: ")


def test_post_or_retryable_turns_a_refused_connection_into_a_retryable_result():
    result = post_or_retryable("user@example.com", "http://127.0.0.1:9/p/down/x", settings={})

    assert isinstance(result, SendResult)
    assert result.recipient == "user@example.com"
    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("connection error: ")


def _twilio_request(sandbox, label: str, to: str, body: str = "Hi") -> ProviderRequest:
    url = sandbox.url_for(label) + "/2010-04-01/Accounts/ACbase/Messages.json"
    form = {"To": to, "Body": body, "From": "+15005550006"}
    return ProviderRequest(to, url, {"data": form, "auth": ("ACbase", "token")})


@pytest.mark.slow
def test_a_batch_comes_back_in_order_with_each_requests_own_outcome(provider_sandbox):
    provider_sandbox.client.set_faults("base-down", error_rate=1.0, error_status=503)
    provider_sandbox.client.set_faults("base-hang", timeout_rate=1.0)
    requests = [
        _twilio_request(provider_sandbox, "base-ok", "+14155550001"),
        _twilio_request(provider_sandbox, "base-down", "+14155550002"),
        ProviderRequest("+14155550003", "http://127.0.0.1:9/p/refused/x", {"data": {"a": "b"}}),
        _twilio_request(provider_sandbox, "base-hang", "+14155550004"),
        _twilio_request(provider_sandbox, "base-ok", "+14155550005"),
    ]

    answers = post_each_or_retryable(requests, settings={"timeout_s": 0.5})

    assert [isinstance(answer, SendResult) for answer in answers] == [
        False,
        False,
        True,
        True,
        False,
    ]
    assert [answers[0].status_code, answers[1].status_code, answers[4].status_code] == [
        201,
        503,
        201,
    ]
    assert answers[0].json()["to"] == "+14155550001"
    assert answers[4].json()["to"] == "+14155550005"
    assert answers[2].recipient == "+14155550003"
    assert answers[2].error.startswith("connection error: ")
    assert answers[3].recipient == "+14155550004"
    assert answers[3].error.startswith("timeout: ")
    recorded = provider_sandbox.client.messages("base-ok")
    assert sorted(m["recipient"] for m in recorded) == ["+14155550001", "+14155550005"]


@pytest.mark.slow
def test_aiohttp_and_httpx_send_the_same_request(provider_sandbox, settings):
    received = {}
    for client in PROVIDER_HTTP_CLIENTS:
        settings.HERALD_PROVIDER_HTTP_CLIENT = client
        label = f"base-{client}"
        request = _twilio_request(provider_sandbox, label, "+14155550100", "Grüße & 100% ✓")

        [answer] = post_each_or_retryable([request], settings={})

        assert answer.status_code == 201
        [message] = provider_sandbox.client.messages(label)
        received[client] = (message["body"], message["extra"])

    assert received["aiohttp"] == received["httpx"]
    body, extra = received["aiohttp"]
    assert body == "Grüße & 100% ✓"
    assert extra["auth_user"] == "ACbase"


@pytest.mark.parametrize(
    "options",
    [
        {"json": {"message": {"token": "t", "title": "Grüße ✓", "n": 3, "ok": True}}},
        {"data": {"To": "+14155550100", "Body": "a & b = 100% é", "Tag": ["x", "y"], "On": True}},
        {"content": "plain text body", "headers": {"Content-Type": "text/plain"}},
        {"json": {"a": 1}, "headers": {"Authorization": "Bearer abc", "User-Agent": "Herald"}},
    ],
    ids=["json", "form", "content", "headers-override"],
)
def test_a_wire_request_is_byte_for_byte_what_httpx_builds(options):
    url = "http://127.0.0.1:9/v1/projects/p/messages:send"
    built = http_client().build_request("POST", url, **options)

    wire = wire_request("POST", url, options)

    assert wire is not None
    assert (wire.method, wire.url, wire.body) == ("POST", str(built.url), built.content)
    assert {name.lower(): value for name, value in wire.headers} == dict(
        (name.lower(), value) for name, value in built.headers.multi_items() if name != "host"
    )


def test_options_a_wire_request_cannot_carry_are_left_to_httpx():
    assert wire_request("GET", "http://127.0.0.1:9/", {"params": {"q": "1"}}) is None


@pytest.mark.parametrize("encoding", ["", "gzip", "deflate"])
def test_a_wire_response_reads_as_the_httpx_response_of_the_same_bytes(encoding):
    import gzip
    import zlib

    body = '{"name": "projects/p/messages/1", "note": "Grüße"}'.encode()
    wire_body = {"": body, "gzip": gzip.compress(body), "deflate": zlib.compress(body)}[encoding]
    raw = [(b"Content-Type", b"application/json; charset=utf-8")]
    if encoding:
        raw.append((b"Content-Encoding", encoding.encode()))

    wire = WireResponse(404, raw, wire_body)
    reference = httpx.Response(404, headers=raw, content=wire_body)

    assert (wire.status_code, wire.reason_phrase) == (404, "Not Found")
    assert wire.content == reference.content == body
    assert wire.text == reference.text
    assert wire.json() == reference.json()
    assert wire.headers["content-type"] == "application/json; charset=utf-8"


def test_basic_auth_header_is_what_httpx_sends():
    request = httpx.Request("GET", "http://example.test/")
    flow = httpx.BasicAuth("AC123", "sécret").auth_flow(request)

    assert basic_auth_header("AC123", "sécret") == next(flow).headers["Authorization"]


def _send_in_child(url: str, answers) -> None:
    [response] = send_concurrently([httpx.Request("GET", url)])
    answers.put(response.status_code if isinstance(response, httpx.Response) else repr(response))


@pytest.mark.slow
def test_a_forked_process_gets_its_own_aiohttp_session(provider_sandbox):
    url = provider_sandbox.base_url + "/_sandbox/health"
    [parent_answer] = send_concurrently([httpx.Request("GET", url)])
    context = multiprocessing.get_context("fork")
    answers = context.Queue()

    child = context.Process(target=_send_in_child, args=(url, answers))
    child.start()
    child.join(timeout=30)

    assert parent_answer.status_code == 200
    assert answers.get(timeout=5) == 200
    assert child.exitcode == 0
    # The parent still gets answers: the child did not take its connections with it.
    [again] = send_concurrently([httpx.Request("GET", url)], timeout=httpx.Timeout(2.0))
    assert isinstance(again, httpx.Response), again
    assert again.status_code == 200


def test_an_unknown_provider_http_client_is_refused_by_name(settings):
    settings.HERALD_PROVIDER_HTTP_CLIENT = "urllib"

    with pytest.raises(ValueError, match="HERALD_PROVIDER_HTTP_CLIENT"):
        post_each_or_retryable([], settings={})
