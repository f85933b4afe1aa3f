"""Token records -> one Device per push token, upserted; the latest record decides which
profile owns it."""

from datetime import datetime
from typing import Any

from ..models import Device
from .parsing import ParsedRecord
from .upload_format import DEVICE_FIELDS


def devices_upsert(
    records: list[ParsedRecord], target_of: dict[tuple[str, str], Any], *, now: datetime
) -> None:
    """Upsert one Device per push token; the latest record decides which profile owns it,
    and fields a record leaves out keep their stored value."""
    if not records:
        return
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        device = latest.setdefault(record.device["push_token"], {})
        device.update(record.device)
        device["profile_id"] = target_of[(record.key_kind, record.key)]
        device["last_active"] = record.ts
    stored = {
        d["push_token"]: d
        for d in Device.objects.filter(push_token__in=latest).values("push_token", *DEVICE_FIELDS)
    }
    devices = []
    for token in sorted(latest):  # a stable order, so two requests lock tokens alike
        values = {**stored.get(token, {}), **latest[token]}
        devices.append(Device(**values))
    Device.objects.bulk_create(
        devices,
        update_conflicts=True,
        unique_fields=["push_token"],
        update_fields=["profile", *DEVICE_FIELDS],
    )
