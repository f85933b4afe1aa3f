import csv
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.htmx import wants_partial
from apps.core.roles import Role, role_required
from apps.core.spreadsheet import spreadsheet_safe

from . import csv_import, selectors, services
from .forms import ProfileFilterForm, ProfileImportForm
from .models import ImportStatus, Profile, ProfileImport

PROFILES_PER_PAGE = 25
EVENTS_PER_PAGE = 50
IMPORTS_PER_PAGE = 25


def _page_or_partial(
    request: HttpRequest, template: str, partial: str, context: dict
) -> HttpResponse:
    response = render(
        request, f"{template}#{partial}" if wants_partial(request) else template, context
    )
    # One URL answers with a partial or a whole page: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@role_required(Role.MARKETER)
@require_GET
def profile_list(request: HttpRequest) -> HttpResponse:
    form = ProfileFilterForm(request.GET, countries=selectors.profile_countries())
    profiles = selectors.profile_list(filters=form.to_filters())
    page = Paginator(profiles, PROFILES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page_obj": page,
        "query": _query_without_page(request),
        # Only asked when nothing matched, to tell "no profiles yet" from "no match".
        "has_profiles": page.paginator.count > 0 or selectors.profile_exists(),
    }
    return _page_or_partial(request, "audience/profile_list.html", "results", context)


@role_required(Role.MARKETER)
@require_GET
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(Profile, pk=pk)
    events = Paginator(selectors.profile_events(profile=profile), EVENTS_PER_PAGE)
    context = {
        "profile": profile,
        "events": events.get_page(request.GET.get("page")),
        "query": _query_without_page(request),
    }
    if not wants_partial(request):  # htmx asks only for the timeline's next page
        context["devices"] = selectors.profile_devices(profile=profile)
        properties = profile.properties if isinstance(profile.properties, dict) else {}
        context["properties"] = sorted(properties.items())
    return _page_or_partial(request, "audience/profile_detail.html", "timeline", context)


@role_required(Role.MARKETER)
@require_POST
def profile_set_test(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(Profile, pk=pk)
    is_test = request.POST.get("is_test") == "true"
    changed = services.profile_set_test(profile=profile, is_test=is_test)
    if not changed:
        messages.info(request, "Nothing to change.")
    elif is_test:
        messages.success(request, f"{profile} is now a test profile.")
    else:
        messages.success(request, f"{profile} is no longer a test profile.")
    if request.htmx:
        return render(request, "audience/profile_detail.html#test_status", {"profile": profile})
    return redirect("audience:profile_detail", pk=profile.pk)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileImportForm(request.POST, request.FILES)
        if form.is_valid():
            profile_import = services.profile_import_create(
                upload=form.cleaned_data["file"], created_by=request.user
            )
            messages.success(request, f"{profile_import.original_name} is queued for import.")
            return redirect("audience:import_detail", pk=profile_import.pk)
    else:
        form = ProfileImportForm()
    imports = Paginator(selectors.profile_import_list(), IMPORTS_PER_PAGE)
    context = {
        "form": form,
        "page_obj": imports.get_page(request.GET.get("page")),
        "query": _query_without_page(request),
        "standard_columns": csv_import.STANDARD_COLUMNS,
        "max_bytes": settings.CSV_IMPORT_MAX_BYTES,
    }
    status = 400 if form.is_bound else 200  # a bound form here is always an invalid one
    return render(request, "audience/import_list.html", context, status=status)


@role_required(Role.MARKETER)
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    profile_import = get_object_or_404(ProfileImport, pk=pk)
    finished = profile_import.status in (ImportStatus.COMPLETED, ImportStatus.FAILED)
    context = {
        "profile_import": profile_import,
        # A finished import's partial carries no hx-trigger, so the page stops polling.
        "finished": finished,
        "duration": _duration(profile_import.started_at, profile_import.finished_at),
        "rejections_preview": (
            selectors.profile_import_rejection_preview(profile_import=profile_import)
            if finished and profile_import.rejected_rows
            else []
        ),
    }
    return _page_or_partial(request, "audience/import_detail.html", "progress", context)


@role_required(Role.MARKETER)
@require_GET
def import_rejections_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    profile_import = get_object_or_404(ProfileImport, pk=pk)
    rejections = selectors.profile_import_rejections(profile_import=profile_import)
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # lets spreadsheet programs read the file as UTF-8
        yield writer.writerow(["row_number", "reason", "original_row"])
        for rejection in rejections:
            yield writer.writerow(
                [
                    rejection.row_number,
                    spreadsheet_safe(rejection.reason),
                    spreadsheet_safe(rejection.raw),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    filename = f"import-{profile_import.pk}-rejected-rows.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@role_required(Role.MARKETER)
@require_GET
def import_sample_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(csv_import.sample_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="herald-profiles-sample.csv"'
    return response


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(round((end - start).total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    return timesince(start, end)


class _Echo:
    """csv.writer target that hands each line back instead of buffering it."""

    def write(self, value: str) -> str:
        return value
