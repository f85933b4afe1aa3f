"""A live campaign's own timing: its live document, its active window and its minutes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apps.campaigns.models import Campaign
from apps.campaigns.when import parse_wall, to_utc


def _live_when(campaign: Campaign) -> dict:
    return (campaign.when or {}).get("live") or {}


def _window(campaign: Campaign, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    live = _live_when(campaign)
    start, end = parse_wall(live.get("start")), parse_wall(live.get("end"))
    return (to_utc(start, tz) if start else None, to_utc(end, tz) if end else None)


def _inside(moment: datetime, window: tuple[datetime | None, datetime | None]) -> bool:
    start, end = window
    return (start is None or moment >= start) and (end is None or moment < end)


def _minutes(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
