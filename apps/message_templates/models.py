from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Channel(models.TextChoices):
    PUSH = "push", "Push"
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"


# The keys `content` holds for each channel, in the order the form shows them. A template
# stores all of them (empty when unused) so readers never need `.get(key, "")` guesses.
CONTENT_KEYS: dict[str, tuple[str, ...]] = {
    Channel.PUSH: (
        "title",
        "subtitle",
        "body",
        "image_url",
        "deep_link",
        "sound",
        "badge",
        "category",
        "custom_kv",
    ),
    Channel.SMS: ("body", "template_id"),
    Channel.EMAIL: ("subject", "preheader", "from_name", "html", "text"),
}


class MessageTemplate(models.Model):
    """Reusable content for one channel. `content` is a JSON object with the channel's
    CONTENT_KEYS; its text fields are Liquid, validated when saved (see services)."""

    name = models.CharField(max_length=120)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    content = models.JSONField(default=dict, blank=True)
    # SET_NULL: removing a user must not take their templates (and campaigns using them).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # "Welcome" and "welcome" would be two SMS templates nobody can tell apart in a
            # picker; the same name on another channel is fine (the picker is per channel).
            models.UniqueConstraint(
                Lower("name"), "channel", name="message_template_name_ci_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values),
                name="message_template_channel_valid",
            ),
        ]
        indexes = [
            # The library lists newest first, optionally for one channel.
            models.Index(fields=["channel", "-updated_at"], name="message_template_ch_upd_idx"),
            models.Index(fields=["-updated_at"], name="message_template_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name
