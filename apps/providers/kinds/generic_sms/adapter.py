"""Generic SMS: an admin-defined HTTP request for an SMS provider Herald has no adapter for.

Settings (all JSON):
- `method` (default "POST"), `url` (placeholders allowed, values URL-encoded),
  `headers` (dict, placeholders allowed), `body_format` "json" (default) or "form"
  (for GET the body fields go into the query string), `body_template` (dict).
- Placeholders: `$$To` (E.164, or digits only with `to_format: "digits"`), `$$Message`,
  `$$TemplateID`, `$$TemplateVariables`, and any custom `$$key`. A JSON string that is
  exactly `$$TemplateVariables` becomes the JSON list of variables; anywhere else (inside a
  longer string, a form field, a header, the URL) the variables are comma-joined.
  Custom keys come from the message's "What" blocks — `body_values` for the body and URL,
  `header_values` for headers, `global_values` for the parts outside a batch — and then
  from the provider's encrypted credentials (so an API key is written `$$api_key` and never
  stored in settings). A placeholder with no value fails the send, naming the key.
- Batching (optional): `batch_key` (e.g. "messages") and `batch_item_template` (dict): one
  item per recipient is rendered from the item template and put as a list under
  `batch_key` in the body (JSON-encoded in a form body); everything outside it is rendered
  once per request from global values, header values and the template id only — so, as the
  spec says, global and header pairs are not personalised when batching. Messages are
  batched together only when they share template id, global and header values;
  `max_batch_size` (default 100) caps a request.
- Success rule: `success_statuses` (default [200, 201, 202]) and optionally
  `success_field` (dotted JSON path) that must equal `success_value` (compared as text).
  `message_id_path` (dotted JSON path, numbers index lists) reads the provider message id.
  For a batch, `batch_results_path` names a list in the answer with one entry per item, in
  order; each entry then gets its own `message_id_path` and, if set, `item_success_field` /
  `item_success_value`. Without it, every item shares the request's outcome and id.
- `timeout_s`: per-request timeout (default: the shared client's 10 s).

Result mapping: timeout, connection error, 5xx, 429, 401/403/407/408, and a template that
cannot be rendered → RETRYABLE (not the recipient's fault: a group moves on to its next
provider). Any other status outside `success_statuses`, a failed success rule, or a failed
batch entry → PERMANENT with the provider's answer as the error text (we cannot tell more
about a provider we only know through its template)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from apps.providers.adapters.base import (
    Adapter,
    SendResult,
    SendStatus,
    SmsMessage,
    post_or_retryable,
)

PLACEHOLDER = re.compile(r"\$\$([A-Za-z][A-Za-z0-9_]*)")
RETRYABLE_STATUSES = frozenset({401, 403, 407, 408, 429})
DEFAULT_SUCCESS_STATUSES = (200, 201, 202)


class TemplateError(ValueError):
    pass


def render_value(template: Any, values: dict[str, Any], *, json_mode: bool) -> Any:
    """Fill placeholders in a template value (str, dict or list, recursively)."""
    if isinstance(template, dict):
        return {
            key: render_value(item, values, json_mode=json_mode) for key, item in template.items()
        }
    if isinstance(template, list):
        return [render_value(item, values, json_mode=json_mode) for item in template]
    if not isinstance(template, str):
        return template
    whole = PLACEHOLDER.fullmatch(template)
    if whole and json_mode:
        return lookup(values, whole[1], as_text=False)
    return render_text(template, values)


def render_text(template: str, values: dict[str, Any], *, quote_values: bool = False) -> str:
    def replace(match: re.Match) -> str:
        text = lookup(values, match[1], as_text=True)
        return quote(text, safe="") if quote_values else text

    return PLACEHOLDER.sub(replace, template)


def lookup(values: dict[str, Any], key: str, *, as_text: bool) -> Any:
    if key not in values:
        raise TemplateError(f"the generic SMS template needs a value for $${key}")
    value = values[key]
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value) if as_text else list(value)
    return str(value) if as_text or not isinstance(value, int | float | bool) else value


def json_path(document: Any, path: str) -> Any:
    """`a.b.0.c` into nested dicts and lists; None when any step is missing."""
    current = document
    for step in path.split("."):
        if isinstance(current, dict) and step in current:
            current = current[step]
        elif (
            isinstance(current, list)
            and step.lstrip("-").isdigit()
            and -len(current) <= int(step) < len(current)
        ):
            current = current[int(step)]
        else:
            return None
    return current


def form_fields(body: dict[str, Any]) -> dict[str, str]:
    return {
        key: json.dumps(value)
        if isinstance(value, dict | list)
        else ("" if value is None else str(value))
        for key, value in body.items()
    }


@dataclass
class RenderedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


class GenericSmsAdapter(Adapter):
    kind = "generic_sms"
    channel = "sms"

    # -- values ------------------------------------------------------------------------
    def builtins(self, message: SmsMessage) -> dict[str, Any]:
        to = message.to
        if self.config.settings.get("to_format") == "digits":
            to = to.lstrip("+")
        return {
            "To": to,
            "Message": message.body,
            "TemplateID": message.template_id,
            "TemplateVariables": list(message.template_variables),
        }

    def credential_values(self) -> dict[str, Any]:
        return {key: value for key, value in self.config.credentials.items() if value is not None}

    def body_values(self, message: SmsMessage) -> dict[str, Any]:
        return {
            **self.credential_values(),
            **message.global_values,
            **message.header_values,
            **message.body_values,
            **self.builtins(message),
        }

    def header_values(self, message: SmsMessage) -> dict[str, Any]:
        return {
            **self.credential_values(),
            **message.global_values,
            **message.body_values,
            **message.header_values,
            **self.builtins(message),
        }

    def batch_values(self, message: SmsMessage) -> dict[str, Any]:
        """Outside the batched key: nothing personal, only what the whole batch shares."""
        return {
            **self.credential_values(),
            **message.header_values,
            **message.global_values,
            "TemplateID": message.template_id,
        }

    # -- rendering ---------------------------------------------------------------------
    def render(self, *, url_values, header_values, body: dict[str, Any]) -> RenderedRequest:
        settings = self.config.settings
        json_mode = settings.get("body_format", "json") == "json"
        return RenderedRequest(
            method=str(settings.get("method", "POST")).upper(),
            url=render_text(str(settings.get("url", "")), url_values, quote_values=True),
            headers={
                str(name): render_text(str(value), header_values)
                for name, value in (settings.get("headers") or {}).items()
            },
            body=render_value(body, url_values, json_mode=json_mode),
        )

    def render_single(self, message: SmsMessage) -> RenderedRequest:
        values = self.body_values(message)
        return self.render(
            url_values=values,
            header_values=self.header_values(message),
            body=self.config.settings.get("body_template") or {},
        )

    def render_batch(self, batch: list[SmsMessage]) -> RenderedRequest:
        settings = self.config.settings
        json_mode = settings.get("body_format", "json") == "json"
        shared = self.batch_values(batch[0])
        items = [
            render_value(
                settings.get("batch_item_template") or {}, self.body_values(m), json_mode=json_mode
            )
            for m in batch
        ]
        rendered = self.render(
            url_values=shared,
            header_values=shared,
            body=settings.get("body_template") or {},
        )
        rendered.body[settings["batch_key"]] = items
        return rendered

    # -- sending -----------------------------------------------------------------------
    def send(self, messages: list[SmsMessage]) -> list[SendResult]:
        if not self.config.settings.get("batch_key"):
            return [self.send_single(message) for message in messages]
        results: dict[int, SendResult] = {}
        for positions in self.batches(messages):
            batch = [messages[position] for position in positions]
            for position, result in zip(positions, self.send_batch(batch), strict=True):
                results[position] = result
        return [results[position] for position in range(len(messages))]

    def batches(self, messages: list[SmsMessage]) -> list[list[int]]:
        size = max(1, int(self.config.settings.get("max_batch_size") or 100))
        groups: dict[tuple, list[int]] = {}
        for position, message in enumerate(messages):
            shared = (
                message.template_id,
                tuple(sorted(message.global_values.items())),
                tuple(sorted(message.header_values.items())),
            )
            groups.setdefault(shared, []).append(position)
        return [
            positions[start : start + size]
            for positions in groups.values()
            for start in range(0, len(positions), size)
        ]

    def send_single(self, message: SmsMessage) -> SendResult:
        try:
            rendered = self.render_single(message)
        except TemplateError as error:
            return SendResult(message.to, SendStatus.RETRYABLE, error=str(error))
        outcome = self.call(rendered)
        if isinstance(outcome, SendResult):
            return SendResult(
                message.to, outcome.status, error=outcome.error, http_status=outcome.http_status
            )
        response, answer = outcome
        return self.request_result(message.to, response, answer)

    def send_batch(self, batch: list[SmsMessage]) -> list[SendResult]:
        try:
            rendered = self.render_batch(batch)
        except TemplateError as error:
            return [SendResult(m.to, SendStatus.RETRYABLE, error=str(error)) for m in batch]
        outcome = self.call(rendered)
        if isinstance(outcome, SendResult):
            return [
                SendResult(
                    m.to, outcome.status, error=outcome.error, http_status=outcome.http_status
                )
                for m in batch
            ]
        response, answer = outcome
        request_level = [self.request_result(m.to, response, answer) for m in batch]
        results_path = self.config.settings.get("batch_results_path")
        if not results_path or not request_level[0].accepted:
            return request_level
        entries = json_path(answer, results_path)
        if not isinstance(entries, list) or len(entries) != len(batch):
            error = f"expected {len(batch)} entries at {results_path!r}: {response.text[:500]}"
            return [
                SendResult(
                    m.to, SendStatus.PERMANENT, error=error, http_status=response.status_code
                )
                for m in batch
            ]
        return [
            self.entry_result(message.to, entry, response.status_code)
            for message, entry in zip(batch, entries, strict=True)
        ]

    def call(self, rendered: RenderedRequest) -> SendResult | tuple[httpx.Response, Any]:
        settings = self.config.settings
        options: dict[str, Any] = {"headers": rendered.headers}
        if rendered.method in ("GET", "DELETE", "HEAD"):
            options["params"] = form_fields(rendered.body)
        elif settings.get("body_format", "json") == "form":
            options["data"] = form_fields(rendered.body)
        else:
            options["json"] = rendered.body
        # The recipient is filled in by the caller: a batched request has several.
        response = post_or_retryable(
            "", rendered.url, settings=settings, method=rendered.method, **options
        )
        if isinstance(response, SendResult):
            return response
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return response, answer

    def request_result(self, recipient: str, response: httpx.Response, answer: Any) -> SendResult:
        settings = self.config.settings
        status = response.status_code
        text = response.text[:500] or f"HTTP {status}"
        expected = {
            int(code) for code in settings.get("success_statuses") or DEFAULT_SUCCESS_STATUSES
        }
        if status not in expected:
            retryable = status >= 500 or status in RETRYABLE_STATUSES
            return SendResult(
                recipient,
                SendStatus.RETRYABLE if retryable else SendStatus.PERMANENT,
                error=f"HTTP {status}: {text}",
                http_status=status,
            )
        field = settings.get("success_field")
        if field:
            found = json_path(answer, field)
            expected_value = str(settings.get("success_value", ""))
            if found is None or str(found) != expected_value:
                return SendResult(
                    recipient,
                    SendStatus.PERMANENT,
                    error=f"success rule {field} == {expected_value!r} failed: {text}",
                    http_status=status,
                )
        return SendResult(
            recipient,
            SendStatus.ACCEPTED,
            provider_message_id=self.message_id(answer),
            http_status=status,
        )

    def entry_result(self, recipient: str, entry: Any, status: int) -> SendResult:
        settings = self.config.settings
        field = settings.get("item_success_field")
        if field:
            found = json_path(entry, field)
            if found is None or str(found) != str(settings.get("item_success_value", "")):
                return SendResult(
                    recipient,
                    SendStatus.PERMANENT,
                    error=json.dumps(entry)[:500],
                    http_status=status,
                )
        return SendResult(
            recipient,
            SendStatus.ACCEPTED,
            provider_message_id=self.message_id(entry),
            http_status=status,
        )

    def message_id(self, document: Any) -> str:
        path = self.config.settings.get("message_id_path")
        found = json_path(document, path) if path else None
        return "" if found is None else str(found)
