"""The preview for a profile and the SMS part counter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.audience.models import Profile
from apps.message_templates import selectors as template_selectors
from apps.message_templates.personalization import (
    PersonalizationError,
    message_render,
)
from apps.message_templates.sms_parts import sms_parts
from apps.providers.models import Channel

from .... import content
from ....models import Campaign
from .fields import MAX_PK_DIGITS

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
