"""Sending one batch of a run's rows: claim them, apply the campaign's policies, render,
call the provider chunk by chunk under the throttle, write the outcomes back.

Crash safety: acks_late + claim by conditional UPDATE.
- Tasks are acknowledged only after they return (acks_late), a task whose worker died is
  rejected back to the queue (reject_on_worker_lost) and a worker holds one task at a time
  (prefetch 1): a crash loses no batch, but a batch may run twice (redelivered, or enqueued
  again by a retried run task or by release_due).
- A batch therefore never trusts its id list. It *claims* its rows first, in one statement:
  UPDATE … SET status = 'sending', attempts = attempts + 1, release_at = now + lease
  WHERE id = ANY(ids) AND status = 'queued' RETURNING id. PostgreSQL row locks make the
  claim exclusive: a second worker running the same batch (or an overlapping one) claims
  nothing and sends nothing. Only claimed rows are sent, and their outcome is written back
  with WHERE status = 'sending' in one bulk UPDATE.
- A claim that only bumped `attempts` while leaving the row QUEUED would let a redelivered
  task claim it again and send it twice; hence the separate SENDING status.
- What a SIGKILL can leave behind: rows QUEUED whose task is still in the broker (the next
  worker sends them) and, at most, the rows of the one batch that was inside the provider
  call: SENDING with an unknown outcome (the provider may have taken them). They are not
  re-sent while their lease (HERALD_SEND_LEASE_S, 15 min) runs; afterwards release_due
  requeues them and they go out again with the same idempotency key
  (f"{run_id}:{profile_id}:{device_id or 0}:{variant}"), sent as an `Idempotency-Key`
  header by the per-message SMS adapters (APNs: apns-id; SMTP: Message-ID), which providers
  that honour one use to drop the repeat — the sandbox does, and tests/delivery/test_crash.py
  shows every recipient ending with exactly one message after a SIGKILL. That provider call
  is the one window where "nothing twice" rests on the provider; everywhere else it rests on
  the claim and the (run, profile, device) constraints.

Nothing waits in Celery: a retryable provider failure, a DND delay, a user-time-zone send is
a WAITING row with `release_at`, released by beat (release.py). Stop: the campaign's status
is read at the start of a batch and again before each chunk's provider call; a stopped
campaign's QUEUED and WAITING rows become SKIPPED (reason stopped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.campaigns.content import ContentInvalid, campaign_route, campaign_variants
from apps.campaigns.models import Campaign, CampaignStatus
from apps.message_templates.personalization import BUILT_IN_FIELDS
from apps.message_templates.rendering import MessageRenderer
from apps.providers.models import Provider
from apps.providers.routing import PushRoutes

from . import policies
from .bookkeeping import batch_was_last, note_progress
from .completion import run_finish_if_done, stop_sweep
from .messages import recipient_address, run_message
from .models import CampaignRun, Message, MessageStatus, SkipReason
from .sending import (  # noqa: F401 - FAILED_* re-exported: the reasons a batch records
    FAILED_NO_PROVIDER,
    FAILED_PERMANENT,
    FAILED_RENDER,
    FAILED_RETRIES_EXHAUSTED,
    FAILED_UNREGISTERED,
    Outcome,
    send_chunk,
    send_lease,
)

THROTTLE_CHUNK_SECONDS = 2.0


@dataclass
class BatchReport:
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _claim(run_id: int, message_ids: list[int], *, now: datetime) -> list[int]:
    """The claim (see the module docstring): only rows still QUEUED are taken."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} SET status = 'sending', "
            "attempts = attempts + 1, release_at = %s "
            # `run_id + 0`: the run check must not be an index condition. On statistics that
            # predate a large snapshot the planner would otherwise walk the run's open rows
            # (a million at 1M) instead of the batch's thousand primary keys.
            "WHERE id = ANY(%s) AND run_id + 0 = %s AND status = 'queued' RETURNING id",
            [now + send_lease(), list(message_ids), run_id],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _record(outcomes: dict[int, Outcome]) -> int:
    """Write every claimed row's outcome in one UPDATE … FROM unnest(…), only onto rows
    still SENDING (a row is recorded once)."""
    if not outcomes:
        return 0
    ids = list(outcomes)
    columns: dict[str, list[Any]] = {
        "status": [],
        "reason": [],
        "release_at": [],
        "provider_id": [],
        "provider_message_id": [],
        "error": [],
        "sent_at": [],
    }
    for message_id in ids:
        outcome = outcomes[message_id]
        for name in columns:
            columns[name].append(getattr(outcome, name))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} m SET status = o.status, reason = o.reason, "
            "release_at = o.release_at, provider_id = o.provider_id, "
            "provider_message_id = o.provider_message_id, error = o.error, sent_at = o.sent_at "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::bigint[], "
            "%s::text[], %s::text[], %s::timestamptz[]) "
            "AS o(id, status, reason, release_at, provider_id, provider_message_id, error, "
            "sent_at) WHERE m.id = o.id AND m.status = 'sending'",
            [
                ids,
                columns["status"],
                [r[:20] for r in columns["reason"]],
                columns["release_at"],
                columns["provider_id"],
                [p[:128] for p in columns["provider_message_id"]],
                columns["error"],
                columns["sent_at"],
            ],
        )
        return cursor.rowcount


def _decide(campaign: Campaign, run: CampaignRun, rows: list[Message], now: datetime) -> dict:
    """message id → (action, reason, release_at): cut-off, time zones, DND, frequency caps
    (policies.decide, one query for the whole batch)."""
    decisions = policies.decide(
        campaign,
        [
            {
                "message_id": row.pk,
                "profile_id": row.profile_id,
                "timezone": row.profile.timezone or "",
                "run_scheduled_for": run.scheduled_for,
            }
            for row in rows
        ],
        now=now,
        limits=policies.global_limits(),
    )
    return {d.message_id: (d.action, d.reason, d.release_at) for d in decisions}


def _throttle_rates(campaign: Campaign) -> list[tuple[str, int]]:
    """(bucket key, messages per minute) this campaign's sends draw from: its own and its
    channel's buckets (policies.throttle_rates)."""
    return list(policies.throttle_rates(campaign, policies.global_limits()))


def _throttle_chunk(rates: list[tuple[str, int]]) -> int:
    """Rows sent per throttle reservation: about THROTTLE_CHUNK_SECONDS of the slowest
    rate, so a throttled batch leaves at an even pace and Stop is seen between chunks."""
    if not rates:
        return 1 << 30
    return max(1, int(min(rate for _, rate in rates) / 60 * THROTTLE_CHUNK_SECONDS))


def _variants(campaign: Campaign) -> dict[str, dict]:
    return {str(v.get("key")): dict(v.get("message") or {}) for v in campaign_variants(campaign)}


def _batch_fields() -> list[str]:
    """The Message row, the profile fields a message can be personalised with (its time zone
    and addresses among them) and the device's address."""
    own = [f.name for f in Message._meta.concrete_fields]
    profile = [f"profile__{attribute}" for _, attribute in BUILT_IN_FIELDS]
    return [
        *own,
        *profile,
        "profile__properties",
        "device__push_token",
        "device__platform",
        "device__push_keys",
    ]


_BATCH_FIELDS = _batch_fields()


def send_batch(run_id: int, message_ids: list[int], *, now: datetime | None = None) -> BatchReport:
    """Send one batch of a run's rows (see the module docstring for the claim). The run's
    last batch in flight then checks whether the run is finished."""
    now = now or timezone.now()
    try:
        return _send_batch(run_id, message_ids, now=now)
    finally:
        if batch_was_last(run_id):
            run_finish_if_done(run_id, now=now)


def _send_batch(run_id: int, message_ids: list[int], *, now: datetime) -> BatchReport:
    report = BatchReport()
    run = (
        CampaignRun.objects.select_related(
            "campaign", "campaign__provider", "campaign__provider_group"
        )
        .filter(pk=run_id)
        .first()
    )
    if run is None:
        return report
    campaign = run.campaign
    if campaign.status == CampaignStatus.STOPPED:
        _skip_stopped(campaign, run_id, message_ids, now=now)
        return report

    claimed = _claim(run_id, message_ids, now=now)
    report.claimed = len(claimed)
    note_progress(run_id, timezone.now())
    if not claimed:
        return report
    route = campaign_route(campaign)
    outcomes, to_send = _prepare(campaign, run, route, _claimed_rows(claimed), now=now)
    # What is decided already is written now; the sends are written chunk by chunk, so a
    # crash leaves at most the chunk inside the provider call in doubt.
    _record(outcomes)
    outcomes.update(_send_in_chunks(campaign, route, to_send))
    for outcome in outcomes.values():
        report.counts[outcome.status] = report.counts.get(outcome.status, 0) + 1
    return report


def _skip_stopped(campaign: Campaign, run_id: int, message_ids: list[int], *, now) -> None:
    """A batch of a stopped campaign sends nothing: its rows and the campaign's are swept."""
    Message.objects.filter(pk__in=message_ids, run_id=run_id, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SKIPPED, reason=SkipReason.STOPPED
    )
    stop_sweep(campaign.pk, now=now)


def _claimed_rows(claimed: list[int]) -> list[Message]:
    """The claimed rows in id order, with their profiles and devices in the same query and
    only what a batch reads of them (parsing the timestamps it does not read was a tenth of
    a batch's CPU)."""
    return list(
        Message.objects.filter(pk__in=claimed)
        .select_related("profile", "device")
        .only(*_BATCH_FIELDS)
        .order_by("id")
    )


def _prepare(
    campaign: Campaign, run: CampaignRun, route, rows: list[Message], *, now: datetime
) -> tuple[dict[int, Outcome], list[tuple[Message, Any]]]:
    """Each claimed row either gets its outcome before any send (skipped, waiting, failed)
    or becomes the provider message to send, with its idempotency key."""
    outcomes: dict[int, Outcome] = {}
    to_send: list[tuple[Message, Any]] = []
    decisions = _decide(campaign, run, rows, now)
    variants = _variants(campaign)
    renderers: dict[str, MessageRenderer] = {}  # templates compiled once per batch
    for row in rows:
        address = recipient_address(campaign.channel, row)
        decision = decisions.get(row.pk, ("send", "", None))
        keys = row.device.push_keys if row.device_id and row.device else None
        if (outcome := _not_sent(route, decision, address, keys)) is not None:
            outcomes[row.pk] = outcome
            continue
        if (renderer := renderers.get(row.variant)) is None:
            renderer = renderers[row.variant] = MessageRenderer(
                campaign.channel, variants.get(row.variant, {})
            )
        try:
            rendered = renderer.render(row.profile, event=row.event_properties)
        except ContentInvalid as invalid:
            outcomes[row.pk] = Outcome(
                MessageStatus.FAILED, reason=FAILED_RENDER, error=str(invalid)
            )
            continue
        to_send.append((row, run_message(campaign, route, run, row, rendered, address)))
    return outcomes, to_send


def _not_sent(
    route, decision: tuple, address: tuple[str, str] | None, keys: dict | None = None
) -> Outcome | None:
    """Why a row is not sent, in this order: the policies skip it or make it wait, it has
    no address, the campaign has no active provider. None when it is sent."""
    action, reason, release_at = decision
    if action == "skip":
        return Outcome(MessageStatus.SKIPPED, reason=reason)
    if action == "wait" and release_at is not None:
        return Outcome(MessageStatus.WAITING, reason=reason, release_at=release_at)
    if address is None:
        return Outcome(MessageStatus.SKIPPED, reason=SkipReason.NO_ADDRESS)
    if isinstance(route, PushRoutes):
        platform, web_subscription = address[1], bool(keys)
        if route.provider_for(platform, web_subscription=web_subscription) is None:
            return Outcome(
                MessageStatus.SKIPPED,
                reason=SkipReason.NO_PUSH_ROUTE,
                error=route.problem_for(platform, web_subscription=web_subscription),
            )
        return None
    if route is None or (isinstance(route, Provider) and not route.is_active):
        return Outcome(
            MessageStatus.FAILED,
            reason=FAILED_NO_PROVIDER,
            error="The campaign has no active provider.",
        )
    return None


def _send_in_chunks(
    campaign: Campaign, route, to_send: list[tuple[Message, Any]]
) -> dict[int, Outcome]:
    """Send chunk by chunk under the throttle, recording each chunk's outcomes as it goes;
    once Stop is seen every remaining row is skipped."""
    outcomes: dict[int, Outcome] = {}
    rates = _throttle_rates(campaign)
    size = _throttle_chunk(rates)
    for start in range(0, len(to_send), size):
        chunk = to_send[start : start + size]
        chunk_outcomes = send_chunk(campaign, route, chunk, rates, remaining=to_send[start:])
        _record(chunk_outcomes)
        outcomes.update(chunk_outcomes)
        if any(o.reason == SkipReason.STOPPED for o in chunk_outcomes.values()):
            break  # Stop was seen: every remaining row is already skipped
    return outcomes
