from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import health
from apps.core.roles import Role, public, role_required


@role_required(Role.VIEWER)
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "core/home.html")


def coming_soon_view(title: str, least: Role):
    @role_required(least)
    def coming_soon(request: HttpRequest) -> HttpResponse:
        return render(request, "core/coming_soon.html", {"section_title": title})

    return coming_soon


@public
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = health.check_all()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
