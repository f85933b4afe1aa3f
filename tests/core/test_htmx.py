"""wants_partial: which requests get a partial and which the whole page."""

from django.http import HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxMiddleware

from apps.core.htmx import wants_partial


def _request(**headers):
    request = RequestFactory().get("/anything/", headers=headers)
    HtmxMiddleware(lambda request: HttpResponse())(request)  # sets request.htmx
    return request


HTMX = {"HX-Request": "true"}


def test_a_plain_request_gets_the_whole_page():
    assert wants_partial(_request()) is False


def test_an_htmx_request_gets_a_partial():
    assert wants_partial(_request(**HTMX)) is True


def test_a_boosted_request_gets_a_partial():
    # The list pages boost their page links into their results.
    assert wants_partial(_request(**HTMX, **{"HX-Boosted": "true"})) is True


def test_htmx_restoring_a_page_from_its_history_gets_the_whole_page():
    request = _request(**HTMX, **{"HX-History-Restore-Request": "true"})
    assert wants_partial(request) is False


def test_a_request_without_the_htmx_middleware_gets_the_whole_page():
    assert wants_partial(RequestFactory().get("/anything/", headers=HTMX)) is False


def test_with_a_target_only_a_swap_into_that_target_gets_a_partial():
    into_results = _request(**HTMX, **{"HX-Target": "results"})
    assert wants_partial(into_results, target="results") is True
    assert wants_partial(_request(**HTMX, **{"HX-Target": "other"}), target="results") is False


def test_with_a_target_a_boosted_request_for_the_body_gets_the_whole_page():
    # A boosted action form lands back on a list after its redirect, swapping the body.
    boosted = _request(**HTMX, **{"HX-Boosted": "true"})
    assert wants_partial(boosted, target="results") is False


def test_with_a_target_a_history_restore_still_gets_the_whole_page():
    request = _request(**HTMX, **{"HX-Target": "results", "HX-History-Restore-Request": "true"})
    assert wants_partial(request, target="results") is False
