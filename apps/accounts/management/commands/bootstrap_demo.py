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

DEMO_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo admin, demo API credentials and demo audience data if missing."

    def add_arguments(self, parser):
        parser.add_argument("--profiles", type=int, default=5000)
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

        _demo_providers()

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
                "\n  Herald is starting at http://127.0.0.1:8000\n"
                f"  Dashboard login:  {DEMO_USERNAME} / {saved['password']}\n"
                f"  API Account ID:   {saved['account_id']}\n"
                f"  API Passcode:     {saved['passcode']}\n"
                f"  (kept in {credentials_file})\n"
            )
        )


def _demo_providers() -> None:
    """Demo providers pointing at the local provider sandbox, and a default demo SMS group,
    so a new user can send a test SMS and see it in the Sandbox inbox."""
    from apps.providers.models import Provider, ProviderGroup
    from apps.providers.services import provider_create, provider_group_save

    sandbox = f"http://{settings.PROVIDER_SANDBOX_HOST}:{settings.PROVIDER_SANDBOX_PORT}/p"
    demo = [
        (
            "sms",
            "twilio",
            "Twilio (sandbox)",
            "twilio",
            {"account_sid": "ACdemo", "auth_token": "demo"},
            {"from_number": "+15550000001"},
        ),
        (
            "sms",
            "vonage",
            "Vonage (sandbox)",
            "vonage",
            {"api_key": "demo", "api_secret": "demo"},
            {"from": "Herald"},
        ),
        (
            "email",
            "sendgrid",
            "SendGrid (sandbox)",
            "sendgrid",
            {"api_key": "SG.demo"},
            {"from_email": "demo@herald.test", "from_name": "Herald"},
        ),
        (
            "push",
            "fcm",
            "FCM (sandbox)",
            "fcm",
            lambda: {
                "service_account": _demo_fcm_service_account(token_uri=f"{sandbox}/fcm/token")
            },
            {"project_id": "herald-demo"},
        ),
        (
            "push",
            "apns",
            "APNs (sandbox)",
            "apns",
            lambda: {
                "key_id": "DEMOKEY123",
                "team_id": "DEMOTEAM12",
                "private_key": _demo_apns_key(),
            },
            {"topic": "test.herald.demo"},
        ),
    ]
    for channel, kind, nickname, label, credentials, provider_settings in demo:
        if not Provider.objects.filter(channel=channel, nickname=nickname).exists():
            provider_create(
                channel=channel,
                kind=kind,
                nickname=nickname,
                base_url=f"{sandbox}/{label}",
                # Push keys are generated only when the provider is first created.
                credentials=credentials() if callable(credentials) else credentials,
                settings=provider_settings,
            )
    if not ProviderGroup.objects.filter(name="Demo SMS").exists():
        sms = [
            Provider.objects.get(channel="sms", nickname=n)
            for n in ("Twilio (sandbox)", "Vonage (sandbox)")
        ]
        provider_group_save(
            name="Demo SMS",
            providers=sms,
            is_default=not ProviderGroup.objects.filter(is_default=True).exists(),
        )


def _demo_fcm_service_account(*, token_uri: str) -> str:
    """A throwaway service account: the sandbox checks the JWT's claims, not its signature,
    so a freshly generated key is all the demo needs (and nothing real is ever stored)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "herald-demo",
            "client_email": "herald-demo@herald-demo.iam.gserviceaccount.com",
            "private_key": pem,
            "token_uri": token_uri,
        }
    )


def _demo_apns_key() -> str:
    """A throwaway P-256 key in the .p8 (PKCS#8 PEM) form Apple hands out."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
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
