"""Settings pages for admins: the account, API credentials and users."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.roles import Role, role_required

from . import selectors, services
from .forms import (
    AccountSettingsForm,
    ApiPasscodeForm,
    GlobalLimitsForm,
    UserActiveForm,
    UserCreateForm,
    UserRoleForm,
)
from .models import (
    GLOBAL_LIMITS_OVERRIDE_EFFECT,
    GLOBAL_LIMITS_OVERRIDE_LABEL,
    ApiPasscode,
    User,
)

# --- Account -------------------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    account = services.account_settings_get()
    if request.method == "POST":
        form = AccountSettingsForm(request.POST)
        if form.is_valid():
            services.account_settings_update(account=account, **form.cleaned_data)
            messages.success(request, "Account settings saved.")
            return redirect("settings:account")
    else:
        form = AccountSettingsForm(initial={"name": account.name, "timezone": account.timezone})
    # Reaching here with a bound form means it was invalid.
    return render(
        request,
        "accounts/account.html",
        {"account": account, "form": form},
        status=400 if form.is_bound else 200,
    )


# --- Global limits -------------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def global_limits(request: HttpRequest) -> HttpResponse:
    limits = services.global_limits_get()
    if request.method == "POST":
        form = GlobalLimitsForm(request.POST, instance=limits)
        if form.is_valid():
            services.global_limits_update(**form.limits_fields())
            messages.success(
                request, "Global limits saved. Campaigns that are sending follow them within 10 s."
            )
            return redirect("settings:global_limits")
        # The form's instance took the invalid values; reload so the page's summary is true.
        limits = services.global_limits_get()
    else:
        form = GlobalLimitsForm(instance=limits)
    channels = [
        (label, form[f"{key}_per_day"], form[f"{key}_per_week"], form[f"{key}_throttle_per_minute"])
        for key, label in (("push", "Push"), ("sms", "SMS"), ("email", "Email"))
    ]
    return render(
        request,
        "accounts/global_limits.html",
        {
            "form": form,
            "limits": limits,
            "channels": channels,
            "override_label": GLOBAL_LIMITS_OVERRIDE_LABEL,
            "override_effect": GLOBAL_LIMITS_OVERRIDE_EFFECT,
        },
        status=400 if form.is_bound else 200,
    )


# --- API credentials -----------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def api_credentials(request: HttpRequest) -> HttpResponse:
    created, created_raw = None, None
    form = ApiPasscodeForm()
    if request.method == "POST":
        form = ApiPasscodeForm(request.POST)
        if form.is_valid():
            created, created_raw = services.api_passcode_create(
                name=form.cleaned_data["name"], created_by=request.user
            )
            form = ApiPasscodeForm()
    context = {
        "account": services.account_settings_get(),
        "upload_url": request.build_absolute_uri(reverse("api:upload")),
        "passcodes": selectors.api_passcode_list(),
        "form": form,
        "created": created,
        # Shown in this response only: it is neither stored (only its digest is) nor put
        # in the session or a flash message, both of which would persist it somewhere.
        "created_raw": created_raw,
    }
    response = render(
        request,
        "accounts/api_credentials.html",
        context,
        status=400 if form.is_bound and form.errors else 200,
    )
    add_never_cache_headers(response)  # keep the one-time passcode out of browser caches
    return response


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def api_passcode_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    passcode = get_object_or_404(ApiPasscode, pk=pk)
    if request.method == "POST":
        if services.api_passcode_revoke(passcode=passcode):
            messages.success(
                request, f"Passcode “{passcode.name}” revoked: requests using it are refused."
            )
        else:
            messages.warning(request, f"Passcode “{passcode.name}” was already revoked.")
        return redirect("settings:api_credentials")
    return render(request, "accounts/api_passcode_revoke.html", {"passcode": passcode})


# --- Users ---------------------------------------------------------------------------------


def _users_context(**extra) -> dict:
    return {
        "users": selectors.user_list(),
        "roles": Role.choices,
        "form": UserCreateForm(),
        **extra,
    }


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def users(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UserCreateForm(request.POST)
        if form.is_valid():
            fields = form.cleaned_data
            user = services.user_create(
                username=fields["username"],
                email=fields["email"],
                role=fields["role"],
                password=fields["password1"],
                first_name=fields["first_name"],
                last_name=fields["last_name"],
            )
            messages.success(
                request, f"User {user.username} created with the {user.get_role_display()} role."
            )
            return redirect("settings:users")
        # The create form is a plain POST (success redirects), so no partial here.
        return render(request, "accounts/users.html", _users_context(form=form), status=400)
    return render(request, "accounts/users.html", _users_context())


def _user_change_response(
    request: HttpRequest, target: User, *, error: str = "", notice: str = ""
) -> HttpResponse:
    """htmx gets the user's row back; a plain POST is redirected on success and re-renders
    the page with the refusal beside the user's row (400) otherwise."""
    if request.htmx:
        context = {
            "u": target,
            "roles": Role.choices,
            "changed_user_id": target.pk,
            "row_error": error,
            "row_notice": notice,
        }
        return render(request, "accounts/users.html#user_row", context)
    if error:
        context = _users_context(changed_user_id=target.pk, row_error=error)
        return render(request, "accounts/users.html", context, status=400)
    messages.success(request, notice)
    return redirect("settings:users")


@role_required(Role.ADMIN)
@require_POST
def user_role(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User, pk=pk)
    form = UserRoleForm(request.POST)
    if not form.is_valid():
        return _user_change_response(request, target, error="Choose one of the roles.")
    try:
        services.user_change_role(
            user=target, role=form.cleaned_data["role"], acting_user=request.user
        )
    except services.UserChangeRefused as refusal:
        return _user_change_response(request, target, error=str(refusal))
    return _user_change_response(
        request, target, notice=f"{target.username} is now {target.get_role_display()}."
    )


@role_required(Role.ADMIN)
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(User, pk=pk)
    form = UserActiveForm(request.POST)
    if not form.is_valid():
        return _user_change_response(request, target, error="Say whether the user is active.")
    try:
        services.user_set_active(
            user=target, is_active=form.cleaned_data["is_active"], acting_user=request.user
        )
    except services.UserChangeRefused as refusal:
        return _user_change_response(request, target, error=str(refusal))
    state = "reactivated" if target.is_active else "deactivated: they can no longer log in"
    return _user_change_response(request, target, notice=f"{target.username} {state}.")
