import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.htmx import wants_partial
from apps.core.roles import Role, role_allows, role_required

from . import builder, selectors, services
from .definitions import DefinitionError, definition_summary, definition_validate
from .models import Segment

SEGMENTS_PER_PAGE = 25
SAMPLE_SIZE = 10
# What the estimate panel and the detail page call each channel.
CHANNELS = [
    ("push_android", "Push · Android"),
    ("push_ios", "Push · iOS"),
    ("push_web", "Push · Web"),
    ("push", "Push (any platform)"),
    ("sms", "SMS"),
    ("email", "Email"),
]


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _reach_rows(counts: dict | None) -> list[tuple[str, int]]:
    counts = counts or {}
    return [(label, counts.get(key, 0)) for key, label in CHANNELS]


@role_required(Role.VIEWER)
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.segment_list(q=q), SEGMENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "q": q,
        "page_obj": page,
        "query": _query_without_page(request),
        "has_segments": page.paginator.count > 0 or selectors.segment_exists(),
        "can_edit": role_allows(request.user, Role.MARKETER),
    }
    template = "segments/segment_list.html"
    response = render(
        request, f"{template}#results" if wants_partial(request) else template, context
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@role_required(Role.VIEWER)
@require_GET
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment.objects.select_related("created_by"), pk=pk)
    context = {
        "segment": segment,
        "summary": definition_summary(segment.definition),
        "reach": _reach_rows(segment.last_estimate) if segment.last_estimate else None,
        "sample": selectors.segment_sample_cached(definition=segment.definition, limit=SAMPLE_SIZE),
        "definition_json": json.dumps(segment.definition, indent=2, ensure_ascii=False),
        "can_edit": role_allows(request.user, Role.MARKETER),
    }
    return render(request, "segments/segment_detail.html", context)


@role_required(Role.MARKETER)
@require_POST
def segment_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    services.segment_refresh_estimate(segment=segment)
    if wants_partial(request):
        context = {
            "segment": segment,
            "reach": _reach_rows(segment.last_estimate),
            "can_edit": True,
        }
        return render(request, "segments/segment_detail.html#reach", context)
    messages.success(request, "Reach recounted.")
    return redirect("segments:detail", pk=segment.pk)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    return _builder_page(request, segment=None)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _builder_page(request, segment=get_object_or_404(Segment, pk=pk))


# The builder's fields (and the partials its add/remove buttons re-render), included by the
# segment page and by the campaign wizard's Who step.
BUILDER_FIELDS_TEMPLATE = "segments/_builder_fields.html"


def builder_fields_context(*, rows: dict, form_action: str) -> dict:
    """What BUILDER_FIELDS_TEMPLATE needs: the rows, where its add/remove buttons post, and
    the choices of its selects and datalists."""
    return {
        "rows": rows,
        "form_action": form_action,
        "event_names": selectors.event_names(),
        "demo_cities": sorted(builder.DEMO_CITY_CENTRES),
        "operators": builder.OPERATORS,
        "count_ops": builder.COUNT_OPS,
        "periods": builder.PERIODS,
        "app_field_choices": builder.APP_FIELDS,
        "genders": builder.GENDERS,
        "reach_fields": [
            (key, label, rows["reach"].get(key, "")) for key, label in builder.REACHABILITY
        ],
        "live_types": builder.LIVE_TYPES,
        "offset_directions": builder.OFFSET_DIRECTIONS,
        "offset_units": builder.OFFSET_UNITS,
    }


def _builder_context(*, rows: dict, name: str, segment: Segment | None) -> dict:
    form_action = (
        reverse("segments:edit", args=[segment.pk]) if segment else reverse("segments:create")
    )
    return {
        **builder_fields_context(rows=rows, form_action=form_action),
        "name": name,
        "segment": segment,
    }


def _all_errors(raw: dict, parse_errors: dict[str, str]) -> dict[str, str]:
    """Parse errors (a box that is not even a number) and, for the rest of the definition,
    what validation finds — so the marketer sees every problem at once."""
    try:
        definition_validate(raw)
        errors: dict[str, str] = {}
    except DefinitionError as error:
        errors = dict(error.errors)
    return {**errors, **parse_errors}


def _builder_page(request: HttpRequest, *, segment: Segment | None) -> HttpResponse:
    template = "segments/builder.html"
    if request.method == "GET":
        rows = builder.builder_rows(segment.definition if segment else None)
        name = segment.name if segment else ""
        return render(request, template, _builder_context(rows=rows, name=name, segment=segment))

    rows = builder.rows_from_querydict(request.POST)
    name = request.POST.get("name", "")
    action = request.POST.get("action", "")
    if action:
        # An add/remove button: change the rows, render them again, save nothing.
        builder.apply_action(rows, action)
        context = _builder_context(rows=rows, name=name, segment=segment)
        section = builder.action_section(action)
        if wants_partial(request) and section:
            response = render(request, f"{BUILDER_FIELDS_TEMPLATE}#{section}", context)
            response["HX-Trigger"] = "segment-changed"  # the estimate follows the new rows
            return response
        return render(request, template, context)

    raw, parse_errors = builder.definition_from_rows(rows)
    if parse_errors:
        errors = _all_errors(raw, parse_errors)
        exclude_pk = segment.pk if segment else None
        if name_error := services.segment_name_error(name=name, exclude_pk=exclude_pk):
            errors["name"] = name_error
    else:
        try:
            if segment is None:
                segment = services.segment_create(
                    name=name, definition=raw, created_by=request.user
                )
                messages.success(request, f"Segment “{segment.name}” saved.")
            else:
                segment = services.segment_update(segment=segment, name=name, definition=raw)
                messages.success(request, f"Segment “{segment.name}” updated.")
            return redirect("segments:detail", pk=segment.pk)
        except services.SegmentInvalid as error:
            errors = error.errors
    builder.attach_errors(rows, errors)
    context = _builder_context(rows=rows, name=name, segment=segment)
    context["has_errors"] = True
    # htmx 2 does not swap 4xx responses; a plain post gets the honest status.
    return render(request, template, context, status=200 if request.htmx else 400)


@role_required(Role.MARKETER)
@require_POST
def segment_estimate_view(request: HttpRequest) -> HttpResponse:
    """The builder's live preview: reach per channel and a sample, or the errors.

    Takes the builder's fields, or one `definition` field holding the definition as JSON (the
    bench, the campaign wizard and the API use that). Repeated definitions answer from the
    estimate cache; a new count is kept by the saved segments with the same definition."""
    errors: dict[str, str] = {}
    raw: object = None
    if "definition" in request.POST:
        try:
            raw = json.loads(request.POST["definition"] or "{}")
        except ValueError as error:
            errors = {"definition": f"Not valid JSON: {error}"}
    else:
        raw, errors = builder.definition_from_builder(request.POST)
        if errors:
            errors = _all_errors(raw, errors)
    context: dict = {"errors": errors}
    if not errors:
        try:
            estimate = services.segment_estimate_recorded(definition=raw)
        except DefinitionError as error:
            context["errors"] = error.errors
        else:
            context["estimate"] = estimate
            context["live"] = isinstance(raw, dict) and raw.get("kind") == "live"
            context["reach"] = _reach_rows(services.estimate_as_dict(estimate))
            context["sample"] = selectors.segment_sample_cached(definition=raw, limit=SAMPLE_SIZE)
    context["error_lines"] = [
        (path, builder.error_label(path), message) for path, message in context["errors"].items()
    ]
    status = 200 if request.htmx or not context["errors"] else 400
    return render(request, "segments/_estimate.html", context, status=status)


@role_required(Role.MARKETER)
@require_POST
def segment_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    try:
        copy = services.segment_duplicate(segment=segment, created_by=request.user)
    except services.SegmentInvalid as error:
        messages.error(request, error.errors.get("name", str(error)))
        return redirect("segments:detail", pk=segment.pk)
    messages.success(request, f"Copied as “{copy.name}”.")
    return redirect("segments:edit", pk=copy.pk)


@role_required(Role.MARKETER)
@require_http_methods(["GET", "POST"])
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    usages = services.segment_usages(segment)
    if request.method == "POST":
        try:
            services.segment_delete(segment=segment)
        except services.SegmentInUse as error:
            usages = error.usages
        else:
            messages.success(request, f"Segment “{segment.name}” deleted.")
            return redirect("segments:list")
    context = {"segment": segment, "usages": usages}
    status = 409 if request.method == "POST" else 200
    return render(request, "segments/segment_delete.html", context, status=status)
