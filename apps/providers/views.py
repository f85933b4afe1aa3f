"""Admin pages: providers per channel (with test send) and SMS provider groups."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.roles import Role, role_required

from . import selectors, services
from .circuit import CircuitState, circuit_states
from .crypto import CredentialsUnreadable
from .forms import ProviderForm, ProviderGroupForm, TestSendForm
from .kinds import KINDS
from .models import (
    KINDS_BY_CHANNEL,
    MAX_GROUP_PROVIDERS,
    Channel,
    Provider,
    ProviderGroup,
    PushPlatform,
)
from .routing import push_route_choices, push_route_rows

# --- Providers -------------------------------------------------------------------------------


def _channel_param(request: HttpRequest) -> str:
    channel = request.GET.get("channel", "")
    return channel if channel in Channel.values else ""


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def provider_list(request: HttpRequest) -> HttpResponse:
    channel = _channel_param(request)
    providers = list(selectors.provider_list(channel=channel or None))
    states = circuit_states(provider_ids=[p.pk for p in providers])
    for provider in providers:
        provider.degraded = states[provider.pk] is not CircuitState.CLOSED
    context = {
        "providers": providers,
        "channel": channel,
        "channels": Channel.choices,
    }
    if channel in ("", Channel.PUSH):
        context["push_routes"] = _push_route_form_rows()
    return render(request, "providers/provider_list.html", context)


def _push_route_form_rows() -> list[dict]:
    choices = push_route_choices()
    return [{"row": row, "choices": choices[row.platform]} for row in push_route_rows()]


@role_required(Role.ADMIN)
@require_POST
def push_routes_save(request: HttpRequest) -> HttpResponse:
    """Settings → Providers, "Push routes": one select per platform; "" = automatic."""
    problems: list[str] = []
    for platform in PushPlatform.values:
        value = request.POST.get(f"route_{platform}", "")
        provider = None
        if value:
            provider = Provider.objects.filter(pk=value if value.isdigit() else 0).first()
            if provider is None:
                problems.append(f"{PushPlatform(platform).label}: that provider no longer exists.")
                continue
        try:
            services.push_route_set(platform=platform, provider=provider)
        except services.ProviderRefused as refusal:
            problems.append(str(refusal))
    for problem in problems:
        messages.error(request, problem)
    if not problems:
        messages.success(request, "Push routes saved.")
    return redirect(f"{reverse('providers:provider_list')}?channel=push#push-routes")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def provider_create(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in KINDS:
        kinds = [
            (label, [(k, KINDS[k].label) for k in KINDS_BY_CHANNEL[value]])
            for value, label in Channel.choices
            if value == _channel_param(request) or not _channel_param(request)
        ]
        return render(request, "providers/provider_kind_choice.html", {"kinds_by_channel": kinds})
    channel = KINDS[kind].channel
    form = ProviderForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            provider = services.provider_create(
                channel=channel,
                kind=kind,
                nickname=form.cleaned_data["nickname"],
                base_url=form.cleaned_data.get("base_url", ""),
                credentials=form.credential_values(),
                settings=form.provider_settings(),
            )
        except services.ProviderRefused as refusal:
            form.add_error("nickname", str(refusal))
        else:
            messages.success(request, f"Provider “{provider.nickname}” added.")
            return redirect("providers:provider_detail", pk=provider.pk)
    context = {"form": form, "kind": kind, "kind_label": KINDS[kind].label, "channel": channel}
    return render(
        request,
        "providers/provider_form.html",
        context,
        status=400 if form.is_bound else 200,
    )


def _detail_context(provider: Provider, **extra) -> dict:
    state = circuit_states(provider_ids=[provider.pk])[provider.pk]
    return {
        "provider": provider,
        "state": state,
        "degraded": state is not CircuitState.CLOSED,
        "groups": provider.provider_groups.order_by("name"),
        "test_form": extra.pop("test_form", None) or TestSendForm(channel=provider.channel),
        **extra,
    }


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    try:
        form = ProviderForm(request.POST or None, kind=provider.kind, provider=provider)
    except CredentialsUnreadable as exc:
        # A key was removed: let the admin type the credentials again rather than fail.
        messages.error(request, str(exc))
        provider.credentials_encrypted = ""
        form = ProviderForm(request.POST or None, kind=provider.kind, provider=provider)
    if request.method == "POST" and form.is_valid():
        try:
            services.provider_update(
                provider=provider,
                nickname=form.cleaned_data["nickname"],
                base_url=form.cleaned_data.get("base_url", ""),
                settings=form.provider_settings(),
                credential_changes=form.credential_values(),
            )
        except services.ProviderRefused as refusal:
            form.add_error("nickname", str(refusal))
        else:
            messages.success(request, f"Provider “{provider.nickname}” saved.")
            return redirect("providers:provider_detail", pk=provider.pk)
    return render(
        request,
        "providers/provider_detail.html",
        _detail_context(provider, form=form),
        status=400 if form.is_bound else 200,
    )


@role_required(Role.ADMIN)
@require_POST
def provider_test_send(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    test_form = TestSendForm(request.POST, channel=provider.channel)
    result = None
    if test_form.is_valid():
        try:
            result = services.provider_test_send(
                provider=provider,
                to=test_form.cleaned_data["to"],
                text=test_form.cleaned_data["text"],
            )
        except CredentialsUnreadable as exc:
            test_form.add_error(None, str(exc))
    if request.htmx:
        context = {"provider": provider, "test_form": test_form, "result": result}
        return render(request, "providers/provider_detail.html#test_send", context)
    form = ProviderForm(kind=provider.kind, provider=provider)
    return render(
        request,
        "providers/provider_detail.html",
        _detail_context(provider, form=form, test_form=test_form, result=result),
        status=400 if test_form.errors else 200,
    )


@role_required(Role.ADMIN)
@require_POST
def provider_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    is_active = request.POST.get("is_active") == "1"
    services.provider_set_active(provider=provider, is_active=is_active)
    state = "activated" if is_active else "deactivated: groups and campaigns skip it"
    messages.success(request, f"Provider “{provider.nickname}” {state}.")
    if request.POST.get("next") == "list":
        return redirect("providers:provider_list")
    return redirect("providers:provider_detail", pk=provider.pk)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def provider_delete(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    error = ""
    if request.method == "POST":
        try:
            services.provider_delete(provider=provider)
        except services.ProviderRefused as refusal:
            error = str(refusal)
        else:
            messages.success(request, f"Provider “{provider.nickname}” deleted.")
            return redirect("providers:provider_list")
    return render(
        request,
        "providers/provider_delete.html",
        {"provider": provider, "error": error},
        status=400 if error else 200,
    )


# --- Provider groups ---------------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def group_list(request: HttpRequest) -> HttpResponse:
    groups = list(selectors.provider_group_list())
    provider_ids = {m.provider_id for g in groups for m in g.members.all()}
    states = circuit_states(provider_ids=provider_ids)
    for group in groups:
        group.member_rows = [
            (m, states[m.provider_id] is not CircuitState.CLOSED) for m in group.members.all()
        ]
    context = {"groups": groups, "has_sms_providers": selectors.sms_provider_choices().exists()}
    return render(request, "providers/group_list.html", context)


def _group_form(request: HttpRequest, group: ProviderGroup | None) -> ProviderGroupForm:
    members = selectors.provider_group_members(group=group) if group else []
    # One empty row more than the members (up to an 11th, which the form refuses), and at
    # least three, so a few providers can be added in one go.
    rows = min(max(len(members) + 1, 3), MAX_GROUP_PROVIDERS + 1)
    if request.method == "POST":
        posted = sum(1 for key in request.POST if key.startswith("provider_"))
        rows = max(rows, min(posted, MAX_GROUP_PROVIDERS + 1))
    initial = {"name": group.name, "is_default": group.is_default} if group else {}
    return ProviderGroupForm(
        request.POST or None,
        providers=list(selectors.sms_provider_choices()),
        rows=rows,
        initial_members=members,
        initial=initial,
    )


def _group_save(request: HttpRequest, group: ProviderGroup | None) -> HttpResponse:
    form = _group_form(request, group)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.provider_group_save(
                name=form.cleaned_data["name"],
                providers=form.cleaned_data["providers"],
                group=group,
                is_default=form.cleaned_data["is_default"],
            )
        except services.ProviderRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, f"Provider group “{saved.name}” saved.")
            return redirect("providers:group_list")
    context = {"form": form, "group": group, "max_providers": MAX_GROUP_PROVIDERS}
    return render(
        request, "providers/group_form.html", context, status=400 if form.is_bound else 200
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    return _group_save(request, None)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _group_save(request, get_object_or_404(ProviderGroup, pk=pk))


@role_required(Role.ADMIN)
@require_POST
def group_make_default(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(ProviderGroup, pk=pk)
    try:
        services.provider_group_make_default(group=group)
    except services.ProviderRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"“{group.name}” is now the default provider group.")
    return redirect("providers:group_list")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def group_delete(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(ProviderGroup, pk=pk)
    error = ""
    if request.method == "POST":
        try:
            services.provider_group_delete(group=group)
        except services.ProviderRefused as refusal:
            error = str(refusal)
        else:
            messages.success(request, f"Provider group “{group.name}” deleted.")
            return redirect("providers:group_list")
    return render(
        request,
        "providers/group_delete.html",
        {"group": group, "error": error},
        status=400 if error else 200,
    )
