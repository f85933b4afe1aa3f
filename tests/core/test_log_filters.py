"""A 4xx in the log is one line; a 5xx keeps its traceback."""

import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from django.urls import path

from apps.core.roles import public


@public
def _forbidden(request):
    raise PermissionDenied("This page needs the Marketer role.")


@public
def _broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("forbidden/", _forbidden), path("broken/", _broken)]


@pytest.fixture
def request_log(caplog):
    # The filter sits on the django.request logger itself, so records caplog sees passed it.
    caplog.set_level(logging.WARNING, logger="django.request")
    return caplog


@override_settings(ROOT_URLCONF=__name__)
def test_a_permission_denied_is_logged_as_one_line_without_a_traceback(client, request_log):
    assert client.get("/forbidden/").status_code == 403

    (record,) = [r for r in request_log.records if r.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /forbidden/"
    assert record.exc_info is None


@override_settings(ROOT_URLCONF=__name__)
def test_a_server_error_keeps_its_traceback(client, request_log):
    client.raise_request_exception = False
    assert client.get("/broken/").status_code == 500

    (record,) = [r for r in request_log.records if r.name == "django.request"]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
