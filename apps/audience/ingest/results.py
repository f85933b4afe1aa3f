"""What an ingest call answers: the processed count, each rejected record with its code
and a message naming the field, and the events stored (for live campaigns); and
`RecordRejected`, which parsing raises to reject one record."""

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class RecordError(IntEnum):
    """Why one record was rejected. Listed with the API's own codes in apps/api/errors.py."""

    NOT_AN_OBJECT = 510
    INVALID_TYPE = 511
    MISSING_IDENTITY = 512
    INVALID_IDENTITY = 513
    INVALID_TS = 514
    INVALID_PROFILE_DATA = 515
    INVALID_PHONE = 516
    INVALID_EMAIL = 517
    INVALID_FIELD = 518
    INVALID_EVENT_NAME = 519
    INVALID_EVENT_DATA = 520
    INVALID_TOKEN_DATA = 521
    IDENTITY_CONFLICT = 522


@dataclass
class RejectedRecord:
    index: int  # position of the record in the input list
    code: int
    error: str  # names the field, e.g. 'profileData.Phone "12" is not a valid phone number…'
    record: Any  # the record as received


@dataclass
class IngestResult:
    processed: int
    rejected: list[RejectedRecord]
    # (id, name) of each event stored, so the caller can offer them to live campaigns.
    stored_events: list[tuple[int, str]] = field(default_factory=list)


class RecordRejected(Exception):
    """Raised while parsing: the record is returned as rejected with this code and message."""

    def __init__(self, code: RecordError, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
