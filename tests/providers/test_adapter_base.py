"""The transport helper every HTTP adapter sends through: answers come back, transport
failures become retryable results."""

import httpx

from apps.providers.adapters.base import (
    SendResult,
    SendStatus,
    post_or_retryable,
    request_timeout,
)


def test_request_timeout_follows_the_timeout_setting_and_caps_connecting_at_3_s():
    assert request_timeout({}) is None
    assert request_timeout({"timeout_s": 0}) is None
    timeout = request_timeout({"timeout_s": "7.5"})
    assert timeout.read == 7.5
    assert timeout.connect == 3.0
    assert request_timeout({"timeout_s": 1}).connect == 1.0


def test_post_or_retryable_returns_the_response_whatever_its_status(provider_sandbox):
    provider_sandbox.client.set_faults("base-500", error_rate=1.0, error_status=503)

    response = post_or_retryable(
        "+14155550100", provider_sandbox.url_for("base-500") + "/anything", settings={}
    )

    assert isinstance(response, httpx.Response)
    assert response.status_code == 503


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
