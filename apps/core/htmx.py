"""When a view answers an htmx request with a partial instead of the whole page."""

from django.http import HttpRequest


def wants_partial(request: HttpRequest, *, target: str | None = None) -> bool:
    """An htmx swap, not htmx restoring a page from its history (that needs all of it).

    A boosted request is an htmx swap too: the list pages boost their page links into
    their results. Pass ``target`` (the id the swap lands in) when some htmx requests to
    the same URL swap something else — a boosted action form that lands on a list after its
    redirect swaps the body and needs the whole page.
    """
    htmx = getattr(request, "htmx", None)
    if not htmx or htmx.history_restore_request:
        return False
    return target is None or htmx.target == target
