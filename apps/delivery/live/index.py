"""Each process's index of live campaigns by the event they listen to, rebuilt when the
campaign domain's live-index version moves (campaigns.live_index)."""

from __future__ import annotations

import threading
import time as time_module
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from apps.campaigns.live_index import live_index_version
from apps.campaigns.models import LIVE_TYPES, Campaign
from apps.segments.definitions import DefinitionError, definition_validate

from .constants import ACTIVE_STATUSES, FOLLOW_UP, INDEX_MAX_AGE_S, TRIGGER, logger

# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class Matcher:
    campaign_id: int
    role: str  # TRIGGER or FOLLOW_UP
    properties: tuple[dict, ...]


@dataclass
class _Index:
    version: Any = None
    loaded_at: float = 0.0
    by_event: dict[str, list[Matcher]] | None = None


_index = _Index()
_index_lock = threading.Lock()


def audience_definition(campaign: Campaign) -> dict | None:
    raw = campaign.segment.definition if campaign.segment_id else campaign.audience_definition
    if not raw:
        return None
    try:
        return definition_validate(raw)
    except DefinitionError:
        logger.warning("live campaign %s has an invalid audience; ignored", campaign.pk)
        return None


def _build_index() -> dict[str, list[Matcher]]:
    by_event: dict[str, list[Matcher]] = defaultdict(list)
    campaigns = Campaign.objects.filter(
        campaign_type__in=LIVE_TYPES, status__in=ACTIVE_STATUSES
    ).select_related("segment")
    for campaign in campaigns:
        definition = audience_definition(campaign)
        live = (definition or {}).get("live")
        if not live or live["type"] == "date_property":
            continue  # date campaigns are found by the daily job, not by events
        by_event[live["event"]].append(
            Matcher(campaign.pk, TRIGGER, tuple(live.get("properties") or ()))
        )
        if live["type"] == "inaction":
            by_event[live["not_event"]].append(
                Matcher(campaign.pk, FOLLOW_UP, tuple(live.get("not_properties") or ()))
            )
    return dict(by_event)


def live_index() -> dict[str, list[Matcher]]:
    """{event name: matchers} of the active live campaigns, rebuilt when the version moved."""
    version = live_index_version()
    fresh = (
        _index.by_event is not None
        and _index.version == version
        and time_module.monotonic() - _index.loaded_at < INDEX_MAX_AGE_S
    )
    if fresh:
        return _index.by_event
    with _index_lock:
        by_event = _build_index()
        _index.by_event, _index.version = by_event, version
        _index.loaded_at = time_module.monotonic()
    return by_event


def index_forget() -> None:
    """Drop this process's index (tests: the database was rolled back under it)."""
    with _index_lock:
        _index.by_event, _index.version, _index.loaded_at = None, None, 0.0
