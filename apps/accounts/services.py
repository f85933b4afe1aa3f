import hashlib
import secrets
import string
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.roles import Role

from .models import AccountSettings, ApiPasscode, GlobalLimits, User

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


def global_limits_get() -> GlobalLimits:
    """The global limits row, created empty (no caps, no DND, no throttle) on first use."""
    limits = GlobalLimits.objects.filter(pk=1).first()
    if limits is not None:
        return limits
    try:
        with transaction.atomic():
            return GlobalLimits.objects.create(pk=1)
    except IntegrityError:  # another process created it first
        return GlobalLimits.objects.get(pk=1)


def global_limits_update(**fields) -> GlobalLimits:
    """Save the Settings → Global limits form. The delivery engine reads the row through a
    short per-process cache (apps.delivery.policies.global_limits), so workers see a change
    within LIMITS_CACHE_SECONDS there."""
    limits = global_limits_get()
    for name, value in fields.items():
        setattr(limits, name, value)
    limits.save()
    return limits


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


def account_settings_update(*, account: AccountSettings, name: str, timezone: str) -> None:
    """Save the account's name and time zone (validated by the caller's form)."""
    account.name = name
    account.timezone = timezone
    account.full_clean()
    account.save(update_fields=["name", "timezone", "updated_at"])


class UserChangeRefused(Exception):
    """A role or activity change that would lock the team out; the message says why."""


def user_create(
    *,
    username: str,
    email: str,
    role: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
) -> User:
    return User.objects.create_user(
        username=username,
        email=email,
        password=password,
        role=role,
        first_name=first_name,
        last_name=last_name,
    )


def user_change_role(*, user: User, role: str, acting_user: User | None = None) -> User:
    """Give `user` a new role. Refuses to demote yourself or the last active admin."""
    if role not in Role.values:
        raise UserChangeRefused(f"“{role}” is not a role.")
    return _user_change(user=user, acting_user=acting_user, role=role, is_active=None)


def user_set_active(*, user: User, is_active: bool, acting_user: User | None = None) -> User:
    """Deactivate (the user can no longer log in) or reactivate. Refuses to deactivate
    yourself or the last active admin."""
    return _user_change(user=user, acting_user=acting_user, role=None, is_active=is_active)


def _user_change(
    *, user: User, acting_user: User | None, role: str | None, is_active: bool | None
) -> User:
    with transaction.atomic():
        # Lock every active admin row first: two admins demoting each other at the same
        # moment would otherwise both see "two admins left" and leave none.
        active_admin_ids = set(
            User.objects.select_for_update()
            .filter(role=Role.ADMIN, is_active=True)
            .values_list("pk", flat=True)
        )
        target = User.objects.select_for_update().get(pk=user.pk)
        if acting_user is not None and acting_user.pk not in active_admin_ids:
            raise UserChangeRefused("Only an active admin can change users.")
        new_role = target.role if role is None else role
        new_active = target.is_active if is_active is None else is_active
        loses_admin = target.pk in active_admin_ids and not (new_role == Role.ADMIN and new_active)
        if loses_admin and len(active_admin_ids) <= 1:
            raise UserChangeRefused(
                f"{target.get_username()} is the last active admin: make another user an "
                "admin first, or Herald would have nobody left to manage it."
            )
        if acting_user is not None and target.pk == acting_user.pk:
            if not new_active:
                raise UserChangeRefused("You cannot deactivate yourself.")
            if new_role != target.role:
                raise UserChangeRefused(
                    "You cannot change your own role; ask another admin to do it."
                )
        target.role = new_role
        target.is_active = new_active
        target.save(update_fields=["role", "is_active"])
    user.role, user.is_active = target.role, target.is_active
    return target
