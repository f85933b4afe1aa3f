from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class SegmentKind(models.TextChoices):
    PAST = "past", "Past behaviour"
    LIVE = "live", "Live behaviour"


class Segment(models.Model):
    """A saved audience definition (format v1, see apps/segments/definitions/). The kind is
    kept in its own column, copied from the definition, so lists filter on it without
    reading JSON."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=SegmentKind.choices, default=SegmentKind.PAST)
    definition = models.JSONField(default=dict, blank=True)
    # SET_NULL: removing a user must not take their segments (and the campaigns using them).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The last ReachEstimate as a dict of counts (total, push_android, …, email), so the list
    # shows reach without compiling every definition on each page view.
    last_estimate = models.JSONField(null=True, blank=True)
    estimated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # "Buyers" and "buyers" would be two segments nobody can tell apart in a picker.
            models.UniqueConstraint(Lower("name"), name="segment_name_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(kind__in=SegmentKind.values), name="segment_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name
