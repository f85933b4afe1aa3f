import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from apps.core.roles import Role


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN


def validate_timezone_name(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not an IANA time zone such as Europe/Paris.")


class AccountSettings(models.Model):
    """The one Herald account this installation serves (a singleton row, pk=1)."""

    account_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120, default="Herald")
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone_name],
        help_text="Used by schedules, DND windows and daily limits unless a user's own applies.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "account settings"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="account_singleton")]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id})"


class ApiPasscode(models.Model):
    """A passcode for the REST API. Only its SHA-256 digest is stored: passcodes are 256-bit
    random tokens, so a fast digest is safe (no dictionary to attack) and keeps the per-
    request check to one indexed lookup instead of a deliberately slow hash."""

    name = models.CharField(max_length=80)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(
        max_length=8, help_text="The first characters, to tell passcodes apart."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
