"""Shared fixtures: users and logged-in clients per role, API credentials, and a real
Celery worker process running against the test database and Redis."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from apps.accounts.services import account_settings_get, api_passcode_create
from apps.core.roles import Role
from apps.providers.sandbox.client import SandboxClient
from config.celery_app import app as celery_app
from tests.accounts.factories import UserFactory
from tests.database import url_of_test_database
from tests.net import free_port

ROOT = Path(__file__).resolve().parent.parent

# Fixtures that start a real process (a Celery worker, the provider sandbox, a browser). A test
# using one, directly or through another fixture, must be marked `slow` so that `make test-fast`
# (pytest -m "not slow") skips it; pytest_runtest_setup fails the test otherwise.
PROCESS_FIXTURES = frozenset({"celery_worker", "provider_sandbox_process", "browser"})


def _require_slow(item, fixtures) -> None:
    if item.get_closest_marker("slow") is None:
        pytest.fail(
            f"{item.nodeid} starts a real process ({', '.join(sorted(fixtures))}): "
            "mark it @pytest.mark.slow (or the module's pytestmark)",
            pytrace=False,
        )


def pytest_runtest_setup(item):
    started = PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if started:
        _require_slow(item, started)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", role=Role.ADMIN)


@pytest.fixture
def marketer_user(db):
    return UserFactory(username="mia", role=Role.MARKETER)


@pytest.fixture
def viewer_user(db):
    return UserFactory(username="vic", role=Role.VIEWER)


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    return _client_for(client, admin_user)


@pytest.fixture
def marketer_client(client, marketer_user):
    return _client_for(client, marketer_user)


@pytest.fixture
def viewer_client(client, viewer_user):
    return _client_for(client, viewer_user)


@pytest.fixture
def htmx_client(marketer_client):
    """A marketer's client whose requests carry the HX-Request header, as htmx sends."""
    marketer_client.defaults["HTTP_HX_REQUEST"] = "true"
    return marketer_client


@pytest.fixture
def api_credentials(db):
    account = account_settings_get()
    _, raw = api_passcode_create(name="tests")
    return {"account_id": account.account_id, "passcode": raw}


@pytest.fixture
def api_headers(api_credentials):
    """Headers for Django's test client (HTTP_ prefixed)."""
    return {
        "HTTP_X_CLEVERTAP_ACCOUNT_ID": api_credentials["account_id"],
        "HTTP_X_CLEVERTAP_PASSCODE": api_credentials["passcode"],
    }


@pytest.fixture
def media_root(tmp_path, settings, monkeypatch):
    """Uploads go to a temporary folder, in this process and in a worker started after it."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    monkeypatch.setenv("HERALD_MEDIA_ROOT", str(root))
    return root


@pytest.fixture
def celery_worker(request, transactional_db):
    """A real `celery worker` process on every queue, using the test database.

    It is a separate process, so tests that use it need committed data: hence
    transactional_db. Queues are purged first so nothing from an earlier run leaks in.
    The test must be marked slow, even when it asks for the worker through
    request.getfixturevalue (which pytest_runtest_setup cannot see)."""
    _require_slow(request.node, {"celery_worker"})
    celery_app.control.purge()
    worker = start_celery_worker(f"test-{os.getpid()}")
    try:
        yield worker
    finally:
        stop_celery_worker(worker)


def start_celery_worker(name: str, **extra_env: str) -> subprocess.Popen:
    """A `celery worker` process on every queue against the test database, once it answers a
    ping under its own node name (so a second worker is not mistaken for the first)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url_of_test_database(),
        "REDIS_URL": os.environ["REDIS_URL"],
        **extra_env,
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            "notify,triggers,bulk,default",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{name}@%h",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not any(
        node.startswith(f"{name}@")
        for reply in (celery_app.control.ping(timeout=0.5) or [])
        for node in reply
    ):
        if worker.poll() is not None or time.monotonic() > deadline:
            stop_celery_worker(worker)
            raise RuntimeError(f"the Celery worker {name} did not start")
    return worker


def stop_celery_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


class ProviderSandbox:
    """A running `provider_sandbox` process: point a provider at `url_for(label)`."""

    def __init__(self, *, port: int, smtp_port: int) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.smtp_port = smtp_port
        self.base_url = f"http://127.0.0.1:{port}"
        self.client = SandboxClient(self.base_url)

    def url_for(self, label: str) -> str:
        return self.client.url_for(label)


@pytest.fixture(scope="session")
def provider_sandbox_process():
    """One sandbox process for the whole run, on free loopback ports."""
    port, smtp_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "provider_sandbox",
            "--port",
            str(port),
            "--smtp-port",
            str(smtp_port),
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        stdout=subprocess.DEVNULL,
    )
    sandbox = ProviderSandbox(port=port, smtp_port=smtp_port)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the provider sandbox did not start")
            try:
                sandbox.client.health()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield sandbox
    finally:
        sandbox.client.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def provider_sandbox(provider_sandbox_process):
    """The shared sandbox, emptied and without faults for this test."""
    provider_sandbox_process.client.reset_faults()
    provider_sandbox_process.client.clear()
    yield provider_sandbox_process
    provider_sandbox_process.client.reset_faults()


@pytest.fixture(autouse=True, scope="session")
def _no_run_bookkeeping_from_earlier_sessions():
    """The test database starts over every session, so its runs reuse the ids of an earlier
    session's runs, whose batch counts and progress times are still in the shared Redis."""
    from apps.delivery.bookkeeping import run_bookkeeping_forget

    run_bookkeeping_forget()


@pytest.fixture(autouse=True)
def _fresh_global_limits_cache():
    """The delivery engine keeps Settings → Global limits in a per-process cache for a few
    seconds; limits a test saved (and rolled back) must not reach the next test."""
    from apps.delivery.policies import global_limits_cache_clear

    global_limits_cache_clear()
    yield
    global_limits_cache_clear()
