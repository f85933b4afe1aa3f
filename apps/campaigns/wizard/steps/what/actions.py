"""The editor's buttons (add a variant, a row, start from a template…): they reshape the
draft without validating it."""

from __future__ import annotations

import copy
import re
from typing import Any

from django.http import QueryDict

from apps.message_templates.models import MessageTemplate
from apps.providers.models import Channel

from .... import content
from ....models import Campaign
from .fields import MAX_PK_DIGITS

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
