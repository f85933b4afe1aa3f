"""Reads for the campaign page's delivery panel: the current run's live progress, the A/B
result, and the run history.

Every count comes from ONE grouped query over the Message rows of all the runs shown
(GROUP BY run, status, reason, variant) — a handful of rows per run however many messages it
has — so the panel costs the same few queries for one run or twenty. The grouped count still
reads every row of the runs shown (through the once-per-recipient index, which starts with
run_id): cheap for the runs of most campaigns, polled every two seconds while one is active,
but linear in a run's size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q

from apps.campaigns.models import Campaign, CampaignStatus

from .models import CampaignRun, Message, MessageStatus, RunStatus, SkipReason
from .winner import METRIC_LABELS, deciding_metric, variant_keys

ACTIVE_RUN_STATUSES = (RunStatus.PENDING, RunStatus.SENDING, RunStatus.TESTING)
HISTORY_LIMIT = 20
THROTTLE_WINDOW = timedelta(minutes=1)
# Keep polling a little before a scheduled occurrence, so the page picks up the run beat is
# about to start instead of needing a reload.
STARTING_SOON = timedelta(minutes=1)
FINISHING = timedelta(minutes=1)

RUN_BADGES = {
    RunStatus.PENDING: "warn",
    RunStatus.SENDING: "good",
    RunStatus.TESTING: "warn",
    RunStatus.COMPLETED: "good",
    RunStatus.STOPPED: "bad",
    RunStatus.REFUSED: "bad",
}
SHORT_STATUS = {RunStatus.TESTING: "A/B testing", RunStatus.REFUSED: "Refused"}
AB_REST = "ab_rest"  # the waiting rest of an A/B test: WAITING with no variant yet
# Why rows wait (Message.reason while WAITING, written by the policies and live triggers).
WAITING_LABELS = {
    AB_REST: "A/B test: the rest waits for the winner",
    "dnd_delay": "Do Not Disturb (until the window ends)",
    "user_timezone": "User's time zone (local send time)",
}
SKIP_LABELS = dict(SkipReason.choices)
# Why rows failed (Message.reason while FAILED: batch.FAILED_*).
FAILED_LABELS = {
    "permanent": "Refused by the provider",
    "retries_exhausted": "Retries exhausted",
    "render_error": "The message did not render",
    "no_provider": "No provider to send through",
    "unregistered": "Device unregistered (deactivated)",
}


def _label(reason: str, labels: dict[str, str]) -> str:
    if reason in labels:
        return labels[reason]
    return reason.replace("_", " ").capitalize() if reason else "Other"


@dataclass
class RunCounts:
    queued: int = 0  # queued or being sent
    waiting: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    control: int = 0
    sent_last_minute: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    waiting_by_reason: dict[str, int] = field(default_factory=dict)
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    sent_by_variant: dict[str, int] = field(default_factory=dict)
    ab_release_at: datetime | None = None  # when the A/B rest is due: the test window's end

    def add(self, status: str, reason: str, variant: str, n: int, last_minute: int, release):
        if status == MessageStatus.SENT:
            self.sent += n
            self.sent_last_minute += last_minute
            self.sent_by_variant[variant] = self.sent_by_variant.get(variant, 0) + n
        elif status == MessageStatus.WAITING:
            self.waiting += n
            key = AB_REST if variant == "" else reason
            self.waiting_by_reason[key] = self.waiting_by_reason.get(key, 0) + n
            if (
                variant == ""
                and release
                and (self.ab_release_at is None or release < self.ab_release_at)
            ):
                self.ab_release_at = release
        elif status == MessageStatus.FAILED:
            self.failed += n
            self.failed_by_reason[reason] = self.failed_by_reason.get(reason, 0) + n
        elif status == MessageStatus.SKIPPED:
            self.skipped += n
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + n
        elif status == MessageStatus.CONTROL:
            self.control += n
        else:  # queued, or claimed by a send batch this very moment: still to go
            self.queued += n

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    @property
    def total(self) -> int:
        """Rows to deliver (control excluded): the progress bar's end."""
        return self.done + self.queued + self.waiting

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def skipped_rows(self) -> list[tuple[str, int]]:
        return _rows(self.skipped_by_reason, SKIP_LABELS)

    @property
    def waiting_rows(self) -> list[tuple[str, int]]:
        return _rows(self.waiting_by_reason, WAITING_LABELS)

    @property
    def failed_rows(self) -> list[tuple[str, int]]:
        return _rows(self.failed_by_reason, FAILED_LABELS)

    @property
    def nothing_sent_reason(self) -> str:
        """Why no message went out, for finished rows that sent none: what became of them
        ("3 skipped: Unsubscribed (2), Frequency cap (1)."), or why there were none."""
        if not self.total:
            if self.control:
                return f"Everyone who qualified ({self.control:,}) was in the control group."
            return "Nobody in the audience could be reached on this channel."
        parts = [
            f"{n:,} {what}: " + ", ".join(f"{label} ({count:,})" for label, count in rows)
            for n, what, rows in (
                (self.skipped, "skipped", self.skipped_rows),
                (self.failed, "failed", self.failed_rows),
            )
            if n
        ]
        return "; ".join(parts) + "."


def _rows(counts: dict[str, int], labels: dict[str, str]) -> list[tuple[str, int]]:
    return sorted(((_label(k, labels), n) for k, n in counts.items()), key=lambda r: (-r[1], r[0]))


def _grouped_counts(run_ids: list[int], *, now: datetime):
    return (
        Message.objects.filter(run_id__in=run_ids)
        .order_by()
        .values("run_id", "status", "reason", "variant")
        .annotate(
            n=Count("id"),
            last_minute=Count(
                "id", filter=Q(status=MessageStatus.SENT, sent_at__gte=now - THROTTLE_WINDOW)
            ),
            release=Min("release_at"),
        )
    )


def _add_row(counts: RunCounts, row: dict) -> None:
    counts.add(
        row["status"], row["reason"], row["variant"], row["n"], row["last_minute"], row["release"]
    )


def run_counts(run_ids: list[int], *, now: datetime) -> dict[int, RunCounts]:
    """Counts per run for all `run_ids` in one grouped query."""
    counts: dict[int, RunCounts] = defaultdict(RunCounts)
    if not run_ids:
        return counts
    for row in _grouped_counts(run_ids, now=now):
        _add_row(counts[row["run_id"]], row)
    return counts


@dataclass(frozen=True)
class NothingSent:
    reason: str
    refused: bool  # its last run was refused: `reason` is the refusal's own


def campaign_nothing_sent(campaign_id: int, *, now: datetime) -> NothingSent | None:
    """Why none of a campaign's runs sent a message; None when one did. Asked by the engine
    once the campaign's last run is final: the EXISTS stops at the first sent row, and only
    a campaign that sent nothing has its rows counted (one grouped query) to say why."""
    if Message.objects.filter(run__campaign_id=campaign_id, status=MessageStatus.SENT).exists():
        return None
    runs = list(
        CampaignRun.objects.filter(campaign_id=campaign_id)
        .order_by("-scheduled_for", "-pk")
        .values_list("pk", "status", "refused_reason")
    )
    if not runs:
        return NothingSent("No run was started.", refused=False)
    _, last_status, refused_reason = runs[0]
    if last_status == RunStatus.REFUSED:
        return NothingSent(refused_reason or "The run was refused.", refused=True)
    counts = RunCounts()
    for row in _grouped_counts([pk for pk, _, _ in runs], now=now):
        _add_row(counts, row)
    return NothingSent(counts.nothing_sent_reason, refused=False)


@dataclass(frozen=True)
class VariantRow:
    key: str
    name: str
    sent: int
    metric: int | None  # None while the test runs: measured once, when it is decided
    rate: float | None
    is_winner: bool

    @property
    def rate_percent(self) -> str:
        return "—" if self.rate is None else f"{self.rate * 100:.1f}%"


@dataclass(frozen=True)
class ABResult:
    metric_label: str
    rows: list[VariantRow]
    winner: str
    decided_at: datetime | None
    deciding_at: datetime | None


@dataclass(frozen=True)
class RunView:
    run: CampaignRun
    counts: RunCounts

    @property
    def is_active(self) -> bool:
        return self.run.status in ACTIVE_RUN_STATUSES

    @property
    def sent_nothing(self) -> bool:
        """Completed without a single message going out: it must not read "Completed"."""
        return self.run.status == RunStatus.COMPLETED and not self.counts.sent

    @property
    def badge(self) -> str:
        return "warn" if self.sent_nothing else RUN_BADGES.get(self.run.status, "")

    @property
    def status_label(self) -> str:
        if self.sent_nothing:
            return "Completed — nothing sent"
        return self.run.get_status_display()

    @property
    def short_status(self) -> str:
        """The history table's label: narrow enough for one line beside six columns."""
        if self.sent_nothing:
            return "Nothing sent"
        return SHORT_STATUS.get(self.run.status) or self.run.get_status_display()

    @property
    def nothing_sent_reason(self) -> str:
        return self.counts.nothing_sent_reason if self.sent_nothing else ""


@dataclass(frozen=True)
class CampaignProgress:
    campaign: Campaign
    current: RunView | None  # the active run, else the latest one
    runs: list[RunView]  # newest first, at most HISTORY_LIMIT
    more_runs: bool  # older runs exist beyond the history shown
    ab: ABResult | None
    poll: bool  # the panel refreshes itself (htmx) while this holds
    throttle_per_minute: int | None  # the campaign's own rate, if it set one


def _variant_names(campaign: Campaign) -> dict[str, str]:
    variants = (campaign.content or {}).get("variants") or []
    return {
        str(v["key"]): str(v.get("name") or f"Variant {v['key']}")
        for v in variants
        if isinstance(v, dict) and v.get("key")
    }


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def ab_result(campaign: Campaign, view: RunView) -> ABResult | None:
    """The test's table: the recorded numbers once decided, the live sent counts before."""
    run = view.run
    details = run.winner_details if isinstance(run.winner_details, dict) else None
    if details is None and run.status != RunStatus.TESTING:
        return None
    names = _variant_names(campaign)
    if details is not None:
        measured = details.get("variants") or {}
        rows = [
            VariantRow(
                key=key,
                name=names.get(key, f"Variant {key}"),
                sent=int(numbers.get("sent") or 0),
                metric=int(numbers.get("metric") or 0),
                rate=float(numbers.get("rate") or 0),
                is_winner=key == run.winner_variant,
            )
            for key, numbers in sorted(measured.items())
            if isinstance(numbers, dict)
        ]
        metric = str(details.get("metric") or "")
        return ABResult(
            metric_label=METRIC_LABELS.get(metric, metric.capitalize()),
            rows=rows,
            winner=run.winner_variant,
            decided_at=_parse_time(details.get("decided_at")),
            deciding_at=None,
        )
    deciding_at = view.counts.ab_release_at
    if deciding_at is None:  # the rest already left the waiting state: from the window
        window = float(((campaign.content or {}).get("ab") or {}).get("window_hours") or 0)
        deciding_at = run.scheduled_for + timedelta(hours=window)
    rows = [
        VariantRow(
            key=key,
            name=names.get(key, f"Variant {key}"),
            sent=view.counts.sent_by_variant.get(key, 0),
            metric=None,
            rate=None,
            is_winner=False,
        )
        for key in variant_keys(campaign)
    ]
    metric = deciding_metric(campaign)
    return ABResult(
        metric_label=METRIC_LABELS[metric],
        rows=rows,
        winner="",
        decided_at=None,
        deciding_at=deciding_at,
    )


def campaign_progress(campaign: Campaign, *, now: datetime) -> CampaignProgress:
    """Everything the delivery panel shows, in two queries: the runs, and their counts."""
    runs = list(
        CampaignRun.objects.filter(campaign=campaign).order_by("-scheduled_for", "-pk")[
            : HISTORY_LIMIT + 1
        ]
    )
    more_runs = len(runs) > HISTORY_LIMIT
    runs = runs[:HISTORY_LIMIT]
    counts = run_counts([run.pk for run in runs], now=now)
    views = [RunView(run, counts[run.pk]) for run in runs]
    current = next((v for v in views if v.is_active), views[0] if views else None)
    starting_soon = (
        campaign.status in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)
        and campaign.next_run_at is not None
        and campaign.next_run_at <= now + STARTING_SOON
    )
    # The engine finishes the run first and the campaign just after (completed, or back to
    # draft): keep polling a moment, so the page's status badge hears of the second too.
    finishing = (
        campaign.status == CampaignStatus.RUNNING
        and current is not None
        and not current.is_active
        and current.run.finished_at is not None
        and current.run.finished_at >= now - FINISHING
    )
    delivery = campaign.delivery if isinstance(campaign.delivery, dict) else {}
    throttle = delivery.get("throttle_per_minute")
    return CampaignProgress(
        campaign=campaign,
        current=current,
        runs=views,
        more_runs=more_runs,
        ab=ab_result(campaign, current) if current else None,
        poll=bool(current and current.is_active) or starting_soon or finishing,
        throttle_per_minute=(
            throttle
            if isinstance(throttle, int) and not isinstance(throttle, bool) and throttle > 0
            else None
        ),
    )
