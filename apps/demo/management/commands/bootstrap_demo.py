"""First-run setup for `make run`: a demo admin, demo API credentials and demo audience data.

Safe to run every time: what exists is kept. The demo secrets are written to
var/demo-credentials.json (mode 0600, git-ignored) so every `make run` can print them again;
the database itself only ever holds the password hash and the passcode digest."""

import json
import secrets
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.accounts.models import User
from apps.accounts.services import account_settings_get, api_passcode_create
from apps.core.roles import Role
from apps.demo.providers import demo_providers_ensure

DEMO_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo admin, demo API credentials and demo audience data if missing."

    def add_arguments(self, parser):
        parser.add_argument("--profiles", type=int, default=settings.HERALD_DEMO_PROFILES)
        parser.add_argument("--events-per-profile", type=int, default=40)

    def handle(self, *args, profiles: int, events_per_profile: int, **options):
        credentials_file = Path(settings.VAR_DIR) / "demo-credentials.json"
        saved = _read(credentials_file)
        account = account_settings_get()

        if not User.objects.filter(username=DEMO_USERNAME).exists() or "password" not in saved:
            password = secrets.token_urlsafe(12)
            user, _ = User.objects.get_or_create(username=DEMO_USERNAME)
            user.role = Role.ADMIN
            user.is_staff = True
            user.set_password(password)
            user.save()
            saved["password"] = password
        if "passcode" not in saved or saved.get("account_id") != account.account_id:
            _, saved["passcode"] = api_passcode_create(name="Demo (make run)")
            saved["account_id"] = account.account_id
        _write(credentials_file, saved)

        demo_providers_ensure()

        profile_model = apps.get_model("audience", "Profile")
        if not profile_model.objects.exists():
            self.stdout.write(f"Loading demo audience: {profiles} profiles…")
            call_command(
                "seed_demo",
                profiles=profiles,
                events_per_profile=events_per_profile,
                stdout=self.stdout,
            )

        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Herald is starting at http://127.0.0.1:{settings.HERALD_PORT}\n"
                f"  Dashboard login:  {DEMO_USERNAME} / {saved['password']}\n"
                f"  API Account ID:   {saved['account_id']}\n"
                f"  API Passcode:     {saved['passcode']}\n"
                f"  (kept in {credentials_file})\n"
            )
        )


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _write(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2))
    path.chmod(0o600)
