"""Writes for message templates. Every save goes through `template_clean`, so what is
stored always has the channel's CONTENT_KEYS and Liquid that compiles; the form shows the
same errors beside the field, these checks are what holds for any other caller."""

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from .models import CONTENT_KEYS, Channel, MessageTemplate
from .personalization import template_errors

NAME_MAX_LENGTH = MessageTemplate._meta.get_field("name").max_length

# Content keys that are Liquid, and whether they render as HTML (escaping values).
LIQUID_KEYS: dict[str, dict[str, bool]] = {
    Channel.PUSH: {
        "title": False,
        "subtitle": False,
        "body": False,
        "image_url": False,
        "deep_link": False,
    },
    Channel.SMS: {"body": False},
    Channel.EMAIL: {
        "subject": False,
        "preheader": False,
        "from_name": False,
        "html": True,
        "text": False,
    },
}
# What a template cannot be saved without.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    Channel.PUSH: ("body",),
    Channel.SMS: ("body",),
    Channel.EMAIL: ("subject", "html"),
}
# Generous bounds that still keep one template from filling a row with megabytes: an SMS of
# ten parts, an email the size inbox providers clip anyway.
MAX_LENGTH: dict[str, int] = {"html": 500_000, "text": 100_000}
DEFAULT_MAX_LENGTH = 2_000
SHORT_KEYS = {"sound": 200, "category": 200, "template_id": 64, "from_name": 200}
BADGE_MAX = 1_000_000
CUSTOM_KV_MAX = 50


class TemplateInvalid(Exception):
    """A template that cannot be saved; `.errors` maps a field ("name", "channel", or a
    content key such as "body") to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def liquid_error_message(source: str, *, html: bool = False) -> str | None:
    """'Line 3: unknown filter 'nope'' for the first problem in `source`, None when valid."""
    errors = template_errors(source, html=html)
    if not errors:
        return None
    first = errors[0]
    return f"Line {first.line}: {first.message}"


def _name_taken(name: str, *, channel: str, exclude_pk: int | None = None) -> bool:
    templates = MessageTemplate.objects.filter(name__iexact=name, channel=channel)
    if exclude_pk is not None:
        templates = templates.exclude(pk=exclude_pk)
    return templates.exists()


def template_name_error(*, name: str, channel: str, exclude_pk: int | None = None) -> str | None:
    """Why `name` cannot name a `channel` template, or None when it can."""
    name = (name or "").strip()
    if not name:
        return "Give the template a name."
    if len(name) > NAME_MAX_LENGTH:
        return f"At most {NAME_MAX_LENGTH} characters."
    if channel in Channel.values and _name_taken(name, channel=channel, exclude_pk=exclude_pk):
        label = Channel(channel).label
        return f"A {label} template called “{name}” already exists."
    return None


def _clean_text(key: str, value: Any, *, channel: str, errors: dict[str, str]) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[key] = "Must be text."
        return ""
    # Line endings from a browser textarea are \r\n; SMS counts and Liquid lines want \n.
    value = value.replace("\r\n", "\n")
    limit = MAX_LENGTH.get(key) or SHORT_KEYS.get(key) or DEFAULT_MAX_LENGTH
    if len(value) > limit:
        errors[key] = f"At most {limit:,} characters."
        return value
    if key in REQUIRED_KEYS[channel] and not value.strip():
        errors[key] = "This field is required."
        return value
    liquid = LIQUID_KEYS[channel]
    if key in liquid and (message := liquid_error_message(value, html=liquid[key])):
        errors[key] = message
    return value


def _clean_badge(value: Any, errors: dict[str, str]) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors["badge"] = "Badge count must be a whole number."
        return None
    try:
        badge = int(value)
    except ValueError:
        errors["badge"] = "Badge count must be a whole number."
        return None
    if not 0 <= badge <= BADGE_MAX:
        errors["badge"] = f"Badge count must be between 0 and {BADGE_MAX:,}."
        return None
    return badge


def _clean_custom_kv(value: Any, errors: dict[str, str]) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        errors["custom_kv"] = "Custom key-value pairs must be an object of text values."
        return {}
    if len(value) > CUSTOM_KV_MAX:
        errors["custom_kv"] = f"At most {CUSTOM_KV_MAX} key-value pairs."
        return {}
    pairs: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip():
            errors["custom_kv"] = "Every key-value pair needs a key."
            return {}
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            errors["custom_kv"] = f"The value of “{key}” must be text or a number."
            return {}
        pairs[key.strip()] = str(item)
    return pairs


def template_content_clean(*, channel: str, content: Any) -> dict:
    """The content to store for `channel`: every CONTENT_KEY present, text normalised, Liquid
    compiled. Raises TemplateInvalid naming each bad field."""
    if channel not in Channel.values:
        raise TemplateInvalid({"channel": "Choose push, SMS or email."})
    if not isinstance(content, Mapping):
        raise TemplateInvalid({"content": "Content must be an object."})
    unknown = sorted(set(content) - set(CONTENT_KEYS[channel]))
    errors: dict[str, str] = {}
    if unknown:
        errors["content"] = f"Unknown fields for {Channel(channel).label}: {', '.join(unknown)}."
    cleaned: dict[str, Any] = {}
    for key in CONTENT_KEYS[channel]:
        value = content.get(key)
        if key == "badge":
            cleaned[key] = _clean_badge(value, errors)
        elif key == "custom_kv":
            cleaned[key] = _clean_custom_kv(value, errors)
        else:
            cleaned[key] = _clean_text(key, value, channel=channel, errors=errors)
    if errors:
        raise TemplateInvalid(errors)
    return cleaned


def _clean(
    *, name: str, channel: str, content: Any, exclude_pk: int | None = None
) -> tuple[str, dict]:
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if name_error := template_name_error(name=name, channel=channel, exclude_pk=exclude_pk):
        errors["name"] = name_error
    cleaned: dict = {}
    try:
        cleaned = template_content_clean(channel=channel, content=content)
    except TemplateInvalid as error:
        errors.update(error.errors)
    if errors:
        raise TemplateInvalid(errors)
    return name, cleaned


def _save(template: MessageTemplate) -> MessageTemplate:
    # The check in _clean answers the common case kindly; the constraint decides when two
    # marketers save the same name at the same moment.
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError as error:
        if "message_template_name_ci_unique" in str(error):
            label = Channel(template.channel).label
            raise TemplateInvalid(
                {"name": f"A {label} template called “{template.name}” already exists."}
            ) from error
        raise
    return template


def template_create(*, name: str, channel: str, content: Any, created_by=None) -> MessageTemplate:
    name, cleaned = _clean(name=name, channel=channel, content=content)
    return _save(
        MessageTemplate(name=name, channel=channel, content=cleaned, created_by=created_by)
    )


def template_update(*, template: MessageTemplate, name: str, content: Any) -> MessageTemplate:
    """The channel stays: a push template's content means nothing as an email."""
    name, cleaned = _clean(
        name=name, channel=template.channel, content=content, exclude_pk=template.pk
    )
    template.name = name
    template.content = cleaned
    return _save(template)


def _copy_name(name: str, *, channel: str) -> str:
    """ "Copy of X", then "Copy of X (2)", … — the first one no template of the channel has."""
    n = 1
    while True:
        suffix = "" if n == 1 else f" ({n})"
        candidate = ("Copy of " + name)[: NAME_MAX_LENGTH - len(suffix)] + suffix
        if not _name_taken(candidate, channel=channel):
            return candidate
        n += 1


def template_duplicate(*, template: MessageTemplate, created_by=None) -> MessageTemplate:
    for _ in range(5):  # another copy may take the same name between the check and the insert
        copy = MessageTemplate(
            name=_copy_name(template.name, channel=template.channel),
            channel=template.channel,
            content=dict(template.content),
            created_by=created_by,
        )
        try:
            return _save(copy)
        except TemplateInvalid:
            continue
    raise TemplateInvalid({"name": "Could not find a free name for the copy; try again."})


def template_delete(*, template: MessageTemplate) -> None:
    """Campaigns copy a template's content into their variants when they use it (the wizard,
    next issue), so deleting a template never changes a campaign."""
    template.delete()
