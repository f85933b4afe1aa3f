"""What a batch changes on one profile, records merged in input order."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .parsing import ParsedRecord


@dataclass(slots=True)
class ProfileDelta:
    """Everything a batch changes on one profile, records merged in input order."""

    columns: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def add(self, record: ParsedRecord) -> None:
        self.columns.update(record.columns)
        if record.attach_identity is not None:
            self.columns["identity"] = record.attach_identity
        self.properties.update(record.properties)
        if record.kind == "event":
            if self.first_seen is None or record.ts < self.first_seen:
                self.first_seen = record.ts
            if self.last_seen is None or record.ts > self.last_seen:
                self.last_seen = record.ts


def delta_merge(into: ProfileDelta, delta: ProfileDelta) -> None:
    into.columns.update(delta.columns)
    into.properties.update(delta.properties)
    if delta.first_seen and (into.first_seen is None or delta.first_seen < into.first_seen):
        into.first_seen = delta.first_seen
    if delta.last_seen and (into.last_seen is None or delta.last_seen > into.last_seen):
        into.last_seen = delta.last_seen
