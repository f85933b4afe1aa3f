"""Rendering a message's Liquid fields for one recipient: every Liquid text of a push, SMS or
email message found and compiled once, then rendered per recipient (email HTML in the HTML
environment, so profile values are escaped). Used by the delivery engine's batches, the test
send, the previews and the readiness floor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .personalization import (
    PersonalizationError,
    render_namespaces,
    template_compile,
    template_render,
)


class MessageInvalid(Exception):
    """A message that cannot be saved or rendered; `.errors` maps a field path (the step
    form's field name, e.g. "variant-1-body") to a message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{key}: {value}" for key, value in self.errors.items()))


def _liquid_paths(channel: str, message: Mapping[str, Any]) -> list[tuple[tuple, bool]]:
    """(path into the message, is HTML) for every Liquid text of `message`."""
    if channel == "push":
        paths: list[tuple[tuple, bool]] = [
            ((key,), False)
            for key in (
                "title",
                "subtitle",
                "body",
                "image_url",
                "ios_media_url",
                "deep_link",
                "external_url",
            )
        ]
        for index, _ in enumerate(_list(message.get("carousel"))):
            paths += [(("carousel", index, key), False) for key in ("image_url", "caption", "link")]
        for index, _ in enumerate(_list(message.get("buttons"))):
            paths += [(("buttons", index, key), False) for key in ("label", "link")]
        return paths
    if channel == "sms":
        paths = [(("body",), False)]
        for list_key in ("template_variables", "key_values"):
            paths += [
                ((list_key, index, "value"), False)
                for index, _ in enumerate(_list(message.get(list_key)))
            ]
        return paths
    if channel == "email":
        return [
            (("subject",), False),
            (("sender_name",), False),
            (("preheader",), False),
            (("html",), True),
            (("text",), False),
        ]
    return []


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _path_name(path: tuple) -> str:
    return "-".join(str(step) for step in path)


def render_message(channel: str, message: dict, profile, *, event=None) -> dict[str, object]:
    """The message with every Liquid text rendered for `profile` (email HTML with the HTML
    environment, so profile values are escaped). Raises MessageInvalid naming each field
    whose template cannot be used ("body": "Line 2: …")."""
    return MessageRenderer(channel, message).render(profile, event=event)


def _copy(value: Any) -> Any:
    """A copy of a JSON-like message (dicts and lists copied, leaves shared): what
    copy.deepcopy gives for these documents, without its memo bookkeeping per recipient."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _first_error(error: PersonalizationError) -> str:
    first = error.errors[0]
    return f"Line {first.line}: {first.message}"


class MessageRenderer:
    """One message's Liquid fields found and compiled once, then rendered per recipient: a
    send batch renders a thousand recipients with one compile and, per recipient, one set of
    namespaces for all of its fields. A text without Liquid markup is its own rendering."""

    def __init__(self, channel: str, message: Mapping[str, Any] | None) -> None:
        self.message = _copy(dict(message or {}))
        self.fields: list[tuple[tuple, Any, str, bool]] = []  # (path, template, source, html)
        self.errors: dict[str, str] = {}
        for path, html in _liquid_paths(channel, self.message):
            holder = self._holder(self.message, path)
            source = holder.get(path[-1]) if holder is not None else None
            if not isinstance(source, str) or "{" not in source:
                continue
            try:
                template = template_compile(source, html=html)
            except PersonalizationError as error:
                self.errors[_path_name(path)] = _first_error(error)
                continue
            self.fields.append((path, template, source, html))

    @staticmethod
    def _holder(message: Any, path: tuple) -> Mapping | None:
        holder = message
        for step in path[:-1]:
            holder = holder[step]
        return holder if isinstance(holder, Mapping) else None

    def render(self, profile, *, event=None) -> dict[str, object]:
        if self.errors:
            raise MessageInvalid(dict(self.errors))
        rendered = _copy(self.message)
        if not self.fields:
            return rendered
        namespaces = render_namespaces(profile, event=event)
        errors: dict[str, str] = {}
        for path, template, source, html in self.fields:
            holder = self._holder(rendered, path)
            try:
                holder[path[-1]] = template_render(template, namespaces, source, html=html)
            except PersonalizationError as error:
                errors[_path_name(path)] = _first_error(error)
        if errors:
            raise MessageInvalid(errors)
        return rendered
