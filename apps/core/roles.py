"""Roles and the server-side check every dashboard view goes through.

Roles are ordered: an Admin can do everything a Marketer can, a Marketer everything a
Viewer can. Views declare the least role they need with `@role_required(Role.X)`; the
permission-matrix test reads that declaration back from every URL, so a view without one
fails the suite."""

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 1, Role.MARKETER: 2, Role.ADMIN: 3}


def role_allows(user, least: Role) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    return ROLE_RANK.get(getattr(user, "role", None), 0) >= ROLE_RANK[least]


def role_required(least: Role) -> Callable:
    """Anonymous users go to the login page; signed-in users below `least` get 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login  # needs the user model

                return redirect_to_login(request.get_full_path())
            if not role_allows(request.user, least):
                raise PermissionDenied(f"This page needs the {least.label} role.")
            return view(request, *args, **kwargs)

        wrapped.least_role = least
        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Marks a view that deliberately needs no login (login page, health check, REST API
    with its own header authentication), so the permission-matrix test can tell it apart
    from a view that forgot its check."""
    view.public_view = True
    return view
