"""The reach panel beside the Who step: the audience counted on the campaign's channel."""

from __future__ import annotations

from apps.segments import builder
from apps.segments.definitions import DefinitionError
from apps.segments.models import SegmentKind
from apps.segments.services import segment_estimate_recorded

from ....models import Campaign
from ....readiness import CONTROL_GROUP_MAX, kind_error
from ....readiness import audience_problems as problems  # noqa: F401 - the step's rule
from .form import (
    _DIGITS,
    AUDIENCE_ADHOC,
    AUDIENCE_SEGMENT,
    CHANNEL_REACH,
    LIMIT_FIELDS,
    REACH_LIMITED,
    _segment_by_pk,
    adhoc_from_post,
)

# --- Estimate ---------------------------------------------------------------------------------


def _whole(text: str) -> int | None:
    text = (text or "").strip()
    return int(text) if _DIGITS.fullmatch(text) else None


def estimate_context(campaign: Campaign, querydict) -> dict:
    """The estimate panel for what the form holds now: reach on the campaign's channel, what
    the control group and limits leave, the safety cap's verdict; or the errors."""
    context: dict = {"channel_label": campaign.get_channel_display()}
    mode = querydict.get("audience", "")
    if mode == AUDIENCE_SEGMENT:
        raw_pk = (querydict.get("segment") or "").strip()
        segment = _segment_by_pk(raw_pk)
        if segment is None:
            context["idle"] = "Choose a segment to see its reach."
            return context
        definition, errors = segment.definition, {}
        if problem := kind_error(campaign, definition):
            errors = {"segment": problem}
        context["segment"] = segment
    elif mode == AUDIENCE_ADHOC:
        audience = adhoc_from_post(campaign, querydict)
        definition, errors = audience.definition, audience.errors
    else:
        context["idle"] = "Choose a saved segment or build one to see the reach."
        return context
    if errors:
        context["error_lines"] = [
            (path, builder.error_label(path), message) for path, message in errors.items()
        ]
        return context
    if (definition or {}).get("kind") == SegmentKind.LIVE:
        context["live"] = True
        return context
    try:
        # A saved segment keeps the count, so the picker's table shows it from now on.
        estimate = segment_estimate_recorded(definition=definition, segment=context.get("segment"))
    except DefinitionError as error:
        context["error_lines"] = [
            (path, builder.error_label(path), message) for path, message in error.errors.items()
        ]
        return context
    counts = estimate.as_dict()
    rows = CHANNEL_REACH[campaign.channel]
    reach = counts[rows[0][0]]
    context.update(estimate=estimate, reach=reach)
    context["reach_rows"] = [(label, counts[key]) for key, label in rows]
    percent = _whole(querydict.get("control_group_percent", "")) or 0
    percent = min(percent, CONTROL_GROUP_MAX)
    held_out = reach * percent // 100
    receive = reach - held_out
    limited = querydict.get("campaign_reach") == REACH_LIMITED
    limits = {name: _whole(querydict.get(name, "")) if limited else None for name in LIMIT_FIELDS}
    capped_by = [
        limits[name] for name in ("limit_overall", "limit_per_run", "limit_daily") if limits[name]
    ]
    context.update(
        control_percent=percent,
        held_out=held_out,
        receive=min([receive, *capped_by]),
        limited_to=min(capped_by) if capped_by and min(capped_by) < receive else None,
    )
    cap = limits["safety_cap"]
    if cap is not None and reach > cap:
        context["over_cap"] = cap
    return context
