"""Header authentication and method checks shared by every /1/ endpoint.

Stack them under `@public` and `@csrf_exempt` (the API authenticates by header, not by
session, and `@public` tells the permission-matrix test so):

    @public
    @csrf_exempt
    @api_methods("POST")
    @api_passcode_required
    def upload(request): ...
"""

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

from apps.accounts.services import api_passcode_authenticate

from . import errors

ACCOUNT_ID_HEADER = "X-CleverTap-Account-Id"
PASSCODE_HEADER = "X-CleverTap-Passcode"


def api_passcode_required(view: Callable) -> Callable:
    """401 in the API's error shape unless both headers match an active passcode; the
    passcode is then available as `request.api_passcode`."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        account_id = request.headers.get(ACCOUNT_ID_HEADER, "").strip()
        passcode = request.headers.get(PASSCODE_HEADER, "").strip()
        if not account_id or not passcode:
            missing = [
                name
                for name, value in ((ACCOUNT_ID_HEADER, account_id), (PASSCODE_HEADER, passcode))
                if not value
            ]
            return errors.api_error(
                f"Missing authentication header {' and '.join(missing)}",
                code=errors.UNAUTHORIZED,
                status=401,
            )
        match = api_passcode_authenticate(account_id=account_id, passcode=passcode)
        if match is None:
            return errors.api_error(
                "Invalid account id or passcode (or the passcode was revoked)",
                code=errors.UNAUTHORIZED,
                status=401,
            )
        request.api_passcode = match
        return view(request, *args, **kwargs)

    return wrapped


def api_methods(*methods: str) -> Callable:
    """405 in the API's error shape for any other HTTP method."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = errors.api_error(
                    f"Method {request.method} not allowed; use {' or '.join(methods)}",
                    code=errors.METHOD_NOT_ALLOWED,
                    status=405,
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
