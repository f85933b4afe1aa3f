"""Why a campaign's messages failed or were skipped, for the campaign page: the failed and
skipped rows grouped by reason, provider and what the provider said, largest groups first.

One grouped query, in SQL: a run can hold a million rows, and none of them is read into
Python. It filters on the run ids and status IN ('failed', 'skipped'), so PostgreSQL reads
the run's rows through the once-per-recipient indexes (they start with run_id) and groups
only the failed and skipped ones; control rows (status 'control') are never counted. Two
window aggregates over the groups give the totals beyond the cap in the same statement.

Provider errors name the recipient ("The 'To' number +15551234567 is not a valid phone
number.", "<jane@example.com>: Recipient address rejected"): the query groups on the error
with those details masked, so one kind of refusal is one row, and keeps one error as the
provider wrote it for an example. The masks are the query's main cost: about 1 µs per
pattern and failed row with an error (a 1M-row run with 333k such failures: ~1.5 s, where
the panel's progress count takes ~0.1 s); a run whose failures are few costs its scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BigIntegerField, Count, F, Func, Min, Q, TextField, Value, Window
from django.db.models.expressions import Combinable
from django.utils.text import Truncator

from apps.campaigns.models import Campaign
from apps.providers.models import KIND_CHOICES

from .models import CampaignRun, Message, MessageStatus
from .selectors import ACTIVE_RUN_STATUSES, FAILED_LABELS, SKIP_LABELS

GROUP_LIMIT = 20
# The id of the table's element: its htmx refreshes ask delivery:progress for it by this.
TARGET = "campaign-failures"
# The table shows this much of what the provider said; the rest is one click away.
SHORT_ERROR = 160
# What stands in for a masked detail in the grouped error.
MASK = "…"
# Applied in this order (PostgreSQL regular expressions, every match): a UUID; an email
# address; a push token or any other unbroken run of 32 or more letters, digits, "_", ":"
# or "-" (FCM tokens hold ":" and "-", APNs tokens are 64 hex digits); a phone number
# written with "+" and spaces or dashes; any number of seven or more digits (phone numbers,
# ids, timestamps). Error codes ("21211", "550 5.1.1") are shorter and stay.
ERROR_MASKS = (
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    r"[A-Za-z0-9_:-]{32,}",
    r"\+[0-9][0-9 ()-]{5,}[0-9]",
    r"\+?[0-9]{7,}",
)
STATUS_BADGES = {MessageStatus.FAILED: "bad", MessageStatus.SKIPPED: "warn"}
KIND_LABELS = dict(KIND_CHOICES)


def reason_label(status: str, reason: str) -> str:
    """A failed or skipped row's reason in words: the labels the panel's counts use (one
    place for the page), else the code itself."""
    labels = FAILED_LABELS if status == MessageStatus.FAILED else SKIP_LABELS
    if reason in labels:
        return labels[reason]
    return reason.replace("_", " ").capitalize() if reason else "No reason given"


def _regexp_replace(expression: Combinable, pattern: str) -> Func:
    return Func(
        expression,
        Value(pattern),
        Value(MASK),
        Value("g"),
        function="REGEXP_REPLACE",
        output_field=TextField(),
    )


def normalised_error(field: str = "error") -> Func:
    """The error with per-recipient details masked and outer spaces trimmed, in SQL."""
    expression: Combinable = F(field)
    for pattern in ERROR_MASKS:
        expression = _regexp_replace(expression, pattern)
    return Func(expression, function="BTRIM", output_field=TextField())


class _SumOfGroups(Func):
    """SUM(<an aggregate>), for use in Window(): the total over every group of a grouped
    query (Django's Sum refuses an aggregate inside)."""

    function = "SUM"
    window_compatible = True


@dataclass(frozen=True)
class FailureGroup:
    status: str  # failed or skipped
    reason: str
    reason_label: str
    provider_id: int | None
    provider_nickname: str  # "" without a provider, or when it was deleted since
    provider_kind: str  # the kind's label ("Twilio", "Apple Push (APNs)")
    error: str  # what the provider said, per-recipient details masked
    example: str  # one of the group's errors, as the provider wrote it
    messages: int

    @property
    def status_label(self) -> str:
        return MessageStatus(self.status).label

    @property
    def badge(self) -> str:
        return STATUS_BADGES.get(self.status, "")

    @property
    def provider_deleted(self) -> bool:
        return self.provider_id is not None and not self.provider_nickname

    @property
    def error_is_long(self) -> bool:
        return len(self.error) > SHORT_ERROR

    @property
    def short_error(self) -> str:
        return Truncator(self.error).chars(SHORT_ERROR)

    @property
    def shows_example(self) -> bool:
        """The example is worth a look: the table cut the error short, or masked part of it."""
        return bool(self.example) and (self.error_is_long or self.example.strip() != self.error)


@dataclass(frozen=True)
class FailureGroups:
    groups: list[FailureGroup]  # the largest GROUP_LIMIT, most messages first
    messages: int  # failed or skipped, in every group
    other_messages: int  # in the groups beyond the cap
    other_groups: int

    def __bool__(self) -> bool:
        return bool(self.groups)


NO_FAILURES = FailureGroups(groups=[], messages=0, other_messages=0, other_groups=0)


def campaign_failure_groups(
    campaign: Campaign, *, run: CampaignRun | None = None, limit: int = GROUP_LIMIT
) -> FailureGroups:
    """The failed and skipped messages of `run` (of all the campaign's runs when None),
    grouped by status, reason, provider and masked error: at most `limit` groups, most
    messages first, and how many messages the rest hold. One query."""
    if run is not None:
        if run.campaign_id != campaign.pk:
            raise ValueError(f"run {run.pk} is not one of campaign {campaign.pk}'s")
        in_runs = Q(run_id=run.pk)
    else:
        in_runs = Q(run_id__in=CampaignRun.objects.filter(campaign=campaign).values("pk"))
    rows = list(
        Message.objects.filter(in_runs, status__in=[MessageStatus.FAILED, MessageStatus.SKIPPED])
        .order_by()
        .annotate(said=normalised_error())
        .values("status", "reason", "provider_id", "provider__nickname", "provider__kind", "said")
        .annotate(
            n=Count("id"),
            example=Min("error"),
            all_messages=Window(_SumOfGroups(Count("id"), output_field=BigIntegerField())),
            all_groups=Window(Count("*")),
        )
        .order_by("-n", "status", "reason", "provider_id", "said")[:limit]
    )
    if not rows:
        return NO_FAILURES
    groups = [_group(row) for row in rows]
    messages = int(rows[0]["all_messages"])
    return FailureGroups(
        groups=groups,
        messages=messages,
        other_messages=messages - sum(group.messages for group in groups),
        other_groups=int(rows[0]["all_groups"]) - len(groups),
    )


def _group(row: dict) -> FailureGroup:
    kind = row["provider__kind"] or ""
    return FailureGroup(
        status=row["status"],
        reason=row["reason"],
        reason_label=reason_label(row["status"], row["reason"]),
        provider_id=row["provider_id"],
        provider_nickname=row["provider__nickname"] or "",
        provider_kind=KIND_LABELS.get(kind, kind),
        error=row["said"] or "",
        example=row["example"] or "",
        messages=row["n"],
    )


@dataclass(frozen=True)
class RunFailures:
    """The panel's failure table: one run's groups, and whether the table refreshes itself."""

    run: CampaignRun
    groups: FailureGroups

    @property
    def poll(self) -> bool:
        return self.run.status in ACTIVE_RUN_STATUSES


def run_failures(
    campaign: Campaign, run: CampaignRun, *, failed_or_skipped: int | None = None
) -> RunFailures:
    """The failure table of `run`, one of `campaign`'s. A caller that has counted the run's
    failed and skipped rows already (the delivery panel has) passes the count: when there
    are none, there is no query."""
    if failed_or_skipped == 0:
        return RunFailures(run=run, groups=NO_FAILURES)
    return RunFailures(run=run, groups=campaign_failure_groups(campaign, run=run))
