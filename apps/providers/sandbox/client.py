"""A small client for the sandbox's control API (`/_sandbox/…`), used by tests, the
benchmark and the Sandbox inbox page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx


class SandboxClient:
    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def url_for(self, label: str) -> str:
        """The base URL a provider uses to reach the sandbox under `label`."""
        return f"{self.base_url}/p/{label}"

    def health(self) -> dict[str, Any]:
        return self._checked(self._http.get("/_sandbox/health"))

    def messages(
        self, label: str | None = None, *, limit: int = 1000, order: str = "desc"
    ) -> list[dict[str, Any]]:
        """Recorded deliveries, newest first unless `order="asc"`."""
        params: dict[str, Any] = {"limit": limit, "order": order}
        if label:
            params["label"] = label
        return self._checked(self._http.get("/_sandbox/messages", params=params))["messages"]

    def counts(self) -> dict[str, int]:
        """Deliveries per label since the last clear; never truncated."""
        return self.health()["counts"]

    def clear(self) -> None:
        self._checked(self._http.delete("/_sandbox/messages"))

    def set_faults(
        self,
        label: str,
        *,
        error_rate: float = 0,
        error_status: int = 500,
        timeout_rate: float = 0,
        latency_ms: int = 0,
        reject_recipients: Iterable[str] = (),
    ) -> dict[str, Any]:
        plan = {
            "error_rate": error_rate,
            "error_status": error_status,
            "timeout_rate": timeout_rate,
            "latency_ms": latency_ms,
            "reject_recipients": list(reject_recipients),
        }
        return self._checked(self._http.put(f"/_sandbox/faults/{label}", json=plan))

    def reset_faults(self) -> None:
        self._checked(self._http.delete("/_sandbox/faults"))

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _checked(response: httpx.Response) -> dict[str, Any]:
        response.raise_for_status()
        return response.json()
