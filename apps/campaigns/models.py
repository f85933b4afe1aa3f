"""Campaigns: what a marketer defines in the wizard and what the delivery engine runs.

The structured parts the engine filters on (channel, type, status, provider, segment, limits,
schedule times) are columns with database constraints; the rich, step-shaped settings (the
schedule, delivery options, message content, the conversion goal) are JSON documents owned
by the wizard's step forms, so adding a push option does not need a migration."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.functional import cached_property

from apps.accounts.selectors import account_timezone
from apps.providers.models import Channel, Provider, ProviderGroup
from apps.segments.models import Segment


class CampaignType(models.TextChoices):
    # One column for "past behaviour or live" and "which schedule": the Setup step picks one
    # of these six in a single choice, and the list filters on it directly.
    ONE_TIME = "one_time", "One time"
    MULTIPLE_DATES = "multiple_dates", "Multiple dates"
    RECURRING = "recurring", "Recurring"
    LIVE_ACTION = "live_action", "Live: single action"
    LIVE_INACTION = "live_inaction", "Live: inaction within time"
    LIVE_DATE = "live_date", "Live: on a date/time"


LIVE_TYPES = (CampaignType.LIVE_ACTION, CampaignType.LIVE_INACTION, CampaignType.LIVE_DATE)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    COMPLETED = "completed", "Completed"
    ARCHIVED = "archived", "Archived"


class WizardStep(models.IntegerChoices):
    """The wizard's steps in order; a campaign stores the last one it completed."""

    NONE = 0, "Not started"
    SETUP = 1, "Setup"
    WHO = 2, "Who"
    WHEN = 3, "When"
    WHAT = 4, "What"
    TEST = 5, "Test"
    SCHEDULE = 6, "Schedule"


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    campaign_type = models.CharField(
        max_length=16, choices=CampaignType.choices, default=CampaignType.ONE_TIME
    )
    status = models.CharField(
        max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # Set only while archived: unarchive puts the campaign back where it was.
    status_before_archive = models.CharField(
        max_length=12, choices=CampaignStatus.choices, blank=True, default=""
    )

    # Who sends. PROTECT: a provider or group in use cannot vanish from under a campaign.
    # SMS may name a provider or a failover group (neither while a draft is unfinished; the
    # default group is then used); push and email name a provider.
    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    provider_group = models.ForeignKey(
        ProviderGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    sender_name = models.CharField(max_length=200, blank=True)
    sender_email = models.EmailField(blank=True)
    reply_to_email = models.EmailField(blank=True)

    # Whom: a saved segment, or an ad-hoc definition (segments format v1) built in the wizard.
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="campaigns"
    )
    audience_definition = models.JSONField(null=True, blank=True)

    # Reach. NULL means "no limit".
    limit_overall = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    limit_per_run = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    limit_daily = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # The safety check: a run whose audience is above this does not send.
    safety_cap = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    control_group_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)]
    )
    push_all_devices = models.BooleanField(default=False)  # False: the last active device

    # Step documents, shaped by the wizard's forms (issue 6) and read by delivery (issue 7).
    when = models.JSONField(default=dict, blank=True)
    delivery = models.JSONField(default=dict, blank=True)
    content = models.JSONField(default=dict, blank=True)
    conversion_goal = models.JSONField(null=True, blank=True)

    wizard_step = models.PositiveSmallIntegerField(
        choices=WizardStep.choices, default=WizardStep.NONE
    )
    # SET_NULL: removing a user keeps their campaigns (and the history of what was sent).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)  # when Schedule was pressed
    # The next occurrence beat must start; NULL when nothing is due (draft, stopped, done).
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    # The safety check's mark: a run whose audience was above `safety_cap` sent nothing, and
    # the campaign went back to draft, held, until the marketer schedules it again. What the
    # check saw is kept here (the cap may be edited since) for the list and the overview;
    # the refused run itself stays in the run history.
    safety_held_at = models.DateTimeField(null=True, blank=True)
    safety_hold_reason = models.TextField(blank=True, default="")
    safety_hold_audience = models.PositiveIntegerField(null=True, blank=True)
    safety_hold_cap = models.PositiveIntegerField(null=True, blank=True)

    # Why the campaign's runs sent nothing, in the delivery engine's words, kept once it has
    # no run left: it completed with every message skipped or failed (it reads "Completed —
    # nothing sent"), or its last run was refused and it went back to draft, as a safety
    # hold does ("completed" would say it was sent). Scheduling again clears it.
    nothing_sent_reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="campaign_status_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="campaign_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(campaign_type__in=CampaignType.values), name="campaign_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="campaign_status_valid"
            ),
            # Archived exactly when the status to go back to is remembered, and never
            # "back to archived".
            models.CheckConstraint(
                condition=(
                    Q(status=CampaignStatus.ARCHIVED)
                    & Q(status_before_archive__in=CampaignStatus.values)
                    & ~Q(status_before_archive=CampaignStatus.ARCHIVED)
                )
                | (~Q(status=CampaignStatus.ARCHIVED) & Q(status_before_archive="")),
                name="campaign_archived_remembers_status",
            ),
            models.CheckConstraint(
                condition=Q(provider__isnull=True) | Q(provider_group__isnull=True),
                name="campaign_provider_xor_group",
            ),
            # Failover groups are an SMS feature.
            models.CheckConstraint(
                condition=Q(provider_group__isnull=True) | Q(channel=Channel.SMS),
                name="campaign_group_only_for_sms",
            ),
            models.CheckConstraint(
                condition=Q(segment__isnull=True) | Q(audience_definition__isnull=True),
                name="campaign_segment_xor_adhoc",
            ),
            models.CheckConstraint(
                condition=Q(control_group_percent__lte=100), name="campaign_control_percent_range"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gt": 0}),
                    name=f"campaign_{field}_positive",
                )
                for field in ("limit_overall", "limit_per_run", "limit_daily", "safety_cap")
            ],
            models.CheckConstraint(
                condition=Q(wizard_step__lte=WizardStep.SCHEDULE), name="campaign_wizard_step_range"
            ),
            # Held with everything the overview says, or not held at all.
            models.CheckConstraint(
                condition=(
                    Q(safety_held_at__isnull=True)
                    & Q(safety_hold_reason="")
                    & Q(safety_hold_audience__isnull=True)
                    & Q(safety_hold_cap__isnull=True)
                )
                | (
                    Q(safety_held_at__isnull=False)
                    & ~Q(safety_hold_reason="")
                    & Q(safety_hold_audience__isnull=False)
                    & Q(safety_hold_cap__isnull=False)
                ),
                name="campaign_safety_hold_complete",
            ),
            # Only a campaign that is done sending, or back in draft, says it sent nothing.
            models.CheckConstraint(
                condition=Q(nothing_sent_reason="")
                | Q(
                    status__in=[
                        CampaignStatus.DRAFT,
                        CampaignStatus.COMPLETED,
                        CampaignStatus.ARCHIVED,
                    ]
                ),
                name="campaign_nothing_sent_only_when_done",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @cached_property
    def push_expires_utc(self):
        """The absolute expiry the When step set for this push campaign's messages (aware
        UTC), or None; read once per loaded campaign (a send batch loads its own)."""
        from .when import push_expiry  # campaigns.when imports this module

        return push_expiry(self.delivery or {}, account_timezone())

    @property
    def is_live(self) -> bool:
        return self.campaign_type in LIVE_TYPES

    @property
    def is_safety_held(self) -> bool:
        return self.safety_held_at is not None

    @property
    def was_refused(self) -> bool:
        """Back in draft because its last run was refused (not by the safety check, which
        has its own mark and banner), with nothing sent."""
        return (
            self.status == CampaignStatus.DRAFT
            and bool(self.nothing_sent_reason)
            and not self.is_safety_held
        )
