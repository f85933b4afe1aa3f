"""What the benchmarks share: their log line, a free loopback port, and a provider sandbox of
their own in a subprocess on free loopback ports (bench/providers.py, bench/fanout.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sandbox:
    def __init__(self, process: subprocess.Popen, base_url: str, *, timeout: float) -> None:
        from apps.providers.sandbox.client import SandboxClient

        self.process = process
        self.client = SandboxClient(base_url, timeout=timeout)

    @classmethod
    def start(cls, *, max_messages: int, client_timeout: float = 60) -> Sandbox:
        port, smtp_port = free_port(), free_port()
        process = subprocess.Popen(
            [
                *(sys.executable, "manage.py", "provider_sandbox"),
                *("--port", str(port), "--smtp-port", str(smtp_port)),
            ],
            cwd=ROOT,
            env={**os.environ, "HERALD_SANDBOX_MAX_MESSAGES": str(max_messages)},
            stdout=subprocess.DEVNULL,
        )
        sandbox = cls(process, f"http://127.0.0.1:{port}", timeout=client_timeout)
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                sandbox.stop()
                raise SystemExit("the provider sandbox did not start")
            try:
                sandbox.client.health()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        log(f"sandbox up on http://127.0.0.1:{port} (pid {process.pid})")
        return sandbox

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
