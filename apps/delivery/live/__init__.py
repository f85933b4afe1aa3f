"""Live campaigns: events stored by the Upload API trigger Message rows; a daily job finds the
profiles whose event date comes up.

The three live kinds (apps/segments/definitions/live.py `live_normalise`, timing in `when.live`,
apps/campaigns/when/document.py `_clean_live`):
- single action: a matching event makes a WAITING row released at event ts + delay, carrying
  the event's properties for `{{Event.<prop>}}`;
- inaction within time: the event makes a WAITING row released when the window closes
  (ts + inaction window + delay); the "not followed by" event, arriving while the window is
  open, flips that row to SKIPPED trigger_cancelled;
- on a date/time: `live_date_due(now)` (beat, every 15 minutes, idempotent per day) finds the
  events whose date property, shifted by the offset, falls today and makes WAITING rows
  released at that moment.
Nothing waits in Celery: the engine's release job sends WAITING rows when they are due.

Matching is cheap per event: each process keeps an index {event name: [matchers]} of the
active live campaigns, rebuilt only when a version number in the cache moves (every Campaign
save bumps it, see apps.py). A batch of events costs a fixed number of queries: one to load
the events, one to re-read the matched campaigns (so a campaign stopped a moment ago, or an
index made stale by a lost cache, never sends), then per campaign one run lookup and ONE
INSERT … SELECT that checks the profile filters, reachability, the control group, the
per-user limit and the campaign's overall and daily limits in SQL. The first message makes
a scheduled live campaign running.

Decisions where the product documents are silent:
- days are the account time zone's: a live campaign has one CampaignRun per day
  (runs.live_run_for: scheduled_for = that date's UTC midnight, a label), and the
  (run, profile) uniqueness means one message per profile per campaign per day at most —
  a second trigger the same day is ignored, unless the first was cancelled by its follow-up
  (then the new trigger re-arms the row);
- the per-user limit counts the days on which a profile got (or is about to get) a message
  of the campaign: queued, waiting, sending or sent rows; a trigger over the limit is kept as
  SKIPPED per_user_limit so the progress page can show it;
- start/end are checked against the event's time (triggers) or the send moment (dates);
- a date-only property value ("2026-12-01") is sent at the time of day of the campaign's
  start, in the account time zone; a date and time ("2026-12-01T08:30:00Z") at that moment,
  shifted by the offset;
- A/B content on a live campaign splits recipients evenly by a stable hash (there is no
  "rest of the audience" to wait for a winner);
- the overall and daily limits (people) go to the earliest triggers of a batch; triggers
  over them are not recorded. Two batches at the same moment may overshoot by a batch.
"""

from .constants import ACTIVE_STATUSES, CLEVERTAP_DATE_SQL
from .dates import live_date_due
from .index import Matcher, audience_definition, index_forget, live_index
from .matching import events_stored, events_uploaded
from .properties import properties_match

__all__ = [
    "ACTIVE_STATUSES",
    "CLEVERTAP_DATE_SQL",
    "Matcher",
    "audience_definition",
    "events_stored",
    "events_uploaded",
    "index_forget",
    "live_date_due",
    "live_index",
    "properties_match",
]
