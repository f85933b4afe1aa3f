"""Step 4, What: the message (single, A/B test or multi-message by a profile property), its
per-channel options, the conversion goal, and previews for a chosen profile.

The page is one form. Its htmx buttons (add, copy or remove a variant, switch mode, start from
a saved template, more rows) post the whole form with an `_action` and get the editor back
re-rendered from what was posted, so nothing typed is lost and the server stays the only
place that knows the shapes. Without JavaScript the same buttons are plain submit buttons and
the full page comes back. Saving (no `_action`) validates with apps/campaigns/content.py and
stores `campaign.content` and `campaign.conversion_goal`.

Field names are indexed (`variant-0-body`, `variant-1-carousel-2-link`, `goal-filter-0-name`),
the same names content.py uses as error keys, so each error lands beside its field."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.template.loader import render_to_string

from apps.audience.models import Profile
from apps.message_templates import selectors as template_selectors
from apps.message_templates.models import MessageTemplate
from apps.message_templates.personalization import (
    PersonalizationError,
    message_render,
    personalization_fields,
)
from apps.message_templates.sms_parts import sms_parts
from apps.message_templates.views import personalization_tag
from apps.providers.models import Channel
from apps.segments import definitions as segment_definitions
from apps.segments import selectors as segment_selectors

from ... import content
from ...models import Campaign
from ...services import CampaignDocumentInvalid, campaign_content_save
from .. import frame as wizard

TEMPLATE = "campaigns/wizard/what.html"
ACTION_FIELD = "_action"
# A posted id longer than this cannot be a row (and would overflow the column in the query).
MAX_PK_DIGITS = 15
# Blank rows offered under the filled ones (the "More rows" button re-renders with more).
SPARE_ROWS = {"carousel": 1, "buttons": 1, "template_variables": 1, "key_values": 2}
ROW_LIMITS = {
    "carousel": content.CAROUSEL_MAX,
    "buttons": content.BUTTONS_MAX,
    "template_variables": content.PAIRS_MAX,
    "key_values": content.PAIRS_MAX,
}
ROW_KEYS = {
    "carousel": ("image_url", "caption", "link"),
    "buttons": ("label", "link"),
    "template_variables": ("key", "value"),
    "key_values": ("key", "value"),
}
# Plain text fields of each channel's message, as the form posts them.
TEXT_KEYS = {
    Channel.PUSH: (
        "title",
        "subtitle",
        "body",
        "image_url",
        "ios_media_url",
        "sound",
        "badge",
        "category",
        "deep_link",
        "external_url",
        "collapse_key",
        "android_priority",
        "android_channel_id",
    ),
    Channel.SMS: ("body", "template_id"),
    Channel.EMAIL: ("subject", "sender_name", "preheader", "html", "text"),
}
FLAG_KEYS = ("mutable_content", "content_available")
_VARIANT_INDEX = re.compile(r"^variant-(\d{1,2})-")
_WINDOW = re.compile(r"^(.*?)([DH])$", re.S)
GOAL_UNITS = (("D", "days"), ("H", "hours"))


# --- the posted form as a content draft -----------------------------------------------------


def _kv_lines(text: str) -> dict[str, str] | str:
    """key=value lines as a dict, or the text itself when a line does not parse (content.py
    then refuses it and the page shows the text back as typed)."""
    pairs: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            return text
        pairs[key.strip()] = value.strip()
    return pairs


def _rows_posted(data: QueryDict, prefix: str, list_key: str) -> list[dict[str, str]]:
    rows = []
    for index in range(ROW_LIMITS[list_key]):
        row = {key: data.get(f"{prefix}{list_key}-{index}-{key}", "") for key in ROW_KEYS[list_key]}
        if any(value.strip() for value in row.values()):
            rows.append(row)
    return rows


def _message_posted(data: QueryDict, channel: str, prefix: str) -> dict[str, Any]:
    message: dict[str, Any] = {key: data.get(prefix + key, "") for key in TEXT_KEYS[channel]}
    if channel == Channel.PUSH:
        for key in FLAG_KEYS:
            message[key] = data.get(prefix + key) == "on"
        message["carousel"] = _rows_posted(data, prefix, "carousel")
        message["buttons"] = _rows_posted(data, prefix, "buttons")
        message["custom_kv"] = {
            platform: _kv_lines(data.get(f"{prefix}custom_kv-{platform}", ""))
            for platform in content.PUSH_PLATFORMS
        }
    elif channel == Channel.SMS:
        message["template_variables"] = _rows_posted(data, prefix, "template_variables")
        message["key_values"] = _rows_posted(data, prefix, "key_values")
    return message


def _posted_variant_count(data: QueryDict) -> int:
    indexes = {int(found[1]) for key in data if (found := _VARIANT_INDEX.match(key))}
    return min(max(indexes, default=0) + 1, content.MULTI_MAX_VARIANTS)


def draft_from_post(campaign: Campaign, data: QueryDict) -> tuple[dict, dict]:
    """(content draft, goal draft) from the posted form, shaped like what is stored but not
    validated: content.py does that."""
    channel = campaign.channel
    variants = []
    for index in range(_posted_variant_count(data)):
        prefix = f"variant-{index}-"
        variants.append(
            {
                "name": data.get(prefix + "name", ""),
                "match": data.get(prefix + "match", ""),
                "message": _message_posted(data, channel, prefix),
            }
        )
    draft = {
        "mode": data.get("mode", "single"),
        "variants": variants,
        "ab": {
            "size_kind": "count" if campaign.is_live else data.get("ab-size_kind", "percent"),
            # Absent (the A/B fields were not on the page yet): the defaults; cleared: "".
            "size": data.get("ab-size", content.AB_DEFAULTS["size"]),
            "metric": data.get("ab-metric", content.AB_DEFAULTS["metric"]),
            "window_hours": data.get("ab-window_hours", content.AB_DEFAULTS["window_hours"]),
        },
        "multi": {
            "property": data.get("multi-property", ""),
            "fallback": data.get("multi-fallback", ""),
        },
        "template_id": data.get("template_id") or None,
    }
    filters = []
    for index in range(content.GOAL_FILTERS_MAX):
        name = data.get(f"goal-filter-{index}-name", "")
        operator = data.get(f"goal-filter-{index}-operator", "equals")
        value = data.get(f"goal-filter-{index}-value", "")
        if name.strip() or value.strip():
            filters.append(
                {
                    "name": name,
                    "operator": operator,
                    "value": content.goal_filter_value(operator, value),
                }
            )
    window_number = data.get("goal-window_number", "").strip()
    goal = {
        "event": data.get("goal-event", ""),
        "window": f"{window_number}{data.get('goal-window_unit', 'D')}" if window_number else "",
        "filters": filters,
    }
    return draft, goal


def draft_from_campaign(campaign: Campaign) -> tuple[dict, dict]:
    stored = campaign.content if isinstance(campaign.content, Mapping) else {}
    draft = content.blank_content(campaign.channel)
    if content.campaign_variants(campaign):
        draft.update(copy.deepcopy(dict(stored)))
        draft["ab"] = {**content.AB_DEFAULTS, **(stored.get("ab") or {})}
        draft["multi"] = {"property": "", "fallback": "A", **(stored.get("multi") or {})}
    if campaign.is_live:
        draft["ab"]["size_kind"] = "count"
    goal = campaign.conversion_goal if isinstance(campaign.conversion_goal, Mapping) else {}
    return draft, {"event": "", "window": "3D", "filters": [], **goal}


# --- editor actions (no validation: they reshape the draft) --------------------------------


def _variant_limit(mode: str) -> int:
    return {"single": 1, "ab": content.AB_MAX_VARIANTS}.get(mode, content.MULTI_MAX_VARIANTS)


def _blank_variant(channel: str) -> dict:
    return {"name": "", "match": "", "message": content.blank_message(channel)}


def _rekey(draft: dict, *, removed: int | None = None) -> None:
    """Keys follow positions (A, B, C…); keep the fallback on the same variant."""
    old_keys = [
        content.VARIANT_KEYS[i] for i in range(len(draft["variants"]) + (removed is not None))
    ]
    fallback = draft["multi"].get("fallback")
    if fallback in old_keys:
        position = old_keys.index(fallback)
        if removed is not None:
            position = 0 if position == removed else position - (position > removed)
        draft["multi"]["fallback"] = content.VARIANT_KEYS[min(position, len(draft["variants"]) - 1)]
    for index, variant in enumerate(draft["variants"]):
        key = content.VARIANT_KEYS[index]
        # A default name follows the key; a name the marketer wrote stays.
        if not variant.get("name") or re.fullmatch(r"Variant [A-J]", variant.get("name", "")):
            variant["name"] = f"Variant {key}"
        variant["key"] = key


def template_message(channel: str, template: MessageTemplate) -> dict[str, Any]:
    """A saved template's content as a campaign message of the same channel."""
    saved = template.content or {}
    message = content.blank_message(channel)
    if channel == Channel.PUSH:
        for key in ("title", "subtitle", "body", "image_url", "deep_link", "sound", "category"):
            message[key] = saved.get(key) or ""
        message["badge"] = saved.get("badge")
        pairs = saved.get("custom_kv") or {}
        # The library keeps one set of pairs; a campaign has them per platform.
        message["custom_kv"] = {platform: dict(pairs) for platform in content.PUSH_PLATFORMS}
    elif channel == Channel.SMS:
        message["body"] = saved.get("body") or ""
        message["template_id"] = saved.get("template_id") or ""
    else:
        for key in ("subject", "preheader", "html", "text"):
            message[key] = saved.get(key) or ""
        message["sender_name"] = saved.get("from_name") or ""
    return message


def apply_action(campaign: Campaign, draft: dict, action: str, data: QueryDict) -> str:
    """Reshape the draft for an editor button; returns a note to show, if any."""
    variants = draft["variants"] or [_blank_variant(campaign.channel)]
    draft["variants"] = variants
    mode = draft["mode"] if draft["mode"] in content.MODES else "single"
    draft["mode"] = mode
    verb, _, raw_index = action.partition("-")
    index = int(raw_index) if raw_index.isdigit() and int(raw_index) < len(variants) else None
    note = ""
    if verb == "add" and len(variants) < _variant_limit(mode):
        variants.append(_blank_variant(campaign.channel))
    elif verb == "copy" and index is not None and len(variants) < _variant_limit(mode):
        duplicate = copy.deepcopy(variants[index])
        duplicate["name"], duplicate["match"] = "", ""
        variants.append(duplicate)
    elif verb == "remove" and index is not None and len(variants) > 1:
        del variants[index]
        _rekey(draft, removed=index)
        return note
    elif verb == "mode":
        limit = _variant_limit(mode)
        if len(variants) > limit:
            kept = "variant A" if limit == 1 else f"variants A to {content.VARIANT_KEYS[limit - 1]}"
            note = (
                f"{content.MODE_LABELS[mode]} keeps {kept}; the others were taken out "
                "(leave without saving to keep them)."
            )
            del variants[limit:]
        while mode == "ab" and len(variants) < content.AB_MIN_VARIANTS:
            variants.append(_blank_variant(campaign.channel))
    elif verb == "template" and index is not None:
        raw_pk = data.get(f"variant-{index}-template", "")
        template = (
            MessageTemplate.objects.filter(pk=int(raw_pk), channel=campaign.channel).first()
            if raw_pk.isdigit() and len(raw_pk) <= MAX_PK_DIGITS
            else None
        )
        if template is None:
            note = "Choose a saved template first."
        else:
            variants[index]["message"] = template_message(campaign.channel, template)
            draft["template_id"] = template.pk
            note = f"Variant {content.VARIANT_KEYS[index]} now holds “{template.name}”: edit away."
    _rekey(draft)
    return note


# --- view-models ---------------------------------------------------------------------------


@dataclass
class FieldView:
    name: str
    value: Any
    error: str = ""


@dataclass
class VariantView:
    index: int
    key: str
    name: FieldView
    match: FieldView
    f: dict[str, FieldView]
    rows: dict[str, list[dict[str, FieldView]]] = field(default_factory=dict)
    list_errors: list[str] = field(default_factory=list)
    advanced_open: bool = False  # push: an error hides in "Advanced options" otherwise
    sms: dict[str, Any] | None = None  # SMS: the counter under the body


class _ErrorTaker:
    """Hands out errors by field name and remembers which were shown, so the rest can go on
    top of the form instead of being lost."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        self.taken: set[str] = set()

    def field(self, name: str, value: Any) -> FieldView:
        self.taken.add(name)
        return FieldView(name=name, value=value, error=self.errors.get(name, ""))

    def take(self, name: str) -> str:
        self.taken.add(name)
        return self.errors.get(name, "")

    def rest(self) -> list[str]:
        return [message for key, message in self.errors.items() if key not in self.taken]


def _display(value: Any) -> Any:
    if value is None:
        return ""
    return value


def _kv_text(pairs: Any) -> str:
    if isinstance(pairs, str):
        return pairs
    if isinstance(pairs, Mapping):
        return "\n".join(f"{key}={value}" for key, value in pairs.items())
    return ""


def _variant_view(channel: str, index: int, variant: Mapping, errors: _ErrorTaker) -> VariantView:
    prefix = f"variant-{index}-"
    message = variant.get("message") if isinstance(variant.get("message"), Mapping) else {}
    key = content.VARIANT_KEYS[index]
    fields = {
        name: errors.field(prefix + name, _display(message.get(name)))
        for name in TEXT_KEYS[channel]
    }
    view = VariantView(
        index=index,
        key=key,
        name=errors.field(prefix + "name", variant.get("name") or f"Variant {key}"),
        match=errors.field(prefix + "match", variant.get("match") or ""),
        f=fields,
    )
    if channel == Channel.PUSH:
        for name in FLAG_KEYS:
            fields[name] = errors.field(prefix + name, bool(message.get(name)))
        custom = message.get("custom_kv") if isinstance(message.get("custom_kv"), Mapping) else {}
        for platform in content.PUSH_PLATFORMS:
            fields[f"custom_kv_{platform}"] = errors.field(
                f"{prefix}custom_kv-{platform}", _kv_text(custom.get(platform))
            )
    list_keys = {
        Channel.PUSH: ("carousel", "buttons"),
        Channel.SMS: ("template_variables", "key_values"),
    }.get(channel, ())
    for list_key in list_keys:
        filled = [row for row in message.get(list_key) or [] if isinstance(row, Mapping)]
        count = min(len(filled) + SPARE_ROWS[list_key], ROW_LIMITS[list_key])
        view.rows[list_key] = [
            {
                name: errors.field(
                    f"{prefix}{list_key}-{row_index}-{name}",
                    _display(filled[row_index].get(name)) if row_index < len(filled) else "",
                )
                for name in ROW_KEYS[list_key]
            }
            for row_index in range(count)
        ]
        if message_error := errors.take(prefix + list_key):
            view.list_errors.append(message_error)
    if custom_error := errors.take(prefix + "custom_kv"):
        view.list_errors.append(custom_error)
    basic = {"name", "match", "title", "subtitle", "body", "image_url", "deep_link"}
    view.advanced_open = any(
        key.startswith(prefix) and key[len(prefix) :].split("-")[0] not in basic
        for key in errors.errors
    )
    return view


def _goal_view(goal: Mapping, errors: _ErrorTaker) -> dict[str, Any]:
    window = goal.get("window") or ""
    found = _WINDOW.match(window) if isinstance(window, str) else None
    number, unit = (found[1], found[2]) if found else (window, "D")
    filters = [row for row in goal.get("filters") or [] if isinstance(row, Mapping)]
    rows = []
    for index in range(min(len(filters) + 1, content.GOAL_FILTERS_MAX)):
        row = filters[index] if index < len(filters) else {}
        value = row.get("value")
        if isinstance(value, list):
            value = ", ".join(str(item) for item in value)
        prefix = f"goal-filter-{index}-"
        rows.append(
            {
                "name": errors.field(prefix + "name", row.get("name") or ""),
                "operator": errors.field(prefix + "operator", row.get("operator") or "equals"),
                "value": errors.field(prefix + "value", _display(value)),
            }
        )
    window_error = errors.take("goal-window")
    return {
        "event": errors.field("goal-event", goal.get("event") or ""),
        "window_number": FieldView("goal-window_number", number, window_error),
        "window_unit": unit,
        "filters": rows,
        "filters_error": errors.take("goal-filters"),
    }


def _offer_generic_keys(draft: dict, keys: list[str]) -> None:
    """Put a row for each key the generic provider's request uses, so the marketer sees which
    values it needs (the spec's predefined key-value pairs)."""
    for variant in draft.get("variants") or []:
        message = variant.get("message") if isinstance(variant, Mapping) else None
        if not isinstance(message, dict):
            continue
        rows = message.get("key_values")
        rows = rows if isinstance(rows, list) else []
        present = {row.get("key") for row in rows if isinstance(row, Mapping)}
        missing = [{"key": key, "value": ""} for key in keys if key not in present]
        message["key_values"] = (rows + missing)[: content.PAIRS_MAX]


def editor_context(
    campaign: Campaign, draft: dict, goal: Mapping, errors: Mapping[str, str], note: str = ""
) -> dict[str, Any]:
    generic_keys = content.generic_sms_keys(campaign)
    if generic_keys:
        _offer_generic_keys(draft, generic_keys)
    taker = _ErrorTaker(errors)
    mode = draft.get("mode") if draft.get("mode") in content.MODES else "single"
    variants = [
        _variant_view(campaign.channel, index, variant, taker)
        for index, variant in enumerate(draft.get("variants") or [])
        if isinstance(variant, Mapping) and index < content.MULTI_MAX_VARIANTS
    ]
    ab = draft.get("ab") if isinstance(draft.get("ab"), Mapping) else content.AB_DEFAULTS
    multi = draft.get("multi") if isinstance(draft.get("multi"), Mapping) else {}
    context = {
        "channel": campaign.channel,
        "mode": mode,
        "mode_error": taker.take("mode"),
        "modes": list(content.MODE_LABELS.items()),
        "variants": variants,
        "variants_error": taker.take("variants"),
        "can_add": len(variants) < _variant_limit(mode),
        "can_remove": len(variants) > (content.AB_MIN_VARIANTS if mode == "ab" else 1),
        "ab": {
            "size_kind": taker.field("ab-size_kind", ab.get("size_kind") or "percent"),
            "size": taker.field("ab-size", _display(ab.get("size"))),
            "metric": taker.field("ab-metric", ab.get("metric") or "clicks"),
            "window_hours": taker.field("ab-window_hours", _display(ab.get("window_hours"))),
        },
        "ab_metrics": content.ab_metrics(campaign.channel),
        "multi": {
            "property": taker.field("multi-property", multi.get("property") or ""),
            "fallback": taker.field("multi-fallback", multi.get("fallback") or "A"),
        },
        "template_id": draft.get("template_id") or "",
        "goal": _goal_view(goal, taker),
        "goal_operators": list(segment_definitions.OPERATOR_LABELS.items()),
        "event_names": segment_selectors.event_names(),
        "goal_units": GOAL_UNITS,
        "note": note,
        "is_live": campaign.is_live,
        "generic_sms": content.uses_generic_sms(campaign),
        "generic_keys": generic_keys,
        "priorities": content.ANDROID_PRIORITIES,
        "platforms": content.PUSH_PLATFORMS,
        "saved_templates": list(
            MessageTemplate.objects.filter(channel=campaign.channel)
            .order_by("name")
            .values_list("pk", "name")[:200]
        ),
        "limits": content.LIMITS,
    }
    context["other_errors"] = taker.rest()
    return context


# --- preview and counter -------------------------------------------------------------------


def _profile_from(data: Mapping) -> tuple[Profile | None, str]:
    raw = (data.get("preview_profile_pick") or data.get("preview_profile") or "").strip()
    if raw:
        valid = raw.isdigit() and len(raw) <= MAX_PK_DIGITS
        profile = Profile.objects.filter(pk=int(raw)).first() if valid else None
        if profile is not None:
            return profile, ""
        return template_selectors.preview_profile_default(), "No such profile: showing the default."
    return template_selectors.preview_profile_default(), ""


def preview_context(
    campaign: Campaign, draft: dict, index: int, profile: Profile | None
) -> dict[str, Any]:
    variants = draft.get("variants") or []
    index = index if 0 <= index < len(variants) else 0
    message = variants[index].get("message") if variants else None
    context: dict[str, Any] = {
        "preview_index": index,
        "preview_key": content.VARIANT_KEYS[index],
        "preview_profile": profile,
        "preview_error": "",
        "rendered": None,
    }
    if not isinstance(message, Mapping):
        return context
    try:
        rendered = content.render_message(campaign.channel, dict(message), profile)
    except content.ContentInvalid as invalid:
        field_name, error = next(iter(invalid.errors.items()))
        label = content.FIELD_LABELS.get(field_name.split("-")[0], field_name)
        context["preview_error"] = f"{label}: {error}"
        return context
    if campaign.channel == Channel.SMS:
        rendered["sms"] = sms_parts(str(rendered.get("body") or ""))
    if campaign.channel == Channel.EMAIL:
        rendered["sender"] = rendered.get("sender_name") or campaign.sender_name
    context["rendered"] = rendered
    return context


def sms_counter(body: str, profile: Profile | None) -> dict[str, Any]:
    """What message_templates' counter partial expects: the parts of the text as sent to the
    preview profile, or as typed while the Liquid does not compile."""
    body = (body or "").replace("\r\n", "\n")
    if len(body) > content.LIMITS["body"]:
        return {"parts": sms_parts(body), "rendered": False, "profile": profile}
    try:
        return {
            "parts": sms_parts(message_render(body, profile=profile)),
            "rendered": True,
            "profile": profile,
        }
    except PersonalizationError:
        return {"parts": sms_parts(body), "rendered": False, "profile": profile}


# --- the view ------------------------------------------------------------------------------


def _page(
    request: HttpRequest,
    campaign: Campaign,
    draft: dict,
    goal: Mapping,
    *,
    errors: Mapping[str, str] | None = None,
    note: str = "",
    partial: str = "",
    profile: Profile | None = None,
    profile_error: str = "",
    preview_index: int = 0,
    status: int = 200,
) -> HttpResponse:
    context = editor_context(campaign, draft, goal, errors or {}, note)
    context.update(preview_context(campaign, draft, preview_index, profile))
    context["profile_error"] = profile_error
    context["profile_q"] = request.GET.get("profile_q", "").strip()[:200]
    if context["profile_q"]:  # without JavaScript the search is a GET of the whole page
        context["profile_matches"] = template_selectors.preview_profile_search(
            q=context["profile_q"]
        )
    context["action_field"] = ACTION_FIELD
    context["action"] = wizard.step_url(campaign, "what")
    context["personalize_fields"] = [
        (name, personalization_tag(name)) for name in personalization_fields()
    ]
    if campaign.channel == Channel.SMS:
        context["counters"] = [
            sms_counter(str(view.f["body"].value or ""), profile) for view in context["variants"]
        ]
        for view, counter in zip(context["variants"], context["counters"], strict=True):
            view.sms = counter
    if partial == "editor":
        # The editor, and the preview out of band: a removed or added variant changes what
        # the preview shows (its letter, or which variant it is of).
        editor = wizard.render_step(request, campaign, "what", f"{TEMPLATE}#editor", context)
        preview = render_to_string(f"{TEMPLATE}#preview", {**context, "oob": True}, request=request)
        editor.content = editor.content + preview.encode()
        return editor
    template = f"{TEMPLATE}#{partial}" if partial else TEMPLATE
    return wizard.render_step(request, campaign, "what", template, context, status=status)


def _profile_matches(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("profile_q", "").strip()[:200]
    context = {
        "profile_q": q,
        "profile_matches": template_selectors.preview_profile_search(q=q),
        "action": request.path,
    }
    return render(request, f"{TEMPLATE}#profile_matches", context)


def view(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method != "POST":
        if request.htmx and "profile_q" in request.GET:
            return _profile_matches(request)
        draft, goal = draft_from_campaign(campaign)
        profile, profile_error = _profile_from(request.GET)
        return _page(request, campaign, draft, goal, profile=profile, profile_error=profile_error)

    draft, goal = draft_from_post(campaign, request.POST)
    action = request.POST.get(ACTION_FIELD, "")[:40]
    profile, profile_error = _profile_from(request.POST)
    preview_raw = request.POST.get("preview_variant", "0")
    preview_index = int(preview_raw) if preview_raw.isdigit() else 0
    if action.startswith("preview"):
        _, _, raw_index = action.partition("-")
        preview_index = int(raw_index) if raw_index.isdigit() else preview_index
        partial = "preview" if request.htmx else ""
        return _page(
            request,
            campaign,
            draft,
            goal,
            partial=partial,
            profile=profile,
            profile_error=profile_error,
            preview_index=preview_index,
        )
    if action.startswith("counter-") and request.htmx:
        raw_index = action.partition("-")[2]
        body = request.POST.get(f"variant-{raw_index}-body", "")
        return wizard.render_step(
            request,
            campaign,
            "what",
            "message_templates/template_form.html#sms_counter",
            {"sms": sms_counter(body, profile)},
        )
    if action:
        note = apply_action(campaign, draft, action, request.POST)
        return _page(
            request,
            campaign,
            draft,
            goal,
            note=note,
            partial="editor" if request.htmx else "",
            profile=profile,
            preview_index=min(preview_index, len(draft["variants"]) - 1),
        )

    try:
        campaign_content_save(campaign=campaign, content=draft, goal=goal)
    except CampaignDocumentInvalid as invalid:
        # htmx 2 does not swap 4xx; a plain post gets the honest status.
        return _page(
            request,
            campaign,
            draft,
            goal,
            errors=invalid.errors,
            profile=profile,
            preview_index=preview_index,
            status=200 if request.htmx else 400,
        )
    return wizard.step_saved(request, campaign, "what")


def problems(campaign: Campaign) -> list[str]:
    return content.content_problems(campaign)


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    return content.content_summary(campaign)
