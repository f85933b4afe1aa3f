"""`make run` on a bare machine: the launcher (`python -m config.run`, what `make run` runs)
starts Herald's embedded PostgreSQL and Redis under var/, migrates, loads the demo, and runs
web + worker + beat + sandbox. This test boots it exactly so, with nothing set but ports and
a small demo audience, and uses it over HTTP: logs in, counts a segment's reach, and sends a
push, an SMS and an email campaign "now" through the real beat and worker to the sandbox.

The campaigns are written with `manage.py shell` beside the running stack (through
campaigns.services, as the wizard writes them); the browser walk through the wizard itself
is tests/e2e/test_campaign_wizard.py."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from apps.providers.sandbox.client import SandboxClient
from tests.net import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

DEMO_PROFILES = 150

# Run inside the booted stack by `manage.py shell`: three campaigns to everyone, sent now.
CREATE_CAMPAIGNS = """
import json
from apps.campaigns.services import campaign_create_draft, campaign_schedule
from apps.providers.models import Provider
from apps.segments.services import segment_create

everyone = segment_create(name="Everyone (smoke)", definition={"version": 1, "kind": "past"})
messages = {
    "push": {"title": "Hello {{ Profile.Name }}", "body": "Smoke push"},
    "sms": {"body": "Smoke SMS for {{ Profile.Name }}"},
    "email": {"subject": "Smoke email", "html": "<p>Hi {{ Profile.Name }}</p>"},
}
# Push has no provider of its own: each device goes through its platform's push route.
nicknames = {"sms": "Twilio (sandbox)", "email": "SendGrid (sandbox)"}
ids = {}
for channel, message in messages.items():
    campaign = campaign_create_draft(
        name=f"Smoke {channel}",
        channel=channel,
        provider=Provider.objects.filter(nickname=nicknames.get(channel, "")).first(),
        segment=everyone,
        when={"type": "now", "user_timezone": {"enabled": False, "late": "wrap"}, "cutoff": None},
        content={
            "mode": "single",
            "variants": [{"key": "A", "name": "Variant A", "match": "", "message": message}],
        },
    )
    ids[channel] = campaign_schedule(campaign=campaign).pk
print(json.dumps(ids))
"""

RUN_COUNTS = """
import json
from django.db.models import Count
from apps.delivery.models import CampaignRun, Message
runs = {}
for run in CampaignRun.objects.filter(campaign_id__in=%(ids)s):
    outcomes = Message.objects.filter(run=run).values("status", "reason", "error")
    runs[str(run.campaign_id)] = {
        "status": run.status,
        "recipients": Message.objects.filter(run=run).count(),
        "sent": Message.objects.filter(run=run, status="sent").count(),
        "not_sent": list(outcomes.exclude(status="sent").annotate(n=Count("id"))[:5]),
    }
print(json.dumps(runs))
"""


@pytest.fixture
def var_dir():
    # A folder of our own, open to the PostgreSQL system user when the suite runs as root
    # (pytest's tmp_path is mode 700), so the data stays in it as on a laptop.
    home = Path(tempfile.mkdtemp(prefix="herald-make-run-"))
    home.chmod(0o755)
    yield home / "var"
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def make_run_env(var_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        HERALD_VAR_DIR=str(var_dir),
        HERALD_PORT=str(free_port()),
        HERALD_SANDBOX_PORT=str(free_port()),
        HERALD_SANDBOX_SMTP_PORT=str(free_port()),
        HERALD_DEMO_PROFILES=str(DEMO_PROFILES),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _make_run(env: dict, log_path: Path) -> subprocess.Popen:
    """What `make run` runs after installing, in its own session (so a test's SIGINT to the
    group is a terminal's Ctrl-C); the output is appended to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "config.run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _manage_shell(env: dict, code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_make_run_boots_embedded_servers_and_sends_every_channel_to_the_sandbox(
    make_run_env, var_dir
):
    base = f"http://127.0.0.1:{make_run_env['HERALD_PORT']}"
    log_path = var_dir.parent / "make-run.log"
    stack = _make_run(make_run_env, log_path)
    sandbox = SandboxClient(f"http://127.0.0.1:{make_run_env['HERALD_SANDBOX_PORT']}")
    try:
        health = _wait_for_health(base, stack, log_path)
        assert health["checks"]["database"]["vendor"] == "postgresql"
        assert "redis" in health["checks"]["broker"]["transport"].lower()
        assert health["checks"]["worker"]["ok"] is True
        # Data and sockets under var/, no TCP port of their own.
        assert (var_dir / "postgres" / "PG_VERSION").read_text().strip() == "18"
        assert (var_dir / "run" / "redis" / "redis.sock").is_socket()
        credentials = json.loads((var_dir / "demo-credentials.json").read_text())

        with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as browser:
            browser.get("/accounts/login/")
            home = browser.post(
                "/accounts/login/",
                data={
                    "username": "admin",
                    "password": credentials["password"],
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/accounts/login/"},
            )
            assert "Welcome to Herald" in home.text
            browser.get("/segments/new/")
            estimate = browser.post(
                "/segments/estimate/",
                data={
                    "definition": json.dumps({"version": 1, "kind": "past"}),
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/segments/new/", "HX-Request": "true"},
            )
            assert estimate.status_code == 200
            assert f"{DEMO_PROFILES:,}" in estimate.text, estimate.text[:2000]
            assert "PostgreSQL" not in estimate.text

        ids = _manage_shell(make_run_env, CREATE_CAMPAIGNS)
        runs = _wait_for_runs(make_run_env, ids, stack, log_path)
        counts = sandbox.counts()
        # Push: Android through FCM, iOS through APNs, the web through Web Push.
        labels = {"push": ("fcm", "apns", "webpush"), "sms": ("twilio",), "email": ("sendgrid",)}
        for channel, campaign_id in ids.items():
            run = runs[str(campaign_id)]
            assert run["status"] == "completed", (channel, run)
            # Every recipient sent, and every message sent is in the sandbox inbox, once.
            assert run["recipients"] > 0 and run["sent"] == run["recipients"], (channel, run)
            recorded = sum(counts.get(label, 0) for label in labels[channel])
            assert recorded == run["sent"], (channel, counts, run)
        assert all(counts.get(label, 0) > 0 for label in labels["push"]), counts
        log = log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:5000]
    finally:
        sandbox.close()
        os.killpg(stack.pid, signal.SIGINT)  # what Ctrl-C does in a terminal
        try:
            stack.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
    assert stack.returncode == 0, log_path.read_text()[-3000:]
    with pytest.raises(ProcessLookupError):  # Ctrl-C stopped web, worker, beat and sandbox
        os.killpg(stack.pid, 0)
    # ... and the launcher stopped both servers after them.
    assert not (var_dir / "postgres" / "postmaster.pid").exists()
    assert not (var_dir / "run" / "redis" / "redis.sock").exists()


def _wait_for_health(base: str, stack: subprocess.Popen, log_path: Path) -> dict:
    deadline = time.monotonic() + 180
    last = None
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            pytest.fail(f"make run exited early:\n{log_path.read_text()[-3000:]}")
        try:
            last = httpx.get(f"{base}/healthz", timeout=5)
            if last.status_code == 200:
                return last.json()
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"/healthz never answered 200: {last.text if last else 'no answer'}")


def _wait_for_runs(env: dict, ids: dict, stack: subprocess.Popen, log_path: Path) -> dict:
    """Beat starts each run within its tick; the worker sends. Wait until all have finished."""
    deadline = time.monotonic() + 180
    runs: dict = {}
    while time.monotonic() < deadline:
        if stack.poll() is not None:
            pytest.fail(f"make run exited:\n{log_path.read_text()[-3000:]}")
        runs = _manage_shell(env, RUN_COUNTS % {"ids": sorted(ids.values())})
        if len(runs) == len(ids) and all(
            run["status"] not in ("pending", "sending", "testing") for run in runs.values()
        ):
            return runs
        time.sleep(2)
    pytest.fail(f"the runs did not finish: {runs}\n{log_path.read_text()[-3000:]}")


def test_a_second_start_reuses_the_data_and_a_dead_server_stops_everything(make_run_env, var_dir):
    log_path = var_dir.parent / "make-run.log"

    def boot() -> subprocess.Popen:
        return _make_run(make_run_env, log_path)

    base = f"http://127.0.0.1:{make_run_env['HERALD_PORT']}"
    first = boot()
    try:
        _wait_for_health(base, first, log_path)
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.wait(timeout=90)
    credentials = (var_dir / "demo-credentials.json").read_text()

    second = boot()
    try:
        _wait_for_health(base, second, log_path)
        log = log_path.read_text()
        assert log.count("Loading demo audience") == 1  # the data was kept
        assert (var_dir / "demo-credentials.json").read_text() == credentials
        redis_pid = int((var_dir / "redis" / "redis.pid").read_text())
        os.kill(redis_pid, signal.SIGKILL)
        second.wait(timeout=90)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
            second.wait()
    log = log_path.read_text()
    assert second.returncode == 1
    assert "herald: the embedded Redis exited (code -9)" in log and "stopping Herald" in log
    with pytest.raises(ProcessLookupError):  # web, worker, beat and sandbox went with it
        os.killpg(second.pid, 0)
    assert not (var_dir / "postgres" / "postmaster.pid").exists()  # and PostgreSQL too
