"""The ingest service: profiles, events and push tokens in CleverTap's Upload API format.

Used by `POST /1/upload` and by the CSV import. One call:

1. validates every record in Python (no queries), rejecting the bad ones with a code and a
   message naming the field;
2. in ONE transaction: looks profiles up with one query per identity key kind, creates the
   missing ones, merges the batch's changes into the existing ones, upserts devices and
   inserts events — a fixed number of queries per call, whatever the batch size. A profile
   the batch would not change (the same data sent again, events inside the stored
   first/last seen range) is not written at all: every profile row carries ~14 indexes, so
   a needless UPDATE is the most expensive thing a batch can do.

Merge rules: a column is only overwritten when a record provides it (a JSON null counts as
not provided); custom properties are merged key by key, a later record's key winning;
first_seen/last_seen only widen. Records about the same profile apply in input order.

Concurrency: new profiles are inserted with ON CONFLICT DO NOTHING in a stable
order and re-read when another request created them first; existing rows are locked in id
order (FOR NO KEY UPDATE, which does not block the events' foreign-key checks) before one
`UPDATE … FROM jsonb_to_recordset(…)` merges columns and `properties || new` in SQL, so two
requests never lose each other's properties. New email-keyed profiles (email is not unique)
are created under a transaction-level advisory lock. A deadlock or a unique-key race that
slips through anyway rolls the attempt back and the whole write is retried.

The parts: `parsing` (one record, with `field_values` for each field and `upload_format` for
the keys and limits), `batch` (the call and its transaction), `lookup` (profiles by key),
`deltas` (a batch's changes per profile), the SQL writers `profile_writes`, `devices` and
`events` (each sends its rows as one `jsonb` parameter), and `results` (what a call answers)."""

from .batch import (
    EMAIL_CREATE_LOCK,
    KEY_KIND_ORDER,
    RETRYABLE_SQLSTATES,
    WRITE_ATTEMPTS,
    ingest_records,
)
from .field_values import PROFILE_DATA_FIELDS
from .lookup import profile_lookup
from .results import (
    IngestResult,
    RecordError,
    RejectedRecord,
)
from .upload_format import (
    CLEVERTAP_DATE,
    DEVICE_FIELDS,
    EARLIEST_TS,
    EVENT_NAME_MAX_LENGTH,
    FALSE_WORDS,
    GENDERS,
    ISO_DATE,
    KEY_FIELDS,
    KEY_MAX_LENGTH,
    LATEST_TS_AHEAD,
    PROFILE_COLUMNS,
    PROPERTY_KEY_MAX_LENGTH,
    TOKEN_FIELDS,
    TOKEN_PLATFORMS,
    TRUE_WORDS,
)

__all__ = [
    "CLEVERTAP_DATE",
    "DEVICE_FIELDS",
    "EARLIEST_TS",
    "EMAIL_CREATE_LOCK",
    "EVENT_NAME_MAX_LENGTH",
    "FALSE_WORDS",
    "GENDERS",
    "ISO_DATE",
    "KEY_FIELDS",
    "KEY_KIND_ORDER",
    "KEY_MAX_LENGTH",
    "LATEST_TS_AHEAD",
    "PROFILE_COLUMNS",
    "PROFILE_DATA_FIELDS",
    "PROPERTY_KEY_MAX_LENGTH",
    "RETRYABLE_SQLSTATES",
    "TOKEN_FIELDS",
    "TOKEN_PLATFORMS",
    "TRUE_WORDS",
    "WRITE_ATTEMPTS",
    "IngestResult",
    "RecordError",
    "RejectedRecord",
    "ingest_records",
    "profile_lookup",
]
