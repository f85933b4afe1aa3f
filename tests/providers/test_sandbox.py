"""The provider sandbox over real HTTP and SMTP: fault injection per label, recording,
the control API and the client."""

import asyncio
import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import httpx
import pytest

from apps.providers.sandbox.server import create_app, start_http
from apps.providers.sandbox.state import SandboxState
from apps.providers.sandbox.wire import Delivery, Wire, WireReply
from tests.net import free_port


class EchoWire(Wire):
    """A test-only wire format: POST /echo/<id> with JSON {"to", "text"}."""

    kind = "echo"
    routes = [("POST", r"/echo/(?P<id>\w+)")]

    def handle(self, request, match, faults):
        payload = request.json()
        if faults.rejects(payload["to"]):
            return WireReply(status=400, body={"error": f"invalid number {payload['to']}"})
        return WireReply(
            status=201,
            body={"sid": f"E{match['id']}", "auth": request.header("Authorization")},
            deliveries=[
                Delivery(recipient=payload["to"], body=payload["text"], provider_message_id="E1")
            ],
        )


def _email(*, to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "herald@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    return message


def _send_smtp(sandbox, message: EmailMessage, *, username: str | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=10) as smtp:
        if username:
            smtp.login(username, "any-password")
        smtp.send_message(message)


@pytest.mark.slow
def test_a_path_no_wire_answers_is_a_404_naming_the_path(provider_sandbox):
    answer = httpx.post(provider_sandbox.url_for("acme") + "/no/such/api", data={"a": "1"})

    assert answer.status_code == 404
    assert answer.json()["path"] == "/no/such/api"
    assert "POST /no/such/api" in answer.json()["error"]
    assert provider_sandbox.client.messages() == []


@pytest.mark.slow
def test_an_error_rate_of_one_answers_the_injected_status_every_time(provider_sandbox):
    provider_sandbox.client.set_faults("flaky", error_rate=1, error_status=503)

    with httpx.Client() as http:
        answers = [http.post(provider_sandbox.url_for("flaky") + "/send") for _ in range(20)]
        healthy = http.post(provider_sandbox.url_for("steady") + "/send")

    assert {answer.status_code for answer in answers} == {503}
    assert answers[0].json() == {"error": "sandbox injected fault"}
    assert healthy.status_code == 404  # other labels are untouched


@pytest.mark.slow
def test_an_error_rate_of_thirty_percent_fails_about_thirty_percent(provider_sandbox):
    provider_sandbox.client.set_faults("flaky", error_rate=0.3)

    with httpx.Client() as http:
        statuses = [
            http.post(provider_sandbox.url_for("flaky") + "/send").status_code for _ in range(1000)
        ]

    assert set(statuses) == {500, 404}
    assert 250 <= statuses.count(500) <= 350


@pytest.mark.slow
def test_latency_delays_every_answer_of_that_label(provider_sandbox):
    provider_sandbox.client.set_faults("slow", latency_ms=400)

    started = time.monotonic()
    answer = httpx.post(provider_sandbox.url_for("slow") + "/send")
    elapsed = time.monotonic() - started

    assert answer.status_code == 404
    assert elapsed >= 0.4


@pytest.mark.slow
def test_a_timeout_rate_of_one_makes_a_client_time_out_without_blocking_others(
    provider_sandbox,
):
    provider_sandbox.client.set_faults("stuck", timeout_rate=1)

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(provider_sandbox.url_for("stuck") + "/send", timeout=0.5)
    # The hanging request is only a sleeping coroutine: the sandbox still answers.
    assert httpx.post(provider_sandbox.url_for("other") + "/send", timeout=2).status_code == 404


@pytest.mark.slow
def test_faults_are_reset_for_every_label(provider_sandbox):
    provider_sandbox.client.set_faults("flaky", error_rate=1)
    provider_sandbox.client.reset_faults()

    assert httpx.post(provider_sandbox.url_for("flaky") + "/send").status_code == 404
    assert httpx.get(provider_sandbox.base_url + "/_sandbox/faults").json() == {"faults": {}}


@pytest.mark.slow
def test_a_bad_fault_plan_is_refused_naming_the_field(provider_sandbox):
    answer = httpx.put(provider_sandbox.base_url + "/_sandbox/faults/x", json={"error_rate": 2})
    unknown = httpx.put(provider_sandbox.base_url + "/_sandbox/faults/x", json={"bogus": 1})

    assert answer.status_code == 400 and "error_rate" in answer.json()["error"]
    assert unknown.status_code == 400 and "bogus" in unknown.json()["error"]


@pytest.mark.slow
def test_smtp_records_a_message_sent_with_smtplib_under_the_login_as_label(provider_sandbox):
    _send_smtp(
        provider_sandbox,
        _email(to="ana@example.com", subject="Welcome", text="Hello Ana"),
        username="mailer",
    )

    [message] = provider_sandbox.client.messages()
    assert message["label"] == "mailer"
    assert message["kind"] == "smtp"
    assert message["recipient"] == "ana@example.com"
    assert message["subject"] == "Welcome"
    assert message["body"].strip() == "Hello Ana"
    assert message["provider_message_id"]
    assert message["extra"]["from"] == "herald@example.com"


@pytest.mark.slow
def test_smtp_without_auth_records_under_the_smtp_label(provider_sandbox):
    _send_smtp(provider_sandbox, _email(to="bo@example.com", subject="Hi", text="x"))

    assert [m["label"] for m in provider_sandbox.client.messages()] == ["smtp"]


@pytest.mark.slow
def test_smtp_rejects_a_listed_recipient_with_550_and_delivers_the_rest(provider_sandbox):
    provider_sandbox.client.set_faults("mailer", reject_recipients=["bad@example.com"])
    message = _email(to="bad@example.com, good@example.com", subject="Hi", text="x")

    with smtplib.SMTP("127.0.0.1", provider_sandbox.smtp_port, timeout=10) as smtp:
        smtp.login("mailer", "pw")
        refused = smtp.send_message(message)

    assert refused["bad@example.com"][0] == 550
    assert [m["recipient"] for m in provider_sandbox.client.messages()] == ["good@example.com"]


@pytest.mark.slow
def test_smtp_error_rate_answers_451_at_data(provider_sandbox):
    provider_sandbox.client.set_faults("mailer", error_rate=1)

    with smtplib.SMTP("127.0.0.1", provider_sandbox.smtp_port, timeout=10) as smtp:
        smtp.login("mailer", "pw")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.send_message(_email(to="a@example.com", subject="Hi", text="x"))

    assert refused.value.smtp_code == 451
    assert provider_sandbox.client.messages() == []


@pytest.mark.slow
def test_messages_filter_by_label_and_clear_empties_them(provider_sandbox):
    for number, label in enumerate(["alpha", "beta", "alpha"]):
        _send_smtp(
            provider_sandbox,
            _email(to=f"p{number}@example.com", subject=f"S{number}", text="x"),
            username=label,
        )
    client = provider_sandbox.client

    alpha = client.messages(label="alpha")
    assert [m["recipient"] for m in alpha] == ["p2@example.com", "p0@example.com"]
    assert [m["recipient"] for m in client.messages(label="alpha", order="asc")] == [
        "p0@example.com",
        "p2@example.com",
    ]
    assert len(client.messages(limit=1)) == 1
    assert client.counts() == {"alpha": 2, "beta": 1}

    client.clear()

    assert client.messages() == [] and client.counts() == {}


def test_a_wire_answers_in_its_format_and_its_deliveries_are_recorded():
    """The dispatch core with a test-only wire, served over real HTTP in this process."""

    async def scenario():
        state = SandboxState()
        port = free_port()
        runner = await start_http(
            create_app(state=state, wires=[EchoWire()]), host="127.0.0.1", port=port
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/p/echo1") as http:
                sent = await http.post(
                    "/echo/42",
                    json={"to": "+15550001", "text": "hi"},
                    headers={"Authorization": "Basic abc"},
                )
                wrong_method = await http.get("/echo/42")
            return sent, wrong_method, list(state.messages)
        finally:
            await runner.cleanup()

    # A thread of its own: browser tests may leave an event loop running in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        sent, wrong_method, messages = pool.submit(asyncio.run, scenario()).result()

    assert sent.status_code == 201
    assert sent.json() == {"sid": "E42", "auth": "Basic abc"}
    assert wrong_method.status_code == 404
    assert [(m["label"], m["kind"], m["recipient"], m["body"]) for m in messages] == [
        ("echo1", "echo", "+15550001", "hi")
    ]


def test_the_message_log_is_bounded_but_counts_are_not():
    state = SandboxState(max_messages=3)
    for number in range(5):
        state.record(
            label="a",
            kind="echo",
            delivery=Delivery(recipient=str(number), body="", provider_message_id=str(number)),
        )

    assert [m["recipient"] for m in state.list_messages(limit=10)] == ["4", "3", "2"]
    assert state.counts == {"a": 5}
