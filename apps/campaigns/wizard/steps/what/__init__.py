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

from collections.abc import Mapping

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from apps.audience.models import Profile
from apps.message_templates import selectors as template_selectors
from apps.message_templates.personalization import personalization_fields
from apps.message_templates.views import personalization_tag
from apps.providers.models import Channel

from .... import content
from ....models import Campaign
from ....services import CampaignDocumentInvalid, campaign_content_save
from ... import frame as wizard
from .actions import apply_action
from .editor import editor_context
from .fields import ACTION_FIELD, TEMPLATE
from .posted import draft_from_campaign, draft_from_post
from .preview import _profile_from, preview_context, sms_counter

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
