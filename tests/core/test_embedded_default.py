"""`make run` on a bare machine: SQLite + the filesystem broker, web + worker + beat as one
foreground process (the Procfile under honcho). Boots it for real and talks to it over HTTP."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        HERALD_VAR_DIR=str(tmp_path / "var"),
        HERALD_PORT=str(free_port()),
        HERALD_SANDBOX_PORT=str(free_port()),
        HERALD_SANDBOX_SMTP_PORT=str(free_port()),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _manage(env, *args) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_embedded_default_serves_the_dashboard_with_demo_data(embedded_env, tmp_path):
    _manage(embedded_env, "migrate", "--noinput")
    _manage(embedded_env, "collectstatic", "--noinput", "--verbosity", "0")
    printed = _manage(
        embedded_env, "bootstrap_demo", "--profiles", "60", "--events-per-profile", "5"
    )
    credentials = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert credentials["password"] in printed and credentials["passcode"] in printed
    assert (tmp_path / "var" / "herald.sqlite3").exists()

    base = f"http://127.0.0.1:{embedded_env['HERALD_PORT']}"
    log_path = tmp_path / "stack.log"
    stack = subprocess.Popen(
        [str(VENV_BIN / "honcho"), "start", "-f", "config/Procfile", "--app-root", "."],
        cwd=ROOT,
        env=embedded_env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        health = _wait_for_health(base, stack, log_path)
        assert health["checks"]["database"]["vendor"] == "sqlite"
        assert health["checks"]["broker"]["transport"] == "filesystem"
        assert health["checks"]["worker"]["ok"] is True

        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as browser:
            login_page = browser.get("/accounts/login/")
            assert "Log in" in login_page.text
            token = browser.cookies["csrftoken"]
            home = browser.post(
                "/accounts/login/",
                data={
                    "username": "admin",
                    "password": credentials["password"],
                    "csrfmiddlewaretoken": token,
                },
                headers={"Referer": f"{base}/accounts/login/"},
            )
            assert "Welcome to Herald" in home.text
            audience = browser.get("/audience/")
            assert audience.status_code == 200
            assert "Audience" in audience.text
            # Segments are built and saved on SQLite too; counting them says what it needs.
            builder = browser.get("/segments/new/")
            assert builder.status_code == 200
            estimate = browser.post(
                "/segments/estimate/",
                data={
                    "definition": '{"profile": [{"name": "Country", "operator": "equals",'
                    ' "value": "India"}]}',
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/segments/new/", "HX-Request": "true"},
            )
            assert estimate.status_code == 200
            assert "Counting a segment needs PostgreSQL" in estimate.text

        api = httpx.get(
            f"{base}/1/profile.json",
            params={"identity": "nobody-here"},
            headers={
                "X-CleverTap-Account-Id": credentials["account_id"],
                "X-CleverTap-Passcode": credentials["passcode"],
            },
        )
        assert api.json()["status"] == "fail" and api.status_code == 404
    finally:
        os.killpg(stack.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
    with pytest.raises(ProcessLookupError):  # Ctrl-C stopped web, worker and beat alike
        os.killpg(stack.pid, 0)


def _wait_for_health(base: str, stack: subprocess.Popen, log_path: Path) -> dict:
    deadline = time.monotonic() + 60
    last = None
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            pytest.fail(f"the stack exited early:\n{log_path.read_text()[-3000:]}")
        try:
            last = httpx.get(f"{base}/healthz", timeout=5)
            if last.status_code == 200:
                return last.json()
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"/healthz never answered 200: {last.text if last else 'no answer'}")
