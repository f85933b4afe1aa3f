import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
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


WEEKDAY_CHOICES = [
    ("mon", "Mon"),
    ("tue", "Tue"),
    ("wed", "Wed"),
    ("thu", "Thu"),
    ("fri", "Fri"),
    ("sat", "Sat"),
    ("sun", "Sun"),
]
LIMIT_CHANNELS = ("push", "sms", "email")

# A campaign's two ways out of the global limits, in the words of Settings → Global limits and
# of the campaign wizard's When step alike (both pages show these). Lifting the limits
# (delivery.respect_frequency_caps = false) drops the frequency caps and the default Do Not
# Disturb window; the throttle has its own checkbox (delivery.respect_throttle).
GLOBAL_LIMITS_OVERRIDE_LABEL = "Don't apply global campaign limits to this campaign"
GLOBAL_THROTTLE_LABEL = "Respect the global throttle"
GLOBAL_LIMITS_OVERRIDE_EFFECT = (
    "lifts the global frequency caps and the default Do Not Disturb window; the throttle has "
    f"its own checkbox, “{GLOBAL_THROTTLE_LABEL}”"
)


class DndTimezone(models.TextChoices):
    USER = "user", "The user's time zone"
    ACCOUNT = "account", "The account's time zone"


class DndAction(models.TextChoices):
    DISCARD = "discard", "Discard the message"
    DELAY = "delay", "Delay it to the end of the window"


def _optional_limit(verbose_name: str) -> models.PositiveIntegerField:
    # NULL is "no limit": a blank box on the settings page.
    return models.PositiveIntegerField(
        verbose_name, null=True, blank=True, validators=[MinValueValidator(1)]
    )


class GlobalLimits(models.Model):
    """Settings → Global limits (a singleton row, pk=1): what every campaign obeys unless it
    overrides it. Read by the delivery engine through apps.delivery.policies.global_limits().

    - frequency caps: at most N messages of a channel per profile in any rolling day / week;
    - the default Do-Not-Disturb window, for campaigns that did not set their own;
    - the default throttle: messages per minute per channel, shared by all campaigns."""

    push_per_day = _optional_limit("push messages per profile per day")
    push_per_week = _optional_limit("push messages per profile per week")
    sms_per_day = _optional_limit("SMS per profile per day")
    sms_per_week = _optional_limit("SMS per profile per week")
    email_per_day = _optional_limit("emails per profile per day")
    email_per_week = _optional_limit("emails per profile per week")

    push_throttle_per_minute = _optional_limit("push messages per minute")
    sms_throttle_per_minute = _optional_limit("SMS per minute")
    email_throttle_per_minute = _optional_limit("emails per minute")

    dnd_enabled = models.BooleanField(default=False)
    dnd_days = models.JSONField(default=list, blank=True)  # ["mon", "tue", …]
    dnd_start = models.TimeField(null=True, blank=True)
    dnd_end = models.TimeField(null=True, blank=True)  # earlier than start: runs overnight
    dnd_timezone = models.CharField(
        max_length=8, choices=DndTimezone.choices, default=DndTimezone.USER
    )
    dnd_action = models.CharField(
        max_length=8, choices=DndAction.choices, default=DndAction.DISCARD
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "global limits"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="global_limits_singleton"),
            # A DND window that is on must say when; the engine never guesses.
            models.CheckConstraint(
                condition=models.Q(dnd_enabled=False)
                | (
                    models.Q(dnd_start__isnull=False, dnd_end__isnull=False)
                    & ~models.Q(dnd_start=models.F("dnd_end"))
                ),
                name="global_limits_dnd_has_a_window",
            ),
        ]

    def __str__(self) -> str:
        return "Global limits"

    def frequency_caps(self, channel: str) -> tuple[int | None, int | None]:
        """(per day, per week) for a channel; None is no cap."""
        if channel not in LIMIT_CHANNELS:
            return None, None
        return getattr(self, f"{channel}_per_day"), getattr(self, f"{channel}_per_week")

    def channel_throttle_per_minute(self, channel: str) -> int | None:
        # Not named throttle_per_minute: that is the campaign delivery document's key, and a
        # method under that name would be mistaken for a number by duck-typed readers.
        if channel not in LIMIT_CHANNELS:
            return None
        return getattr(self, f"{channel}_throttle_per_minute")

    def default_dnd(self) -> dict | None:
        """The default DND as the `dnd` part of a campaign's delivery document (the shape
        apps.campaigns.when.dnd_release_at reads), or None when there is none."""
        if not (self.dnd_enabled and self.dnd_days and self.dnd_start and self.dnd_end):
            return None
        window = {"start": f"{self.dnd_start:%H:%M}", "end": f"{self.dnd_end:%H:%M}"}
        days = [day for day, _ in WEEKDAY_CHOICES if day in self.dnd_days]
        return {
            "enabled": True,
            "timezone": self.dnd_timezone,
            "action": self.dnd_action,
            "windows": {day: dict(window) for day in days},
        }
