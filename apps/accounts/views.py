from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.roles import Role, role_required


@role_required(Role.ADMIN)
def account_settings(request: HttpRequest) -> HttpResponse:
    return render(request, "core/coming_soon.html", {"section_title": "Account"})


@role_required(Role.ADMIN)
def api_credentials(request: HttpRequest) -> HttpResponse:
    return render(request, "core/coming_soon.html", {"section_title": "API credentials"})


@role_required(Role.ADMIN)
def users(request: HttpRequest) -> HttpResponse:
    return render(request, "core/coming_soon.html", {"section_title": "Users"})
