"""Generic SMS: the admin's request template rendered and sent to the sandbox over HTTP."""

import pytest

from apps.providers.adapters.base import ProviderConfig, SendStatus, SmsMessage
from apps.providers.kinds import adapter_for

pytestmark = pytest.mark.slow


def generic(provider_sandbox, label, *, credentials=None, **settings):
    return adapter_for(
        ProviderConfig(
            kind="generic_sms",
            nickname=label,
            base_url=provider_sandbox.url_for(label),
            credentials=credentials or {"api_key": "k-123"},
            settings={"url": provider_sandbox.url_for(label) + "/generic/send", **settings},
        )
    )


def requests_for(provider_sandbox, label):
    return provider_sandbox.client.health()["requests"].get(label, 0)


@pytest.fixture
def sandbox(provider_sandbox):
    return provider_sandbox  # emptied and without faults for each test


def test_generic_fills_placeholders_in_url_headers_and_json_body(sandbox):
    adapter = generic(
        sandbox,
        "gen-json",
        url=sandbox.url_for("gen-json") + "/generic/$$account/send?campaign=$$campaign",
        headers={"Authorization": "Bearer $$api_key", "X-Sender": "$$sender"},
        body_template={
            "to": "$$To",
            "text": "$$Message",
            "template": "$$TemplateID",
            "variables": "$$TemplateVariables",
            "joined": "vars=$$TemplateVariables",
            "brand": "$$brand",
            "fixed": 7,
        },
        success_field="status",
        success_value="ok",
        message_id_path="id",
    )
    message = SmsMessage(
        to="+919812345678",
        body="Your code is 1234",
        template_id="1107161234",
        template_variables=["Asha", "20"],
        body_values={"brand": "Herald", "campaign": "spring sale"},
        header_values={"sender": "HERALD"},
        global_values={"account": "acme"},
    )

    [result] = adapter.send([message])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("gen-json")
    assert received["provider_message_id"] == result.provider_message_id
    assert received["recipient"] == "+919812345678"
    assert received["body"] == "Your code is 1234"
    extra = received["extra"]
    assert extra["method"] == "POST"
    assert extra["path"] == "/generic/acme/send"
    assert extra["query"] == {"campaign": "spring sale"}
    assert extra["headers"]["authorization"] == "Bearer k-123"
    assert extra["headers"]["x-sender"] == "HERALD"
    assert extra["body"] == {
        "campaign": "spring sale",  # the query string, merged in by the sandbox's record
        "to": "+919812345678",
        "text": "Your code is 1234",
        "template": "1107161234",
        "variables": ["Asha", "20"],
        "joined": "vars=Asha,20",
        "brand": "Herald",
        "fixed": 7,
    }


def test_generic_form_body_joins_template_variables_with_commas(sandbox):
    adapter = generic(
        sandbox,
        "gen-form",
        body_format="form",
        to_format="digits",
        body_template={"mobile": "$$To", "msg": "$$Message", "vars": "$$TemplateVariables"},
    )

    [result] = adapter.send(
        [SmsMessage(to="+919812345678", body="Hi ✓", template_variables=["a", "b"])]
    )

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("gen-form")
    assert received["extra"]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert received["extra"]["body"] == {"mobile": "919812345678", "msg": "Hi ✓", "vars": "a,b"}


def test_generic_get_request_sends_the_fields_in_the_query_string(sandbox):
    adapter = generic(
        sandbox,
        "gen-get",
        method="GET",
        body_template={"phone": "$$To", "text": "$$Message", "key": "$$api_key"},
    )

    [result] = adapter.send([SmsMessage(to="+14155550100", body="Olá 👋")])

    assert result.status is SendStatus.ACCEPTED
    [received] = sandbox.client.messages("gen-get")
    assert received["extra"]["method"] == "GET"
    assert received["extra"]["query"] == {"phone": "+14155550100", "text": "Olá 👋", "key": "k-123"}
    assert received["body"] == "Olá 👋"


def test_generic_batching_sends_many_recipients_in_one_request(sandbox):
    adapter = generic(
        sandbox,
        "gen-batch",
        headers={"X-Campaign": "$$campaign"},
        body_template={"sender": "$$sender", "template_id": "$$TemplateID"},
        batch_key="messages",
        batch_item_template={"to": "$$To", "text": "$$Message", "name": "$$name"},
        batch_results_path="results",
        message_id_path="id",
        item_success_field="status",
        item_success_value="ok",
    )
    names = {"+14155550101": "Ann", "+14155550102": "Bob", "+14155550103": "Cyd"}
    messages = [
        SmsMessage(
            to=number,
            body=f"Hi {name}",
            template_id="T1",
            body_values={"name": name},
            header_values={"campaign": "c-9"},
            global_values={"sender": "HERALD"},
        )
        for number, name in names.items()
    ]

    results = adapter.send(messages)

    assert [r.status for r in results] == [SendStatus.ACCEPTED] * 3
    assert requests_for(sandbox, "gen-batch") == 1
    received = sandbox.client.messages("gen-batch", order="asc")
    assert [m["recipient"] for m in received] == list(names)
    assert [m["provider_message_id"] for m in received] == [r.provider_message_id for r in results]
    body = received[0]["extra"]["body"]
    assert body["sender"] == "HERALD"
    assert body["template_id"] == "T1"
    assert body["messages"] == [
        {"to": number, "text": f"Hi {name}", "name": name} for number, name in names.items()
    ]
    assert received[0]["extra"]["headers"]["x-campaign"] == "c-9"
    assert all(m["extra"]["batch_size"] == 3 for m in received)


def test_generic_batch_reports_a_rejected_entry_as_permanent_and_the_rest_accepted(sandbox):
    sandbox.client.set_faults("gen-batch-reject", reject_recipients=["+14155550102"])
    adapter = generic(
        sandbox,
        "gen-batch-reject",
        batch_key="messages",
        batch_item_template={"to": "$$To", "text": "$$Message"},
        batch_results_path="results",
        message_id_path="id",
        item_success_field="status",
        item_success_value="ok",
    )
    numbers = ["+14155550101", "+14155550102", "+14155550103"]

    results = adapter.send([SmsMessage(to=n, body="Hi") for n in numbers])

    assert [r.status for r in results] == [
        SendStatus.ACCEPTED,
        SendStatus.PERMANENT,
        SendStatus.ACCEPTED,
    ]
    assert "invalid number +14155550102" in results[1].error
    assert requests_for(sandbox, "gen-batch-reject") == 1


def test_generic_batches_respect_the_size_cap_and_split_by_global_values(sandbox):
    adapter = generic(
        sandbox,
        "gen-split",
        body_format="form",
        body_template={"sender": "$$sender"},
        batch_key="messages",
        batch_item_template={"mobile": "$$To", "message": "$$Message"},
        max_batch_size=2,
    )
    messages = [
        SmsMessage(to=f"+1415555010{i}", body=f"m{i}", global_values={"sender": sender})
        for i, sender in enumerate(["A", "A", "A", "B", "B"])
    ]

    results = adapter.send(messages)

    assert [r.recipient for r in results] == [m.to for m in messages]
    assert all(r.status is SendStatus.ACCEPTED for r in results)
    assert requests_for(sandbox, "gen-split") == 3  # A and A, A, B and B
    received = sandbox.client.messages("gen-split")
    senders = {m["recipient"]: m["extra"]["body"]["sender"] for m in received}
    assert senders == {m.to: m.global_values["sender"] for m in messages}


def test_generic_failed_success_rule_is_a_permanent_failure_with_the_answer(sandbox):
    adapter = generic(
        sandbox,
        "gen-rule",
        body_template={"to": "$$To", "text": "$$Message"},
        success_field="status",
        success_value="sent",
    )

    [result] = adapter.send([SmsMessage(to="+14155550100", body="Hi")])

    assert result.status is SendStatus.PERMANENT
    assert result.error.startswith("success rule status == 'sent' failed:")
    assert '"status": "ok"' in result.error


def test_generic_rejected_recipient_is_permanent_with_the_providers_text(sandbox):
    sandbox.client.set_faults("gen-reject", reject_recipients=["+14155550100"])
    adapter = generic(sandbox, "gen-reject", body_template={"to": "$$To", "text": "$$Message"})

    [result] = adapter.send([SmsMessage(to="+14155550100", body="Hi")])

    assert result.status is SendStatus.PERMANENT
    assert result.http_status == 400
    assert "invalid number +14155550100" in result.error


def test_generic_missing_placeholder_value_fails_without_a_request_naming_the_key(sandbox):
    adapter = generic(sandbox, "gen-missing", body_template={"to": "$$To", "coupon": "$$coupon"})

    [result] = adapter.send([SmsMessage(to="+14155550100", body="Hi")])

    assert result.status is SendStatus.RETRYABLE
    assert result.error == "the generic SMS template needs a value for $$coupon"
    assert requests_for(sandbox, "gen-missing") == 0


def test_generic_injected_5xx_fails_a_whole_batch_as_retryable(sandbox):
    sandbox.client.set_faults("gen-5xx", error_rate=1.0, error_status=502)
    adapter = generic(
        sandbox,
        "gen-5xx",
        batch_key="messages",
        batch_item_template={"to": "$$To", "text": "$$Message"},
    )

    results = adapter.send([SmsMessage(to=f"+1415555010{i}", body="Hi") for i in range(3)])

    assert [(r.status, r.http_status) for r in results] == [(SendStatus.RETRYABLE, 502)] * 3
    assert sandbox.client.messages("gen-5xx") == []


def test_generic_timeout_is_retryable(sandbox):
    sandbox.client.set_faults("gen-slow", timeout_rate=1.0)
    adapter = generic(sandbox, "gen-slow", timeout_s=0.3, body_template={"to": "$$To"})

    [result] = adapter.send([SmsMessage(to="+14155550100", body="Hi")])

    assert result.status is SendStatus.RETRYABLE
    assert result.error.startswith("timeout")
