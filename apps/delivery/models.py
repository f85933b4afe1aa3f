"""The delivery engine's records: one CampaignRun per occurrence of a campaign, and one
Message per recipient (and device, for push) of a run.

A run's recipients are snapshotted into Message rows in one INSERT … SELECT (snapshot.py);
from then on the Message row *is* the unit of work: its status says what happened, and a
row that must wait (a DND delay, a user-timezone send, the rest of an A/B audience waiting for
the winner) carries `release_at`, which beat releases — never a Celery countdown, so a restart
loses nothing."""

from django.db import models
from django.db.models import Q

from apps.audience.models import Device, Profile
from apps.campaigns.models import Campaign
from apps.providers.models import Provider


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # created by beat; the snapshot is not taken yet
    SENDING = "sending", "Sending"
    TESTING = "testing", "A/B test running"  # test share sent, the rest waits for the winner
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"
    REFUSED = "refused", "Refused"  # by the safety check, or unable to start (the reason says)


class CampaignRun(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    # The occurrence this run is for (aware UTC). Unique with the campaign: two beats, or a
    # beat restarted mid-tick, can never start the same occurrence twice.
    scheduled_for = models.DateTimeField()
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    # Filled by the snapshot: everyone who qualified, and how they were split.
    qualified = models.PositiveIntegerField(null=True, blank=True)
    recipients = models.PositiveIntegerField(null=True, blank=True)
    control = models.PositiveIntegerField(null=True, blank=True)
    refused_reason = models.TextField(blank=True, default="")
    winner_variant = models.CharField(max_length=1, blank=True, default="")
    winner_details = models.JSONField(null=True, blank=True)  # the numbers behind the choice
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "scheduled_for"], name="campaign_run_once_per_occurrence"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="campaign_run_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} @ {self.scheduled_for:%Y-%m-%d %H:%M}"


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    WAITING = "waiting", "Waiting"  # has a release_at: DND delay, user timezone, A/B winner
    # Claimed by a send batch (batch.py): release_at is the claim's lease; a worker killed
    # mid-send leaves the row here, and beat requeues it only once the lease has run out.
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CONTROL = "control", "Control group"


class SkipReason(models.TextChoices):
    CONTROL = "control", "Control group"
    CAPPED = "capped", "Frequency cap"
    DND_DISCARDED = "dnd_discarded", "Do Not Disturb (discarded)"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    CUTOFF = "cutoff", "After the cut-off time"
    TIMEZONE_DROPPED = "timezone_dropped", "Local time already passed (dropped)"
    STOPPED = "stopped", "Campaign stopped"
    NOT_WINNER = "not_winner", "A/B test ended without sending"
    TRIGGER_CANCELLED = "trigger_cancelled", "Cancelled by the follow-up event"
    PER_USER_LIMIT = "per_user_limit", "Per-user limit of a live campaign"
    NO_ADDRESS = "no_address", "No phone, email or push token"
    # The account has no push provider for the device's platform (Message.error says which).
    NO_PUSH_ROUTE = "no_push_route", "No provider for the device's platform"


class Message(models.Model):
    id = models.BigAutoField(primary_key=True)
    # No database constraint and no single-column indexes on the foreign keys: the snapshot
    # writes a run's rows in one INSERT … SELECT, and at 1M rows the run FK's per-row check
    # cost 3.5 s and each extra index ~1.5 s. A run's rows go with it through Django's
    # cascade (one DELETE … WHERE run_id IN …); the (run, profile, device) constraints and
    # (run, status) index start with run_id and serve every lookup by run; a profile deleted
    # later must not rewrite sending history (DO_NOTHING).
    run = models.ForeignKey(
        CampaignRun,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="messages",
    )
    profile = models.ForeignKey(
        Profile, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    device = models.ForeignKey(
        Device,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # "A", "B", "C"; empty while the recipient waits for an A/B winner.
    variant = models.CharField(max_length=1, blank=True, default="")
    status = models.CharField(
        max_length=8, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    reason = models.CharField(max_length=20, blank=True, default="")
    release_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider = models.ForeignKey(
        Provider,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    provider_message_id = models.CharField(max_length=128, blank=True, default="")
    error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    # Live campaigns: the triggering event's properties, for {{Event.<prop>}} in the message.
    event_properties = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [
            # Nothing twice: one row per recipient (and device) per run, whatever the
            # variant — stricter than (run, profile, device, variant): nobody gets two
            # variants. Push rows name a device, SMS/email rows don't: two partial
            # constraints, each the arbiter that live.py's ON CONFLICT names by its WHERE.
            models.UniqueConstraint(
                fields=["run", "profile", "device"],
                name="message_once_per_device",
                condition=Q(device__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["run", "profile"],
                name="message_once_per_profile",
                condition=Q(device__isnull=True),
            ),
            models.CheckConstraint(
                condition=Q(status__in=MessageStatus.values), name="message_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=MessageStatus.WAITING) | Q(release_at__isnull=False),
                name="message_waiting_has_release_at",
            ),
        ]
        indexes = [
            # Beat's release scan touches only waiting rows.
            models.Index(
                fields=["release_at"],
                name="message_waiting_release_idx",
                condition=Q(status=MessageStatus.WAITING),
            ),
            # A run's rows waiting or in flight: "is the run finished?", the stale-run check.
            # Queued rows are left out on purpose: a snapshot writes a million of them in one
            # statement, and each index it feeds costs it ~0.6 s at 1M (bench/fanout.py); a
            # row enters this index when a batch claims it and leaves when it is recorded.
            # Lookups of all of a run's rows use the once-per-recipient constraints' indexes,
            # which start with run_id.
            models.Index(
                fields=["run"],
                name="message_busy_run_idx",
                condition=Q(status__in=[MessageStatus.WAITING, MessageStatus.SENDING]),
            ),
            # Beat's scan for send claims whose lease ran out (a worker died mid-send).
            models.Index(
                fields=["release_at"],
                name="message_sending_lease_idx",
                condition=Q(status=MessageStatus.SENDING),
            ),
            # The campaign page's failure table (failures.py) reads only a run's failed and
            # skipped rows; rows enter it when a batch records them, not at the snapshot.
            models.Index(
                fields=["run"],
                name="message_failed_run_idx",
                condition=Q(status__in=[MessageStatus.FAILED, MessageStatus.SKIPPED]),
            ),
            # Frequency caps and daily limits look up a profile's recent sends.
            models.Index(
                fields=["profile", "sent_at"],
                name="message_profile_sent_idx",
                condition=Q(status=MessageStatus.SENT),
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} → profile {self.profile_id} ({self.status})"


class MessageEventKind(models.TextChoices):
    # A click is not also counted as a view: CleverTap counts "Notification Viewed" and
    # "Notification Clicked" separately (an app may report only clicks), and so does Herald.
    VIEWED = "viewed", "Viewed"
    CLICKED = "clicked", "Clicked"


class MessageEvent(models.Model):
    """Something that happened to a sent Message after it left Herald, at most once per kind:
    the first view and the first click of a push the app reported (engagement.py). The run
    and campaign are copied from the message so counts per run or campaign need no join."""

    id = models.BigAutoField(primary_key=True)
    # No database constraint to Message (a run's million rows are deleted in one statement,
    # with no per-row check): the run's cascade removes these rows with its messages. The
    # unique constraint's index starts with message_id and serves lookups by message.
    message = models.ForeignKey(
        Message, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    run = models.ForeignKey(
        CampaignRun, on_delete=models.CASCADE, db_index=False, related_name="message_events"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    profile = models.ForeignKey(
        Profile, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=MessageEventKind.choices)
    occurred_at = models.DateTimeField()  # the event's ts, as the app reported it
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The first of each kind wins; later reports of it are ignored (ON CONFLICT).
            models.UniqueConstraint(fields=["message", "kind"], name="message_event_once_per_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=MessageEventKind.values), name="message_event_kind_valid"
            ),
        ]
        indexes = [
            # Counts per run (and, through its runs, per campaign), and the run's cascade.
            models.Index(fields=["run", "kind"], name="message_event_run_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"message {self.message_id} {self.kind}"
