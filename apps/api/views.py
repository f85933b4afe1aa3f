"""The CleverTap-compatible Upload API and profile lookup. Each view: authenticate (the
decorators), parse, call the audience service, answer JSON."""

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.db.models import F
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

from apps.audience.ingest import ingest_records, profile_lookup
from apps.core.roles import public
from apps.delivery import live
from apps.delivery.engagement import push_engagement_record

from . import errors
from .auth import api_methods, api_passcode_required
from .profiles import profile_record

logger = logging.getLogger(__name__)

# Query parameter → Profile key kind, in the order they are tried.
PROFILE_LOOKUP_PARAMETERS = {"identity": "identity", "objectId": "object_id", "email": "email"}


class InvalidPayload(Exception):
    pass


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def _json_body(request: HttpRequest):
    try:
        body = request.body
    except RequestDataTooBig:
        raise InvalidPayload(
            f"Invalid payload: the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"
        ) from None
    if not body.strip():
        raise InvalidPayload('Invalid payload: the body is empty; send {"d": [record, ...]}')
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as problem:
        raise InvalidPayload(f"Invalid payload: the body is not valid JSON ({problem})") from None


def _upload_records(request: HttpRequest) -> list:
    payload = _json_body(request)
    if not isinstance(payload, dict):
        raise InvalidPayload('Invalid payload: the body must be a JSON object {"d": [...]}')
    if "d" not in payload:
        raise InvalidPayload('Invalid payload: "d" is missing; send {"d": [record, ...]}')
    records = payload["d"]
    if not isinstance(records, list):
        raise InvalidPayload('Invalid payload: "d" must be a list of records')
    return records


@public
@csrf_exempt
@api_methods("POST")
@api_passcode_required
def upload(request: HttpRequest) -> JsonResponse:
    try:
        records = _upload_records(request)
    except InvalidPayload as problem:
        return errors.api_error(str(problem), code=errors.INVALID_PAYLOAD, status=400)
    limit = settings.UPLOAD_API_MAX_RECORDS
    if len(records) > limit:
        return errors.api_error(
            f'"d" has {len(records)} records; send at most {limit} per request',
            code=errors.TOO_MANY_RECORDS,
            status=400,
        )
    try:
        result = ingest_records(records)
    except DatabaseError:
        logger.exception("upload of %d records failed", len(records))
        return errors.api_error(
            "Unexpected error, please try again", code=errors.UNEXPECTED_ERROR, status=500
        )
    # Views and clicks of Herald's pushes (herald_mid) link to their messages.
    push_engagement_record(stored_events=result.stored_events)
    # Live campaigns see the events once they are committed (now, unless a caller wraps
    # this view in a transaction).
    stored = result.stored_events
    transaction.on_commit(lambda: live.events_uploaded(stored))
    return errors.api_success(
        {
            "processed": result.processed,
            "unprocessed": [
                {"status": "fail", "code": r.code, "error": r.error, "record": r.record}
                for r in result.rejected
            ],
        }
    )


@public
@csrf_exempt
@api_methods("GET")
@api_passcode_required
def profile_detail(request: HttpRequest) -> JsonResponse:
    lookup = next(
        (
            (key_kind, request.GET[parameter].strip())
            for parameter, key_kind in PROFILE_LOOKUP_PARAMETERS.items()
            if request.GET.get(parameter, "").strip()
        ),
        None,
    )
    if lookup is None:
        return errors.api_error(
            f"Give one of {', '.join(PROFILE_LOOKUP_PARAMETERS)} as a query parameter",
            code=errors.MISSING_LOOKUP_KEY,
            status=400,
        )
    profile = profile_lookup(key_kind=lookup[0], value=lookup[1])
    if profile is None:
        return errors.api_error("Profile not found", code=errors.PROFILE_NOT_FOUND, status=404)
    devices = list(profile.devices.order_by(F("last_active").desc(nulls_last=True), "-id"))
    return errors.api_success({"record": profile_record(profile, devices)})


@public
@csrf_exempt
def endpoint_not_found(request: HttpRequest) -> JsonResponse:
    """Any /1/ path no endpoint answers, with any method. A path that names an endpoint
    with a slash too many says which one was meant (Django's APPEND_SLASH cannot help an
    API client: it would redirect, and a redirected POST loses its body)."""
    message = f"No API endpoint at {request.path}"
    meant = request.path.rstrip("/")
    if meant != request.path:
        try:
            match = resolve(meant)
        except Resolver404:
            match = None
        if match is not None and match.namespace == "api" and match.func is not endpoint_not_found:
            message += f"; did you mean {meant}?"
    return errors.api_error(message, code=errors.ENDPOINT_NOT_FOUND, status=404)
