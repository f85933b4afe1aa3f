"""A campaign's content (the wizard's What step): validation, rendering, problems, summary.

`campaign.content` is the document the delivery engine (apps/delivery) reads:
{"mode", "variants": [{"key", "name", "match", "message"}], "ab", "multi", "template_id"}.
Every message is stored with all of its channel's keys (blank when unused), so readers never
guess defaults.

Error keys are the step form's field names ("variant-1-body", "ab-size", "goal-window",
"carousel-0-link" inside one message), so the page can put each message beside its field
and `problems()` can name the variant.

Decisions where the spec is silent:
- Lengths: push title/subtitle 200, push body and SMS body 2,000 (the template library's
  bound), email subject and preheader 500, HTML 500,000 and text 100,000 (the library's).
- A/B: 2-3 variants (the spec's "up to 3"); for a live campaign the test is always a number
  of messages ("test audience size"), never a percentage, since its reach is unknown. The
  winner metric "conversions" needs a conversion goal. window_hours (1-168) is how long after
  the test messages go out the winner is picked.
- Multi-message: up to 10 variants (keys A-J); every variant but the fallback needs a match
  value, match values are distinct ignoring case and spaces round them; the fallback gets
  everyone whose property matches no variant (it may have a match value of its own).
- URLs: media (image, iOS media, carousel images) must be http(s); links (deep link, buttons,
  carousel links) may be http(s) or an app deep link (scheme://…); the external URL must be
  http(s). A URL with Liquid is checked as rendered with no profile values; one that is only
  Liquid (the whole URL comes from the profile) is accepted once it compiles.
- SMS key-value pairs are the generic provider's custom `$$key`s (the adapter's placeholder
  syntax, so keys are letters, digits and _). Template variables are sent in order; the key
  is an optional label for the marketer.
- Push custom key-values are fixed text (not Liquid), like the template library's.
- The conversion goal is {"event", "filters", "window"}: filters are segments-format property
  conditions ({"name", "operator", "value"}), window "<n>D" (1-30 days) or "<n>H" (1-720
  hours); None when no event is chosen.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from apps.message_templates.personalization import (
    PersonalizationError,
    message_render,
    render_namespaces,
    template_compile,
    template_render,
)
from apps.message_templates.services import liquid_error_message
from apps.providers.kinds.generic_sms.adapter import PLACEHOLDER as GENERIC_PLACEHOLDER
from apps.providers.models import Channel
from apps.providers.routing import route_for, route_providers
from apps.segments import definitions as segment_definitions

MODES = ("single", "ab", "multi")
MODE_LABELS = {"single": "Single message", "ab": "A/B test", "multi": "Multi-message"}
VARIANT_KEYS = "ABCDEFGHIJ"
AB_MIN_VARIANTS, AB_MAX_VARIANTS = 2, 3
MULTI_MAX_VARIANTS = len(VARIANT_KEYS)
SIZE_KINDS = ("percent", "count")
AB_METRICS = ("clicks", "opens", "conversions")
AB_COUNT_MAX = 10_000_000
AB_WINDOW_MAX_HOURS = 168
AB_DEFAULTS = {"size_kind": "percent", "size": 20, "metric": "clicks", "window_hours": 4}
ANDROID_PRIORITIES = ("default", "high", "max")
PUSH_PLATFORMS = ("android", "ios", "web")
CAROUSEL_MAX = 5
BUTTONS_MAX = 3
PAIRS_MAX = 20
CUSTOM_KV_MAX = 50
BADGE_MAX = 1_000_000
NAME_MAX = 60
MATCH_MAX = 200
PROPERTY_MAX = 200
GOAL_WINDOW_MAX = {"D": 30, "H": 720}
GOAL_FILTERS_MAX = 5

LIMITS: dict[str, int] = {
    "title": 200,
    "subtitle": 200,
    "body": 2_000,
    "url": 2_000,
    "short": 200,
    "label": 50,
    "caption": 200,
    "template_id": 64,
    "pair": 500,
    "subject": 500,
    "sender_name": 200,
    "preheader": 500,
    "html": 500_000,
    "text": 100_000,
}

# Every key of a stored message, with its blank value.
BLANK_MESSAGES: dict[str, dict[str, Any]] = {
    Channel.PUSH: {
        "title": "",
        "subtitle": "",
        "body": "",
        "image_url": "",
        "ios_media_url": "",
        "carousel": [],
        "sound": "",
        "badge": None,
        "category": "",
        "deep_link": "",
        "external_url": "",
        "mutable_content": False,
        "content_available": False,
        "collapse_key": "",
        "android_priority": "default",
        "android_channel_id": "",
        "buttons": [],
        "custom_kv": {"android": {}, "ios": {}, "web": {}},
    },
    Channel.SMS: {"body": "", "template_id": "", "template_variables": [], "key_values": []},
    Channel.EMAIL: {"subject": "", "sender_name": "", "preheader": "", "html": "", "text": ""},
}
# Labels for problems() sentences and the summary.
FIELD_LABELS = {
    "title": "Title",
    "subtitle": "Subtitle",
    "body": "Message",
    "image_url": "Image URL",
    "ios_media_url": "iOS media URL",
    "sound": "Sound",
    "badge": "Badge count",
    "category": "Category",
    "deep_link": "Deep link",
    "external_url": "External URL",
    "collapse_key": "Collapse key",
    "android_priority": "Android priority",
    "android_channel_id": "Android channel ID",
    "template_id": "Template ID",
    "subject": "Subject",
    "sender_name": "Sender name",
    "preheader": "Preheader",
    "html": "HTML body",
    "text": "Plain-text body",
    "carousel": "Carousel",
    "buttons": "Buttons",
    "custom_kv": "Custom key-value pairs",
    "template_variables": "Template variables",
    "key_values": "Key-value pairs",
}

_HTTP_URL = URLValidator(schemes=["http", "https"])
_DEEP_LINK = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
# Schemes that would run code or smuggle content if a client opened them.
_UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file"})
_PAIR_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_GOAL_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([DH])$")
_LIQUID_MARK = re.compile(r"{{|{%")
# Placeholders the generic adapter fills itself (apps/providers/kinds/generic_sms/adapter.py).
GENERIC_BUILTINS = frozenset({"To", "Message", "TemplateID", "TemplateVariables"})


class ContentInvalid(Exception):
    """Content that cannot be saved or rendered; `.errors` maps a field path (the step
    form's field name, e.g. "variant-1-body") to a message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{key}: {value}" for key, value in self.errors.items()))


# --- reading -------------------------------------------------------------------------------


def campaign_variants(campaign) -> list[dict]:
    """The variants as stored ([] when the campaign has no content yet)."""
    content = campaign.content if isinstance(campaign.content, Mapping) else {}
    variants = content.get("variants")
    if not isinstance(variants, list):
        return []
    return [variant for variant in variants if isinstance(variant, Mapping)]


def blank_message(channel: str) -> dict[str, Any]:
    return copy.deepcopy(BLANK_MESSAGES.get(channel, {}))


def blank_content(channel: str) -> dict[str, Any]:
    return {
        "mode": "single",
        "variants": [
            {"key": "A", "name": "Variant A", "match": "", "message": blank_message(channel)}
        ],
        "ab": dict(AB_DEFAULTS),
        "multi": {"property": "", "fallback": "A"},
        "template_id": None,
    }


# --- rendering -----------------------------------------------------------------------------


def _liquid_paths(channel: str, message: Mapping[str, Any]) -> list[tuple[tuple, bool]]:
    """(path into the message, is HTML) for every Liquid text of `message`."""
    if channel == Channel.PUSH:
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
    if channel == Channel.SMS:
        paths = [(("body",), False)]
        for list_key in ("template_variables", "key_values"):
            paths += [
                ((list_key, index, "value"), False)
                for index, _ in enumerate(_list(message.get(list_key)))
            ]
        return paths
    if channel == Channel.EMAIL:
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
    environment, so profile values are escaped). Raises ContentInvalid naming each field
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
            raise ContentInvalid(dict(self.errors))
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
            raise ContentInvalid(errors)
        return rendered


# --- validation ----------------------------------------------------------------------------


class _Errors(dict):
    """Errors of one message or one content document, keyed by field name."""

    def add(self, key: str, message: str) -> None:
        self.setdefault(key, message)


def _text(
    value: Any,
    key: str,
    errors: _Errors,
    *,
    limit: int,
    required: bool = False,
    liquid: bool = False,
    html: bool = False,
) -> str:
    if value is None:
        value = ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.add(key, "Must be text.")
        return ""
    # A browser textarea sends \r\n; SMS counts and Liquid line numbers want \n.
    value = value.replace("\r\n", "\n")
    if "\x00" in value:
        errors.add(key, "Remove the NUL character.")
        return value
    if len(value) > limit:
        errors.add(key, f"At most {limit:,} characters (this has {len(value):,}).")
        return value
    if required and not value.strip():
        errors.add(key, "This field is required.")
        return value
    if liquid and value and (message := liquid_error_message(value, html=html)):
        errors.add(key, message)
    return value


def _as_rendered_for_check(value: str) -> str | None:
    """The URL to validate: as typed, or for a Liquid URL as rendered with no values (None
    when it is all Liquid, so nothing can be checked before send time)."""
    if not _LIQUID_MARK.search(value):
        return value
    try:
        rendered = message_render(value, profile=None).strip()
    except PersonalizationError:
        return None  # the Liquid error is already reported
    return rendered or None


def _url(value: Any, key: str, errors: _Errors, *, deep_links: bool, required: bool = False) -> str:
    value = _text(value, key, errors, limit=LIMITS["url"], required=required, liquid=True).strip()
    if not value or key in errors:
        return value
    checked = _as_rendered_for_check(value)
    if checked is None:
        return value
    scheme = checked.split(":", 1)[0].lower() if ":" in checked else ""
    if scheme in ("http", "https"):
        try:
            _HTTP_URL(checked)
        except ValidationError:
            errors.add(key, "Enter a valid http(s) URL.")
        return value
    if deep_links and _DEEP_LINK.match(checked) and scheme not in _UNSAFE_SCHEMES:
        return value
    errors.add(
        key,
        "Enter an http(s) URL or an app deep link (myapp://…)."
        if deep_links
        else "Enter an http(s) URL (https://…).",
    )
    return value


def _text_field(
    source: Mapping[str, Any],
    key: str,
    errors: _Errors,
    *,
    prefix: str = "",
    limit: int | None = None,
    **checks: bool,
) -> str:
    """`source[key]` checked by `_text` against its length limit (LIMITS[key] unless given),
    any error filed under the form's field name `prefix + key`."""
    return _text(
        source.get(key),
        prefix + key,
        errors,
        limit=LIMITS[key] if limit is None else limit,
        **checks,
    )


def _url_field(
    source: Mapping[str, Any],
    key: str,
    errors: _Errors,
    *,
    prefix: str = "",
    deep_links: bool,
    required: bool = False,
) -> str:
    """`source[key]` checked by `_url`, any error filed under `prefix + key`."""
    return _url(source.get(key), prefix + key, errors, deep_links=deep_links, required=required)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("on", "true", "1", "yes")


def _whole_number(
    value: Any, key: str, errors: _Errors, *, low: int, high: int, label: str
) -> int | None:
    """`value` as a whole number from `low` to `high`, or None with "<label> must be …"
    filed under `key`. Numeric text from a form counts; true/false and 2.5 do not."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        errors.add(key, f"{label} must be a whole number.")
        return None
    if not low <= number <= high:
        errors.add(key, f"{label} must be between {low:,} and {high:,}.")
        return None
    return number


def _badge(value: Any, errors: _Errors) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # no badge: the app keeps its own count
    return _whole_number(value, "badge", errors, low=0, high=BADGE_MAX, label="Badge count")


def _rows(value: Any, key: str, errors: _Errors, *, limit: int) -> list[Mapping]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(row, Mapping) for row in value):
        errors.add(key, "Must be a list of objects.")
        return []
    if len(value) > limit:
        errors.add(key, f"At most {limit}.")
        return []
    return value


def _blank_row(row: Mapping, keys: tuple[str, ...]) -> bool:
    return all(row.get(key) in (None, "") for key in keys) or all(
        isinstance(row.get(key), str) and not row.get(key).strip() for key in keys
    )


def _filled_rows(
    raw: Mapping[str, Any], key: str, errors: _Errors, *, limit: int, fields: tuple[str, ...]
) -> Iterator[tuple[str, Mapping]]:
    """(field-name prefix, row) for each row of the list `raw[key]` with something in it. A
    blank row (the form's spare one) is skipped but keeps its index, so "carousel-2-link"
    still names the row the marketer sees."""
    for index, row in enumerate(_rows(raw.get(key), key, errors, limit=limit)):
        if not _blank_row(row, fields):
            yield f"{key}-{index}-", row


def _push_clean(raw: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    message = blank_message(Channel.PUSH)
    message["title"] = _text_field(raw, "title", errors, liquid=True)
    message["subtitle"] = _text_field(raw, "subtitle", errors, liquid=True)
    message["body"] = _text_field(raw, "body", errors, required=True, liquid=True)
    message["image_url"] = _url_field(raw, "image_url", errors, deep_links=False)
    message["ios_media_url"] = _url_field(raw, "ios_media_url", errors, deep_links=False)
    message["deep_link"] = _url_field(raw, "deep_link", errors, deep_links=True)
    message["external_url"] = _url_field(raw, "external_url", errors, deep_links=False)
    for key in ("sound", "category", "collapse_key", "android_channel_id"):
        message[key] = _text_field(raw, key, errors, limit=LIMITS["short"]).strip()
    message["badge"] = _badge(raw.get("badge"), errors)
    message["mutable_content"] = _flag(raw.get("mutable_content"))
    message["content_available"] = _flag(raw.get("content_available"))
    priority = raw.get("android_priority") or "default"
    if priority not in ANDROID_PRIORITIES:
        errors.add("android_priority", "Choose default, high or max.")
        priority = "default"
    message["android_priority"] = priority

    message["carousel"] = [
        {
            "image_url": _url_field(
                row, "image_url", errors, prefix=prefix, deep_links=False, required=True
            ),
            "caption": _text_field(row, "caption", errors, prefix=prefix, liquid=True),
            "link": _url_field(row, "link", errors, prefix=prefix, deep_links=True),
        }
        for prefix, row in _filled_rows(
            raw, "carousel", errors, limit=CAROUSEL_MAX, fields=("image_url", "caption", "link")
        )
    ]
    message["buttons"] = [
        {
            "label": _text_field(
                row, "label", errors, prefix=prefix, required=True, liquid=True
            ).strip(),
            "link": _url_field(row, "link", errors, prefix=prefix, deep_links=True),
        }
        for prefix, row in _filled_rows(
            raw, "buttons", errors, limit=BUTTONS_MAX, fields=("label", "link")
        )
    ]
    message["custom_kv"] = _custom_kv(raw.get("custom_kv"), errors)
    return message


def _custom_kv(value: Any, errors: _Errors) -> dict[str, dict[str, str]]:
    cleaned: dict[str, dict[str, str]] = {platform: {} for platform in PUSH_PLATFORMS}
    if value in (None, ""):
        return cleaned
    if not isinstance(value, Mapping):
        errors.add("custom_kv", "Custom key-value pairs must be an object per platform.")
        return cleaned
    for platform, pairs in value.items():
        key = f"custom_kv-{platform}"
        if platform not in PUSH_PLATFORMS:
            errors.add("custom_kv", f"Unknown platform “{platform}”: use android, ios or web.")
            continue
        if pairs in (None, ""):
            continue
        if not isinstance(pairs, Mapping):
            errors.add(key, "Must be key=value pairs.")
            continue
        if len(pairs) > CUSTOM_KV_MAX:
            errors.add(key, f"At most {CUSTOM_KV_MAX} key-value pairs.")
            continue
        for pair_key, pair_value in pairs.items():
            if not isinstance(pair_key, str) or not pair_key.strip():
                errors.add(key, "Every key-value pair needs a key.")
                break
            if isinstance(pair_value, bool) or not isinstance(pair_value, str | int | float):
                errors.add(key, f"The value of “{pair_key}” must be text or a number.")
                break
            if len(pair_key) > LIMITS["short"] or len(str(pair_value)) > LIMITS["pair"]:
                errors.add(key, f"“{pair_key[:40]}” is too long.")
                break
            cleaned[platform][pair_key.strip()] = str(pair_value)
    return cleaned


def _sms_clean(raw: Mapping[str, Any], errors: _Errors, *, generic_sms: bool) -> dict[str, Any]:
    message = blank_message(Channel.SMS)
    message["template_id"] = _text_field(raw, "template_id", errors).strip()
    # A generic provider's template may carry the whole text: its template id is then enough.
    body_required = not (generic_sms and message["template_id"])
    message["body"] = _text_field(raw, "body", errors, required=body_required, liquid=True)
    if body_required and generic_sms and errors.get("body") == "This field is required.":
        errors["body"] = "Write the message, or give the generic provider's template ID."

    message["template_variables"] = [
        {
            "key": _text_field(row, "key", errors, prefix=prefix, limit=LIMITS["short"]).strip(),
            "value": _pair_value(row, prefix, errors),
        }
        for prefix, row in _filled_rows(
            raw, "template_variables", errors, limit=PAIRS_MAX, fields=("key", "value")
        )
    ]

    pairs: list[dict[str, str]] = []
    seen: set[str] = set()
    for prefix, row in _filled_rows(
        raw, "key_values", errors, limit=PAIRS_MAX, fields=("key", "value")
    ):
        key = _text_field(
            row, "key", errors, prefix=prefix, limit=LIMITS["short"], required=True
        ).strip()
        if key and prefix + "key" not in errors:
            if not _PAIR_KEY.match(key):
                errors.add(prefix + "key", "Letters, digits and _ only, starting with a letter.")
            elif key in seen:
                errors.add(prefix + "key", f"“{key}” is already set.")
            seen.add(key)
        pairs.append({"key": key, "value": _pair_value(row, prefix, errors)})
    message["key_values"] = pairs
    return message


def _pair_value(row: Mapping[str, Any], prefix: str, errors: _Errors) -> str:
    """The value of a template variable or key-value pair: required, Liquid allowed."""
    return _text_field(
        row, "value", errors, prefix=prefix, limit=LIMITS["pair"], required=True, liquid=True
    )


def _email_clean(raw: Mapping[str, Any], errors: _Errors) -> dict[str, Any]:
    message = blank_message(Channel.EMAIL)
    message["subject"] = _text_field(raw, "subject", errors, required=True, liquid=True)
    message["sender_name"] = _text_field(raw, "sender_name", errors, liquid=True).strip()
    message["preheader"] = _text_field(raw, "preheader", errors, liquid=True)
    message["html"] = _text_field(raw, "html", errors, liquid=True, html=True)
    message["text"] = _text_field(raw, "text", errors, liquid=True)
    if not message["html"].strip() and not message["text"].strip():
        for key in ("html", "text"):
            if key not in errors:
                errors.add(key, "Write an HTML body or a plain-text body (or both).")
    return message


def message_clean(channel: str, raw: Any, *, generic_sms: bool = False) -> dict[str, Any]:
    """The message to store for `channel`, every key present. Raises ContentInvalid keyed by
    field ("body", "carousel-0-link")."""
    if channel not in BLANK_MESSAGES:
        raise ContentInvalid({"channel": "Unknown channel."})
    if not isinstance(raw, Mapping):
        raise ContentInvalid({"message": "The message must be an object."})
    errors = _Errors()
    if channel == Channel.PUSH:
        message = _push_clean(raw, errors)
    elif channel == Channel.SMS:
        message = _sms_clean(raw, errors, generic_sms=generic_sms)
    else:
        message = _email_clean(raw, errors)
    if errors:
        raise ContentInvalid(errors)
    return message


def ab_metrics(channel: str) -> tuple[str, ...]:
    """Winner metrics that mean something on `channel`: only email is "opened"."""
    return AB_METRICS if channel == Channel.EMAIL else ("clicks", "conversions")


def _ab_clean(
    raw: Any, errors: _Errors, *, channel: str, live: bool, has_goal: bool
) -> dict[str, Any]:
    raw = raw if isinstance(raw, Mapping) else {}
    size_kind = raw.get("size_kind") or ("count" if live else "percent")
    if size_kind not in SIZE_KINDS:
        errors.add("ab-size_kind", "Choose a percentage or a number of users.")
        size_kind = "percent"
    elif live and size_kind == "percent":
        # A live campaign's reach is unknown up front: the test is a number of messages.
        errors.add("ab-size_kind", "A live campaign's test audience is a number of users.")
    if size_kind == "percent":
        size = _whole_number(
            raw.get("size"), "ab-size", errors, low=1, high=99, label="The percentage"
        )
    else:
        size = _whole_number(
            raw.get("size"), "ab-size", errors, low=1, high=AB_COUNT_MAX, label="The test size"
        )
    metric = raw.get("metric") or "clicks"
    if metric not in ab_metrics(channel):
        errors.add("ab-metric", f"Choose {' or '.join(ab_metrics(channel))}.")
        metric = "clicks"
    elif metric == "conversions" and not has_goal:
        errors.add("ab-metric", "Set a conversion goal below to pick the winner by conversions.")
    window = _whole_number(
        raw.get("window_hours", AB_DEFAULTS["window_hours"]),
        "ab-window_hours",
        errors,
        low=1,
        high=AB_WINDOW_MAX_HOURS,
        label="The test window",
    )
    return {"size_kind": size_kind, "size": size, "metric": metric, "window_hours": window}


def _match_key(value: str) -> str:
    return value.strip().casefold()


def content_clean(
    raw: Any,
    *,
    channel: str,
    live: bool = False,
    generic_sms: bool = False,
    has_goal: bool = False,
    required_keys: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The content document to store. Raises ContentInvalid with every problem, keyed by the
    step form's field names ("mode", "variant-0-body", "ab-size", "multi-fallback")."""
    if not isinstance(raw, Mapping):
        raise ContentInvalid({"content": "The content must be an object."})
    errors = _Errors()
    mode = raw.get("mode")
    if mode not in MODES:
        errors.add("mode", "Choose a single message, an A/B test or multi-message.")
        mode = "single"
    variants_raw = raw.get("variants")
    if not isinstance(variants_raw, list) or not variants_raw:
        raise ContentInvalid({**errors, "variants": "Write a message."})
    limit = {"single": 1, "ab": AB_MAX_VARIANTS, "multi": MULTI_MAX_VARIANTS}[mode]
    if mode == "single" and len(variants_raw) != 1:
        errors.add("variants", "A single-message campaign has exactly one message.")
    elif mode == "ab" and not AB_MIN_VARIANTS <= len(variants_raw) <= AB_MAX_VARIANTS:
        errors.add("variants", "An A/B test has 2 or 3 variants.")
    elif len(variants_raw) > limit:
        errors.add("variants", f"At most {limit} variants.")

    variants = []
    for index, variant in enumerate(variants_raw[:limit]):
        key = VARIANT_KEYS[index]
        prefix = f"variant-{index}-"
        if not isinstance(variant, Mapping):
            errors.add(prefix + "message", "The variant must be an object.")
            continue
        name = _text_field(variant, "name", errors, prefix=prefix, limit=NAME_MAX).strip()
        match = ""
        if mode == "multi":
            match = _text_field(variant, "match", errors, prefix=prefix, limit=MATCH_MAX).strip()
        try:
            message = message_clean(channel, variant.get("message"), generic_sms=generic_sms)
        except ContentInvalid as invalid:
            for field, text in invalid.errors.items():
                errors.add(prefix + field, text)
            message = blank_message(channel)
        variants.append(
            {"key": key, "name": name or f"Variant {key}", "match": match, "message": message}
        )
        if channel == Channel.SMS and required_keys and prefix + "key_values" not in errors:
            given = {pair["key"] for pair in message["key_values"] if pair["value"].strip()}
            missing = [key for key in required_keys if key not in given]
            if missing:
                names = ", ".join(f"$${key}" for key in missing)
                errors.add(
                    prefix + "key_values",
                    f"The generic provider's request uses {names}: give each a value.",
                )

    content: dict[str, Any] = {
        "mode": mode,
        "variants": variants,
        "ab": None,
        "multi": None,
        "template_id": _template_id(raw.get("template_id")),
    }
    if mode == "ab":
        content["ab"] = _ab_clean(
            raw.get("ab"), errors, channel=channel, live=live, has_goal=has_goal
        )
    if mode == "multi":
        content["multi"] = _multi_clean(raw.get("multi"), variants, errors)
    if errors:
        raise ContentInvalid(errors)
    return content


def _multi_clean(raw: Any, variants: list[dict], errors: _Errors) -> dict[str, str]:
    raw = raw if isinstance(raw, Mapping) else {}
    prop = _text(raw.get("property"), "multi-property", errors, limit=PROPERTY_MAX).strip()
    if not prop and "multi-property" not in errors:
        errors.add("multi-property", "Choose the profile property that picks the message.")
    keys = [variant["key"] for variant in variants]
    fallback = raw.get("fallback")
    if fallback not in keys:
        errors.add("multi-fallback", "Choose which variant everyone else gets.")
        fallback = keys[0] if keys else "A"
    seen: dict[str, str] = {}
    for index, variant in enumerate(variants):
        match = variant["match"]
        field = f"variant-{index}-match"
        if not match:
            if variant["key"] != fallback:
                errors.add(field, f"Which {prop or 'property'} value gets this variant?")
            continue
        folded = _match_key(match)
        if folded in seen:
            errors.add(field, f"Variant {seen[folded]} already matches “{match}”.")
        else:
            seen[folded] = variant["key"]
    return {"property": prop, "fallback": fallback}


def _template_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _typed_value(text: str) -> Any:
    """A filter value as typed: numbers become numbers, everything else stays text."""
    text = text.strip()
    if re.fullmatch(r"-?\d{1,15}", text):
        return int(text)
    if re.fullmatch(r"-?\d{1,15}\.\d{1,15}", text):
        return float(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def goal_filter_value(operator: str, value: Any) -> Any:
    """The segments-format value for a value typed in one text box ("10, 20" for between)."""
    if not isinstance(value, str):
        return value
    if operator in segment_definitions.NO_VALUE_OPERATORS:
        return None
    if operator == "between":
        parts = [part for part in value.split(",")]
        return [_typed_value(part) for part in parts] if len(parts) == 2 else value
    if operator in segment_definitions.TEXT_OPERATORS:
        return value.strip()
    return _typed_value(value) if value.strip() else ""


def goal_clean(raw: Any) -> dict[str, Any] | None:
    """{"event", "filters", "window"} or None when no event is chosen. Raises ContentInvalid
    keyed "goal-event", "goal-window", "goal-filter-0-value"."""
    if raw in (None, "") or (isinstance(raw, Mapping) and not raw):
        return None
    if not isinstance(raw, Mapping):
        raise ContentInvalid({"goal-event": "The conversion goal must be an object."})
    errors = _Errors()
    event = _text(raw.get("event"), "goal-event", errors, limit=PROPERTY_MAX).strip()
    if not event and "goal-event" not in errors:
        return None
    window = raw.get("window") or ""
    match = _GOAL_WINDOW.match(window) if isinstance(window, str) else None
    if match is None:
        errors.add("goal-window", "Give the window as a number of days or hours, e.g. 3D or 12H.")
    elif int(match[1]) > GOAL_WINDOW_MAX[match[2]]:
        unit = "days" if match[2] == "D" else "hours"
        errors.add("goal-window", f"At most {GOAL_WINDOW_MAX[match[2]]} {unit}.")
    filters_raw = raw.get("filters") or []
    filters: list[dict] = []
    if not isinstance(filters_raw, list):
        errors.add("goal-filters", "Filters must be a list of property conditions.")
    elif len(filters_raw) > GOAL_FILTERS_MAX:
        errors.add("goal-filters", f"At most {GOAL_FILTERS_MAX} filters.")
    else:
        for index, condition in enumerate(filters_raw):
            try:  # the segments format's own checks, so the winner's SQL can trust the filters
                filters.append(
                    segment_definitions.property_condition_validate(
                        condition, path=f"goal-filter-{index}"
                    )
                )
            except segment_definitions.DefinitionError as invalid:
                for path, message in invalid.errors.items():
                    # "goal-filter-0.value" -> "goal-filter-0-value", the form's field name.
                    errors.add(path.replace(".", "-"), message)
    if errors:
        raise ContentInvalid(errors)
    return {"event": event, "filters": filters, "window": window}


# --- routes --------------------------------------------------------------------------------


def sms_route_providers(campaign) -> list:
    """The providers that may send this SMS campaign: its provider, its group's members, or
    (neither chosen) the default group's."""
    return route_providers(
        route_for(
            channel=campaign.channel, provider=campaign.provider, group=campaign.provider_group
        )
    )


def sms_route_kinds(campaign) -> set[str]:
    return {provider.kind for provider in sms_route_providers(campaign)}


def uses_generic_sms(campaign) -> bool:
    """Whether the generic provider's blocks (template variables, key-value pairs) apply."""
    return campaign.channel == Channel.SMS and "generic_sms" in sms_route_kinds(campaign)


def only_generic_sms(campaign) -> bool:
    """Whether every route is a generic provider, so a template id may stand for the body."""
    kinds = sms_route_kinds(campaign) if campaign.channel == Channel.SMS else set()
    return bool(kinds) and kinds == {"generic_sms"}


def generic_sms_keys(campaign) -> list[str]:
    """The custom `$$key`s a generic provider's request uses: the spec's predefined key-value
    pairs, which the campaign must give a value. Built-in placeholders and the provider's own
    secret values (looked up by name only) are not the campaign's to fill."""
    if campaign.channel != Channel.SMS:
        return []
    keys: set[str] = set()
    for provider in sms_route_providers(campaign):
        if provider.kind != "generic_sms":
            continue
        used = set(GENERIC_PLACEHOLDER.findall(json.dumps(provider.settings or {})))
        try:
            secret_names = set(provider.credentials)
        except Exception:  # undecryptable credentials: the provider page says so, not this one
            secret_names = set()
        keys |= used - GENERIC_BUILTINS - secret_names
    return sorted(keys)


def campaign_content_clean(campaign, raw: Any, *, has_goal: bool) -> dict[str, Any]:
    """content_clean with the campaign's channel, type and route."""
    return content_clean(
        raw,
        channel=campaign.channel,
        live=campaign.is_live,
        generic_sms=only_generic_sms(campaign),
        has_goal=has_goal,
        required_keys=generic_sms_keys(campaign),
    )


# --- overview ------------------------------------------------------------------------------


def _problem_sentence(key: str, message: str, variants: list[Mapping]) -> str:
    found = re.match(r"^variant-(\d+)-(.+)$", key)
    if found:
        index, field = int(found[1]), found[2]
        base = field.split("-", 1)[0]
        label = FIELD_LABELS.get(base, base.replace("_", " ").capitalize())
        if label and not label.split()[0].isupper():  # "HTML body" stays; "Subject" -> "subject"
            label = label[0].lower() + label[1:]
        if len(variants) == 1:  # one message: no variant letter to name
            if message == "This field is required.":
                return f"The {label} is missing (What)."
            if message.startswith("Line "):
                return f"The {label} has a template error ({message})."
            return f"The {label}: {message}"
        name = f"Variant {VARIANT_KEYS[index]}" if index < len(VARIANT_KEYS) else "A variant"
        if message == "This field is required.":
            return f"{name} has no {label}."
        if message.startswith("Line "):
            return f"{name}: the {label} has a template error ({message})."
        return f"{name}, {label}: {message}"
    area = {"ab": "A/B test", "multi": "Multi-message", "goal": "Conversion goal"}.get(
        key.split("-", 1)[0], "Content"
    )
    return f"{area}: {message}"


def content_problems(campaign) -> list[str]:
    """Why the content cannot be sent, as sentences (What step)."""
    variants = campaign_variants(campaign)
    if not variants:
        return ["No message yet: write it in What."]
    try:
        campaign_content_clean(campaign, campaign.content, has_goal=bool(campaign.conversion_goal))
    except ContentInvalid as invalid:
        return [
            _problem_sentence(key, message, variants) for key, message in invalid.errors.items()
        ]
    return []


def variant_gist(channel: str, message: Mapping[str, Any], limit: int = 60) -> str:
    if channel == Channel.EMAIL:
        text = message.get("subject") or ""
    else:
        text = message.get("body") or ""
        if not text and channel == Channel.SMS and message.get("template_id"):
            text = f"Template {message['template_id']}"
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def goal_summary(goal: Any) -> str:
    if not isinstance(goal, Mapping) or not goal.get("event"):
        return "None"
    window = str(goal.get("window") or "")
    found = _GOAL_WINDOW.match(window)
    if found:
        number, unit = int(found[1]), "day" if found[2] == "D" else "hour"
        window = f"{number} {unit}{'s' if number != 1 else ''}"
    text = f"{goal['event']} within {window}"
    filters = [
        segment_definitions.property_summary(condition)
        for condition in goal.get("filters") or []
        if isinstance(condition, Mapping)
    ]
    if filters:
        text += " where " + " and ".join(filters)
    return text


def content_summary(campaign) -> list[tuple[str, str]]:
    variants = campaign_variants(campaign)
    if not variants:
        return [("Content", "Not written yet")]
    content = campaign.content
    mode = content.get("mode", "single")
    label = MODE_LABELS.get(mode, mode)
    if mode == "ab" and isinstance(content.get("ab"), Mapping):
        ab = content["ab"]
        size = (
            f"{ab.get('size')}%" if ab.get("size_kind") == "percent" else f"{ab.get('size')} users"
        )
        label += f" of {len(variants)} variants, tested on {size}, winner by {ab.get('metric')}"
    elif mode == "multi" and isinstance(content.get("multi"), Mapping):
        multi = content["multi"]
        label += f" by {multi.get('property')} (fallback {multi.get('fallback')})"
    rows = [("Content", label)]
    for variant in variants:
        message = variant.get("message") if isinstance(variant.get("message"), Mapping) else {}
        title = variant.get("name") or f"Variant {variant.get('key', '')}"
        if mode == "multi":
            title += f" ({variant.get('match') or 'everyone else'})"
        if mode == "single":
            title = "Message"
        rows.append((title, variant_gist(campaign.channel, message) or "—"))
    rows.append(("Conversion goal", goal_summary(campaign.conversion_goal)))
    return rows
