import json
import re

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audience.models import Profile
from apps.core.htmx import wants_partial
from apps.core.roles import Role, role_required

from . import selectors, services
from .forms import FORMS
from .models import Channel, MessageTemplate
from .personalization import PersonalizationError, message_render, personalization_fields
from .sms_parts import sms_parts

TEMPLATES_PER_PAGE = 25
CHANNEL_DESCRIPTIONS = {
    Channel.PUSH: "Title, message, image and deep link for mobile and web push.",
    Channel.SMS: "A text message, with its length in characters and parts as you type.",
    Channel.EMAIL: "Subject, preheader, and an HTML body with a plain-text part.",
}


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@role_required(Role.MARKETER)
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    channel = request.GET.get("channel", "")
    if channel not in Channel.values:
        channel = ""  # an unknown channel in a shared link shows everything, not an error
    page = Paginator(selectors.template_list(q=q, channel=channel), TEMPLATES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "q": q,
        "channel": channel,
        "channels": Channel.choices,
        "page_obj": page,
        "query": _query_without_page(request),
        "has_templates": page.paginator.count > 0 or selectors.template_exists(),
    }
    template = "message_templates/template_list.html"
    response = render(
        request, f"{template}#results" if wants_partial(request) else template, context
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def personalization_tag(field: str) -> str:
    """The Liquid a marketer inserts for a profile property. A custom property such as
    "Customer Type" is not a Liquid identifier, so it is looked up with brackets."""
    if _IDENTIFIER.match(field):
        lookup = f"Profile.{field}"
    else:
        lookup = "Profile[" + json.dumps(field, ensure_ascii=False) + "]"
    return "{{" + lookup + ' | default: ""}}'


def _form_context(*, form, channel: str, template: MessageTemplate | None) -> dict:
    body = form["body"].value() if "body" in form.fields else ""
    return {
        "form": form,
        "channel": channel,
        "channel_label": Channel(channel).label,
        "template": template,
        "fields": [(field, personalization_tag(field)) for field in personalization_fields()],
        "sms": _sms_count(body or "", profile=selectors.preview_profile_default())
        if channel == Channel.SMS
        else None,
        "form_action": reverse("message_templates:edit", args=[template.pk])
        if template
        else f"{reverse('message_templates:create')}?channel={channel}",
    }


def _form_page(
    request: HttpRequest, *, channel: str, template: MessageTemplate | None
) -> HttpResponse:
    form_class = FORMS[channel]
    page = "message_templates/template_form.html"
    if request.method == "GET":
        form = form_class(template=template)
        return render(request, page, _form_context(form=form, channel=channel, template=template))
    form = form_class(request.POST, template=template)
    if form.is_valid():
        try:
            if template is None:
                template = services.template_create(
                    name=form.cleaned_data["name"],
                    channel=channel,
                    content=form.content(),
                    created_by=request.user,
                )
                messages.success(request, f"Template “{template.name}” saved.")
            else:
                template = services.template_update(
                    template=template, name=form.cleaned_data["name"], content=form.content()
                )
                messages.success(request, f"Template “{template.name}” updated.")
            return redirect("message_templates:detail", pk=template.pk)
        except services.TemplateInvalid as error:
            for key, message in error.errors.items():
                form.add_error(key if key in form.fields else None, message)
    context = _form_context(form=form, channel=channel, template=template)
    # htmx 2 does not swap 4xx responses; a plain post gets the honest status.
    return render(request, page, context, status=200 if request.htmx else 400)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def template_create(request: HttpRequest) -> HttpResponse:
    channel = request.GET.get("channel", "")
    if channel not in Channel.values:
        choices = [(value, label, CHANNEL_DESCRIPTIONS[value]) for value, label in Channel.choices]
        context = {"choices": choices, "unknown_channel": bool(channel)}
        status = 400 if channel or request.method == "POST" else 200
        return render(request, "message_templates/template_channel.html", context, status=status)
    return _form_page(request, channel=channel, template=None)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk)
    return _form_page(request, channel=template.channel, template=template)


def _sms_count(body: str, *, profile: Profile | None = None) -> dict:
    """The counter counts what a recipient gets: the message rendered for the preview profile
    (or with each `| default:`), since a Liquid tag is much longer than the name it becomes.
    A template that does not compile yet is counted as typed."""
    body = body.replace("\r\n", "\n")
    if len(body) > services.DEFAULT_MAX_LENGTH:
        # Longer than an SMS template may be: the form will say so; count without compiling.
        return {"parts": sms_parts(body), "rendered": False, "profile": profile}
    try:
        text = message_render(body, profile=profile)
        rendered = True
    except PersonalizationError:
        text, rendered = body, False
    return {"parts": sms_parts(text), "rendered": rendered, "profile": profile}


@role_required(Role.MARKETER)
@require_POST
def sms_counter(request: HttpRequest) -> HttpResponse:
    """The SMS form's live counter (htmx, debounced): characters, parts and encoding."""
    profile = selectors.preview_profile_default()
    context = {"sms": _sms_count(request.POST.get("body", ""), profile=profile)}
    return render(request, "message_templates/template_form.html#sms_counter", context)


def _preview_profile(request: HttpRequest) -> tuple[Profile | None, str]:
    """The profile chosen in the picker, else the first test profile. Returns it and an
    error to show when the chosen one does not exist."""
    raw = request.GET.get("profile", "").strip()
    if raw:
        if raw.isdigit():
            profile = Profile.objects.filter(pk=int(raw)).first()
            if profile is not None:
                return profile, ""
        return selectors.preview_profile_default(), "No such profile: showing the default."
    return selectors.preview_profile_default(), ""


def _rendered(template: MessageTemplate, profile: Profile | None) -> tuple[dict, str]:
    liquid = services.LIQUID_KEYS[template.channel]
    rendered: dict[str, str] = {}
    try:
        for key, html in liquid.items():
            rendered[key] = message_render(
                template.content.get(key) or "", profile=profile, html=html
            )
    except PersonalizationError as error:
        # Only a template saved before a rule tightened can get here; say so, do not 500.
        return {}, f"This template no longer compiles: {error}. Edit it to fix."
    return rendered, ""


@role_required(Role.MARKETER)
@require_GET
def template_detail(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate.objects.select_related("created_by"), pk=pk)
    profile, profile_error = _preview_profile(request)
    profile_q = request.GET.get("profile_q", "").strip()
    rendered, render_error = _rendered(template, profile)
    context = {
        "template": template,
        "channel_label": template.get_channel_display(),
        "profile": profile,
        "profile_error": profile_error,
        "profile_q": profile_q,
        "profile_matches": selectors.preview_profile_search(q=profile_q) if profile_q else None,
        "rendered": rendered,
        "render_error": render_error,
        "sms": sms_parts(rendered.get("body", "")) if template.channel == Channel.SMS else None,
        "content_rows": _content_rows(template),
    }
    return render(request, "message_templates/template_detail.html", context)


def _content_rows(template: MessageTemplate) -> list[tuple[str, str]]:
    """The stored fields as label/value, for the source column of the detail page."""
    form = FORMS[template.channel]()
    rows = []
    for key, field in form.fields.items():
        if key == "name":
            continue
        value = template.content.get(key)
        if key == "custom_kv":
            value = "\n".join(f"{k}={v}" for k, v in (value or {}).items())
        if value not in (None, "", {}):
            rows.append((field.label or key.replace("_", " ").capitalize(), str(value)))
    return rows


@role_required(Role.MARKETER)
@require_POST
def template_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk)
    try:
        copy = services.template_duplicate(template=template, created_by=request.user)
    except services.TemplateInvalid as error:
        messages.error(request, error.errors.get("name", str(error)))
        return redirect("message_templates:detail", pk=template.pk)
    messages.success(request, f"Copied as “{copy.name}”.")
    return redirect("message_templates:edit", pk=copy.pk)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk)
    if request.method == "POST":
        services.template_delete(template=template)
        messages.success(request, f"Template “{template.name}” deleted.")
        return redirect("message_templates:list")
    return render(request, "message_templates/template_delete.html", {"template": template})
