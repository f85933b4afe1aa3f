"""The Sandbox inbox: what the local provider sandbox received, for Admins.

The sandbox is a separate process (`manage.py provider_sandbox`); this page only reads its
control API, so it shows a friendly state instead of an error when it is not running."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.core.roles import Role, role_required
from apps.providers.sandbox.client import SandboxClient

INBOX_LIMIT = 200
# The page polls every 2 s: a sandbox that does not answer quickly is treated as down.
CONTROL_TIMEOUT_S = 2.0


def sandbox_base_url() -> str:
    return f"http://{settings.PROVIDER_SANDBOX_HOST}:{settings.PROVIDER_SANDBOX_PORT}"


def _url(request: HttpRequest, name: str) -> str:
    # Relative to wherever the sandbox URLs were included (under providers or settings).
    namespace = request.resolver_match.namespace if request.resolver_match else ""
    return reverse(f"{namespace}:{name}" if namespace else name)


def _inbox(*, label: str | None) -> dict:
    client = SandboxClient(sandbox_base_url(), timeout=CONTROL_TIMEOUT_S)
    try:
        health = client.health()
        received = client.messages(label=label, limit=INBOX_LIMIT)
    except httpx.HTTPError:
        return {"running": False, "received": [], "counts": {}}
    finally:
        client.close()
    for message in received:
        message["received"] = datetime.fromtimestamp(message["received_at"], tz=UTC)
    counts = dict(sorted(health.get("counts", {}).items()))
    return {"running": True, "received": received, "counts": counts, "total": sum(counts.values())}


@role_required(Role.ADMIN)
@require_GET
def sandbox_inbox(request: HttpRequest) -> HttpResponse:
    label = request.GET.get("label", "").strip() or None
    context = {
        **_inbox(label=label),
        "label": label,
        "limit": INBOX_LIMIT,
        "base_url": sandbox_base_url(),
        "smtp_port": settings.PROVIDER_SANDBOX_SMTP_PORT,
        "inbox_url": _url(request, "inbox"),
        "clear_url": _url(request, "clear"),
    }
    template = "providers/sandbox_inbox.html"
    return render(request, f"{template}#inbox" if request.htmx else template, context)


@role_required(Role.ADMIN)
@require_POST
def sandbox_inbox_clear(request: HttpRequest) -> HttpResponse:
    client = SandboxClient(sandbox_base_url(), timeout=CONTROL_TIMEOUT_S)
    try:
        client.clear()
        messages.success(request, "Sandbox inbox cleared.")
    except httpx.HTTPError:
        messages.error(request, "The provider sandbox is not running: there is nothing to clear.")
    finally:
        client.close()
    return redirect(_url(request, "inbox"))
