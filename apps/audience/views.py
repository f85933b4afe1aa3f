from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.roles import Role, role_required


@role_required(Role.MARKETER)
def profile_list(request: HttpRequest) -> HttpResponse:
    return render(request, "core/coming_soon.html", {"section_title": "Audience"})
