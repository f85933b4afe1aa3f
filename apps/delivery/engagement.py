"""Push engagement reported by the app: a "Notification Viewed" or "Notification Clicked"
event uploaded through /1/upload with the push's `herald_mid` (README, "Push engagement")
becomes a MessageEvent of that message — the first view and the first click, once each.

The Upload API calls `push_engagement_record` with the events ingest stored; ingest itself is
unchanged (every event is kept as an Event whether it links or not). ONE statement per upload
reads those events back by id and inserts the links with ON CONFLICT DO NOTHING, so a batch of
a thousand events costs what a batch of one does, and an event sent twice counts once.

An event links only when all of these hold, and otherwise is just an event:
- its `herald_mid` is a message id as Herald writes it (digits, no sign, no leading zero; a
  JSON number works too) — nothing is guessed from `wzrk_id`;
- that message is a push (it names a device) that was sent (status sent);
- it was sent to the profile that uploaded the event: an app cannot claim another user's
  message by copying its id.

Decisions where the spec is silent:
- a click does not imply a view; each kind is recorded from its own event, as CleverTap
  counts them;
- `occurred_at` is the event's ts as the app reported it, even when the device's clock puts it
  before the send; of several reports of the same kind in one upload the earliest counts,
  across uploads the first one stored;
- a message that is still being recorded as sent when its click arrives (the provider has
  accepted it, the batch has not written "sent" yet) is not linked.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.audience.models import Event

from .models import CampaignRun, Message, MessageEvent, MessageEventKind, MessageStatus
from .winner import CLICK_EVENT, VIEW_EVENT

logger = logging.getLogger(__name__)

ENGAGEMENT_KINDS = {VIEW_EVENT: MessageEventKind.VIEWED, CLICK_EVENT: MessageEventKind.CLICKED}
# str(Message.pk): at most 18 digits, so the cast to bigint can never overflow.
_MESSAGE_ID_PATTERN = "^[1-9][0-9]{0,17}$"

_LINK_SQL = f"""
WITH reported AS (
    SELECT e.id, e.profile_id, e.ts, k.kind,
           CASE WHEN e.properties ->> 'herald_mid' ~ '{_MESSAGE_ID_PATTERN}'
                THEN (e.properties ->> 'herald_mid')::bigint END AS message_id
    FROM {Event._meta.db_table} e
    JOIN (VALUES (%s, %s), (%s, %s)) AS k (name, kind) ON k.name = e.name
    WHERE e.id = ANY(%s)
)
INSERT INTO {MessageEvent._meta.db_table}
    (message_id, run_id, campaign_id, profile_id, kind, occurred_at, created_at)
SELECT DISTINCT ON (m.id, r.kind)
       m.id, m.run_id, run.campaign_id, m.profile_id, r.kind, r.ts, %s
FROM reported r
JOIN {Message._meta.db_table} m ON m.id = r.message_id AND m.profile_id = r.profile_id
JOIN {CampaignRun._meta.db_table} run ON run.id = m.run_id
WHERE m.status = %s AND m.device_id IS NOT NULL
ORDER BY m.id, r.kind, r.ts, r.id
ON CONFLICT (message_id, kind) DO NOTHING
"""


def push_engagement_record(
    *, stored_events: list[tuple[int, str]], now: datetime | None = None
) -> int:
    """Link the views and clicks among `stored_events` ((id, name) of the Events an upload
    stored, as ingest returns them) to their messages; returns how many MessageEvents were
    new. No query when none of them is a view or a click. Never raises: the events are
    stored, and an error here must not make the client upload them again."""
    event_ids = [event_id for event_id, name in stored_events if name in ENGAGEMENT_KINDS]
    if not event_ids:
        return 0
    params = [
        *(str(value) for pair in ENGAGEMENT_KINDS.items() for value in pair),
        event_ids,
        now or timezone.now(),
        str(MessageStatus.SENT),
    ]
    try:
        # A savepoint: a failure here must not break a transaction the caller is in.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_LINK_SQL, params)
            return cursor.rowcount
    except DatabaseError:
        logger.exception("could not link %d push engagement events", len(event_ids))
        return 0
