"""Step 2, Who: the audience (a saved segment, or an ad-hoc one built in place with the
segment builder), the campaign's reach (everyone who qualifies, or limits), the control
group and, for push, which devices.

Decisions where the spec is silent:
- The campaign type decides the kind of audience: a past-behaviour type needs a past
  definition, a live type a live one whose trigger is the type's own (a "Live: inaction
  within time" campaign needs an inaction trigger). Saved segments of another kind are not
  offered, and refused when posted anyway; the builder offers only the right type.
- Limits follow the spec's "for which campaigns": a live (triggered) campaign has an overall
  and a daily limit but no per-run limit (it has no runs) and no safety cap (its reach
  cannot be known up front); those two are cleared when the type is live.
- "Limits" needs at least one limit; per-run and daily limits cannot exceed the overall one.
- The control group is 0-90%: at 100% nothing would be sent while the campaign looks like
  it ran, and above 90% the group that gets the message is too small to compare with.
- The estimate panel compares the safety cap with the people reachable on the campaign's
  channel (those it would send to), and shows what the control group and limits leave.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from apps.core.htmx import wants_partial
from apps.providers.models import Channel
from apps.segments import builder
from apps.segments.definitions import DefinitionError, definition_summary, definition_validate
from apps.segments.views import BUILDER_FIELDS_TEMPLATE, builder_fields_context

from ....models import Campaign
from ....readiness import audience_problems as problems  # noqa: F401 - the step's rule
from ....readiness import kind_error
from ....services import campaign_audience_save
from ... import frame as wizard
from .estimate import estimate_context
from .form import (
    AUDIENCE_ADHOC,
    AUDIENCE_SEGMENT,
    CHANNEL_REACH,
    DEVICES_ALL,
    DEVICES_LAST,
    ESTIMATE_PARAM,
    LIMIT_FIELDS,
    REACH_ALL,
    REACH_LIMITED,
    TEMPLATE,
    Audience,
    ReachForm,
    adhoc_from_post,
    offered_segments,
    required_kind,
    stored_rows,
)

# --- View -------------------------------------------------------------------------------------


def _initial(campaign: Campaign) -> dict:
    if campaign.segment_id:
        audience = AUDIENCE_SEGMENT
    elif campaign.audience_definition is not None:
        audience = AUDIENCE_ADHOC
    else:
        audience = AUDIENCE_SEGMENT if offered_segments(campaign).exists() else AUDIENCE_ADHOC
    limited = any(getattr(campaign, name) is not None for name in LIMIT_FIELDS)
    return {
        "audience": audience,
        "segment": str(campaign.segment_id or ""),
        "campaign_reach": REACH_LIMITED if limited else REACH_ALL,
        **{name: getattr(campaign, name) for name in LIMIT_FIELDS},
        "control_group_percent": campaign.control_group_percent,
        "devices": DEVICES_ALL if campaign.push_all_devices else DEVICES_LAST,
    }


def _segment_rows(campaign: Campaign) -> list[dict]:
    """The saved-segment picker's rows: name, the first lines of what it says, and its last
    counted reach on the campaign's channel."""
    key = CHANNEL_REACH[campaign.channel][0][0]
    rows = []
    for segment in offered_segments(campaign):
        try:
            lines = definition_summary(definition_validate(segment.definition))
        except DefinitionError:
            lines = ["(its definition is no longer valid)"]
        rows.append(
            {
                "segment": segment,
                "lines": lines[:3] or ["Everyone"],
                "more": max(len(lines) - 3, 0),
                "reach": (segment.last_estimate or {}).get(key),
            }
        )
    return rows


def _render(
    request: HttpRequest,
    campaign: Campaign,
    form: ReachForm,
    audience: Audience,
    *,
    status: int = 200,
    has_errors: bool = False,
) -> HttpResponse:
    kind = required_kind(campaign)
    context = {
        **builder_fields_context(rows=audience.rows, form_action=wizard.step_url(campaign, "who")),
        "form": form,
        "kind": kind,
        "kind_fixed": kind,
        "kind_fixed_note": (
            f"A {campaign.get_campaign_type_display().lower()} campaign needs a "
            f"{kind}-behaviour audience."
        ),
        "segment_rows": _segment_rows(campaign),
        "stored_segment": campaign.segment,
        "stored_segment_error": (
            kind_error(campaign, campaign.segment.definition) if campaign.segment_id else None
        ),
        "estimate_url": f"{wizard.step_url(campaign, 'who')}?{ESTIMATE_PARAM}=1",
        "has_errors": has_errors,
        "is_push": campaign.channel == Channel.PUSH,
        "live_campaign": campaign.is_live,
    }
    return wizard.render_step(request, campaign, "who", TEMPLATE, context, status=status)


def view(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method != "POST":
        form = ReachForm(campaign=campaign, initial=_initial(campaign))
        return _render(request, campaign, form, Audience(mode="", rows=stored_rows(campaign)))

    if request.GET.get(ESTIMATE_PARAM):
        context = estimate_context(campaign, request.POST)
        return render(request, f"{TEMPLATE}#estimate", context)

    action = request.POST.get("action", "")
    if action:
        # An add/remove button of the builder: change the rows, render them again with what
        # was typed (the form unbound, so half-typed limits show no errors yet), save nothing.
        rows = builder.rows_from_querydict(request.POST)
        builder.apply_action(rows, action)
        section = builder.action_section(action)
        if wants_partial(request) and section:
            fields = builder_fields_context(rows=rows, form_action=wizard.step_url(campaign, "who"))
            response = render(request, f"{BUILDER_FIELDS_TEMPLATE}#{section}", fields)
            response["HX-Trigger"] = "segment-changed"  # the estimate follows the new rows
            return response
        form = ReachForm(campaign=campaign, initial=request.POST.dict())
        return _render(request, campaign, form, Audience(mode="", rows=rows))

    form = ReachForm(request.POST, campaign=campaign)
    form_ok = form.is_valid()
    if form.cleaned_data.get("audience") == AUDIENCE_ADHOC:
        audience = adhoc_from_post(campaign, request.POST)
        builder.attach_errors(audience.rows, audience.errors)
    else:
        # A saved segment: the builder's fields are kept as typed, but not judged.
        audience = Audience(mode=AUDIENCE_SEGMENT, rows=builder.rows_from_querydict(request.POST))
        audience.segment = form.cleaned_data.get("segment")
    if not form_ok or audience.errors:
        # htmx 2 does not swap 4xx responses; a plain post gets the honest status.
        status = 200 if request.htmx else 400
        return _render(request, campaign, form, audience, status=status, has_errors=True)
    who_save(campaign, form.cleaned_data, audience)
    return wizard.step_saved(request, campaign, "who")


def who_save(campaign: Campaign, cleaned: dict, audience: Audience) -> None:
    """Store the step through campaign_audience_save: segment XOR ad-hoc definition, the
    limits, the control group and the devices."""
    campaign_audience_save(
        campaign=campaign,
        segment=audience.segment if audience.mode == AUDIENCE_SEGMENT else None,
        audience_definition=audience.definition if audience.mode == AUDIENCE_ADHOC else None,
        **{name: cleaned.get(name) for name in LIMIT_FIELDS},
        control_group_percent=cleaned["control_group_percent"],
        push_all_devices=cleaned["push_all_devices"],
    )


# --- Overview ---------------------------------------------------------------------------------


def _reach_summary(campaign: Campaign) -> str:
    parts = []
    for name, label in (
        ("limit_overall", "{:,} overall"),
        ("limit_per_run", "{:,} per run"),
        ("limit_daily", "{:,} a day"),
    ):
        if getattr(campaign, name) is not None:
            parts.append(label.format(getattr(campaign, name)))
    text = f"At most {', '.join(parts)}" if parts else "Everyone who qualifies"
    if campaign.safety_cap is not None:
        text += f"; not sent if more than {campaign.safety_cap:,} qualify"
    return text


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    if campaign.segment_id:
        url = reverse("segments:detail", args=[campaign.segment_id])
        audience = format_html('Segment <a href="{}">{}</a>', url, campaign.segment.name)
    elif campaign.audience_definition is not None:
        try:
            lines = definition_summary(definition_validate(campaign.audience_definition))
        except DefinitionError:
            lines = ["(not a valid definition)"]
        # One line each; the overview shows line breaks.
        audience = "Ad-hoc segment:\n" + "\n".join(lines or ["Everyone"])
    else:
        audience = "Not chosen"
    rows = [
        ("Audience", audience),
        ("Reach", _reach_summary(campaign)),
        (
            "Control group",
            f"{campaign.control_group_percent}% held out"
            if campaign.control_group_percent
            else "None",
        ),
    ]
    if campaign.channel == Channel.PUSH:
        rows.append(
            ("Devices", "All their devices" if campaign.push_all_devices else "Last active device")
        )
    return rows
