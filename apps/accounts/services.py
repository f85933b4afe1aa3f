import hashlib
import secrets
import string
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import AccountSettings, ApiPasscode

# Writing last_used_at on every API call would turn each upload into an extra write;
# once a minute is precise enough for "last used".
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _new_account_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    groups = [3, 3, 4]
    return "-".join("".join(secrets.choice(alphabet) for _ in range(n)) for n in groups)


def account_settings_get() -> AccountSettings:
    """The account's settings row, created with a fresh Account ID on first use."""
    account = AccountSettings.objects.filter(pk=1).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return AccountSettings.objects.create(pk=1, account_id=_new_account_id())
    except IntegrityError:  # another process created it first
        return AccountSettings.objects.get(pk=1)


def passcode_digest(passcode: str) -> str:
    return hashlib.sha256(passcode.encode()).hexdigest()


def api_passcode_create(*, name: str, created_by=None) -> tuple[ApiPasscode, str]:
    """Create a passcode; the raw value is returned once and never stored."""
    raw = secrets.token_urlsafe(32)
    passcode = ApiPasscode.objects.create(
        name=name, digest=passcode_digest(raw), hint=raw[:6], created_by=created_by
    )
    return passcode, raw


def api_passcode_revoke(*, passcode: ApiPasscode) -> bool:
    """Revoke once; returns False if it was already revoked."""
    return bool(
        ApiPasscode.objects.filter(pk=passcode.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def api_passcode_authenticate(*, account_id: str, passcode: str) -> ApiPasscode | None:
    """The active passcode matching both headers, or None. Records when it was last used."""
    if not account_id or not passcode:
        return None
    account = account_settings_get()
    if not secrets.compare_digest(account_id.encode(), account.account_id.encode()):
        return None
    match = ApiPasscode.objects.filter(
        digest=passcode_digest(passcode), revoked_at__isnull=True
    ).first()
    if match is None:
        return None
    now = timezone.now()
    if match.last_used_at is None or now - match.last_used_at > LAST_USED_RESOLUTION:
        ApiPasscode.objects.filter(pk=match.pk).update(last_used_at=now)
        match.last_used_at = now
    return match
