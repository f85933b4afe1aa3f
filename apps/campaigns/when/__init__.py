"""When a campaign sends, and how: pure functions over the `when` and `delivery` documents
(the shapes the wizard's steps and the delivery engine agreed on), used by the When step,
the Schedule step and the delivery engine: clean_when / clean_delivery (errors by field
path), occurrences, first_occurrence, when_problems, user_send_at, dnd_release_at, and the
overview's sentences.

Wall times are stored as strings ("2026-12-01T10:00") in the ACCOUNT's time zone, so a
campaign set for 10:00 stays at 10:00 across a DST change; aware datetimes are computed here
with zoneinfo. A wall time that does not exist (the spring-forward gap, 02:30 in New York on
the second Sunday of March) resolves with fold=0 to the same instant one hour later (03:30):
never earlier than asked, never skipped. An ambiguous one (the fall-back hour) is its first
instance, so it fires once.

Decisions where the product documents are silent:
- at most MAX_DATES dates for "multiple dates"; duplicates are merged rather than refused;
- a recurring series is the chosen days from `start` at `time`; occurrences before the
  campaign was created are never sent and do not count towards "after N" (the spec: "ignore
  the creation date ... to avoid sending a campaign unintentionally on a prior date");
  a start in the past is a field error when saved, but at scheduling time only a send that
  fell due while the campaign was a draft is a problem (a weekly Friday series that started
  on Monday loses nothing if scheduled on Wednesday);
- weeks are counted from the Monday of the start's week ("every 2 weeks on Mon, Thu");
- deliver-in-the-user's-time-zone follows the API's wrap-around rule: the run starts at the
  account's wall time, users whose local wall time has already passed get it the next day
  ("wrap") or not at all ("drop"), so first_occurrence is the account-time instant;
- "now" and live campaigns have no cut-off (live ones have an end date instead) and no
  user-time-zone delivery (there is no wall time to keep);
- push time to live is capped at 672 hours, the 28 days FCM accepts.
"""

from .delivery import (
    clean_delivery,
    default_delivery,
    dnd_release_at,
    push_expiry,
    user_send_at,
)
from .describe import describe_delivery, describe_dnd, describe_recurring, describe_when
from .document import clean_when, default_when, when_types
from .occurrences import first_occurrence, occurrences, when_problems
from .parsing import (
    DASH,
    LAST_YEAR,
    MAX_AFTER,
    MAX_DATES,
    MAX_EVERY,
    MAX_MINUTES,
    MAX_PER_USER,
    MAX_THROTTLE_PER_MINUTE,
    MAX_TTL_HOURS,
    OFFSET_UNITS,
    WALL_FORMAT,
    WEEKDAY_LABELS,
    WEEKDAYS,
    WHEN_TYPES_BY_CAMPAIGN_TYPE,
    Errors,
    human_day,
    human_wall,
    parse_date,
    parse_time,
    parse_wall,
    to_utc,
    wall_text,
)

__all__ = [
    "DASH",
    "LAST_YEAR",
    "MAX_AFTER",
    "MAX_DATES",
    "MAX_EVERY",
    "MAX_MINUTES",
    "MAX_PER_USER",
    "MAX_THROTTLE_PER_MINUTE",
    "MAX_TTL_HOURS",
    "OFFSET_UNITS",
    "WALL_FORMAT",
    "WEEKDAYS",
    "WEEKDAY_LABELS",
    "WHEN_TYPES_BY_CAMPAIGN_TYPE",
    "Errors",
    "clean_delivery",
    "clean_when",
    "default_delivery",
    "default_when",
    "describe_delivery",
    "describe_dnd",
    "describe_recurring",
    "describe_when",
    "dnd_release_at",
    "first_occurrence",
    "human_day",
    "human_wall",
    "occurrences",
    "parse_date",
    "parse_time",
    "parse_wall",
    "push_expiry",
    "to_utc",
    "user_send_at",
    "wall_text",
    "when_problems",
    "when_types",
]
