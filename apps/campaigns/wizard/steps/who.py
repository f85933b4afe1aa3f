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

import re
from dataclasses import dataclass, field

from django import forms
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from apps.core.htmx import wants_partial
from apps.providers.models import Channel
from apps.segments import builder
from apps.segments.definitions import DefinitionError, definition_summary, definition_validate
from apps.segments.models import Segment, SegmentKind
from apps.segments.services import segment_estimate_recorded
from apps.segments.views import BUILDER_FIELDS_TEMPLATE, builder_fields_context

from ...models import Campaign
from ...readiness import CONTROL_GROUP_MAX, TRIGGER_OF_TYPE, kind_error
from ...readiness import audience_problems as problems  # noqa: F401 - the step's rule
from ...services import campaign_audience_save
from .. import frame as wizard

TEMPLATE = "campaigns/wizard/who.html"
# The step's htmx estimate posts the whole form to the step URL with this in the query
# string (the frame owns the URLs; an add/remove button posts to the bare step URL).
ESTIMATE_PARAM = "estimate"

AUDIENCE_SEGMENT = "segment"
AUDIENCE_ADHOC = "adhoc"
REACH_ALL = "all"
REACH_LIMITED = "limited"
DEVICES_LAST = "last"
DEVICES_ALL = "all"
# PositiveIntegerField's column holds up to 2**31 - 1: a bigger number must be a field
# error, not a database error.
LIMIT_MAX = 2_147_483_647
LIMIT_FIELDS = ("limit_overall", "limit_per_run", "limit_daily", "safety_cap")
# Not offered to live campaigns (see the module docstring).
PAST_ONLY_LIMITS = ("limit_per_run", "safety_cap")

# What the estimate panel shows for each channel: (ReachEstimate field, label).
CHANNEL_REACH = {
    Channel.PUSH: [
        ("push", "Reachable by push (any platform)"),
        ("push_android", "Android"),
        ("push_ios", "iOS"),
        ("push_web", "Web"),
    ],
    Channel.SMS: [("sms", "Reachable by SMS")],
    Channel.EMAIL: [("email", "Reachable by email")],
}


# --- Rules ------------------------------------------------------------------------------------


def required_kind(campaign: Campaign) -> str:
    return SegmentKind.LIVE if campaign.is_live else SegmentKind.PAST


def offered_segments(campaign: Campaign):
    """The saved segments this campaign may use: its kind, and for a live campaign its
    trigger (a JSON lookup, so the picker never lists what the POST would refuse)."""
    segments = Segment.objects.filter(kind=required_kind(campaign))
    if campaign.is_live:
        segments = segments.filter(definition__live__type=TRIGGER_OF_TYPE[campaign.campaign_type])
    return segments.order_by(Lower("name"), "pk")


# ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
_DIGITS = re.compile(r"[0-9]{1,10}")


def _segment_by_pk(raw: str) -> Segment | None:
    raw = raw.strip()
    return Segment.objects.filter(pk=int(raw)).first() if _DIGITS.fullmatch(raw) else None


def _limit_field(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=1,
        max_value=LIMIT_MAX,
        help_text=help_text,
        error_messages={
            "invalid": "Enter a whole number of people.",
            "min_value": "Enter at least 1, or leave it empty for no limit.",
            "max_value": f"At most {LIMIT_MAX:,}.",
        },
        widget=forms.NumberInput(attrs={"min": 1, "step": 1, "inputmode": "numeric"}),
    )


class ReachForm(forms.Form):
    """Everything on the page except the builder's own fields (builder.rows_from_querydict
    reads those)."""

    audience = forms.ChoiceField(
        choices=[
            (AUDIENCE_SEGMENT, "A saved segment"),
            (AUDIENCE_ADHOC, "An ad-hoc segment, built here"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a saved segment or build one here."},
    )
    # Read by hand in clean(): a pk that is not a number must say "no such segment".
    segment = forms.CharField(required=False)
    campaign_reach = forms.ChoiceField(
        label="Campaign reach",
        choices=[
            (REACH_ALL, "Everyone who qualifies"),
            (REACH_LIMITED, "Limit how many people get it"),
        ],
        widget=forms.RadioSelect,
        initial=REACH_ALL,
    )
    limit_overall = _limit_field("Overall limit", "People in all, over the whole campaign.")
    limit_per_run = _limit_field("Per-run limit", "People in each run (each date or recurrence).")
    limit_daily = _limit_field("Daily limit", "People each day.")
    safety_cap = _limit_field(
        "Safety check: upper cap",
        "A run whose audience is above this does not send at all.",
    )
    control_group_percent = forms.IntegerField(
        label="Control group (%)",
        required=False,
        min_value=0,
        max_value=CONTROL_GROUP_MAX,
        help_text=(
            f"Qualifying people held out at random, to measure the campaign against "
            f"(0 for none, at most {CONTROL_GROUP_MAX})."
        ),
        error_messages={
            "invalid": "Enter a whole percentage.",
            "min_value": "Enter 0 or more.",
            # %-formatted with the limit by Django, hence the doubled percent sign.
            "max_value": "At most %(limit_value)s%%: some people must get the message.",
        },
        widget=forms.NumberInput(attrs={"min": 0, "max": CONTROL_GROUP_MAX, "step": 1}),
    )
    devices = forms.ChoiceField(
        label="Send to",
        choices=[(DEVICES_LAST, "The last active device"), (DEVICES_ALL, "All their devices")],
        widget=forms.RadioSelect,
        required=False,
        initial=DEVICES_LAST,
    )

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        if campaign.is_live:
            for name in PAST_ONLY_LIMITS:
                del self.fields[name]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("audience") == AUDIENCE_SEGMENT:
            cleaned["segment"] = self._chosen_segment(cleaned.get("segment") or "")
        else:
            cleaned["segment"] = None
        self._clean_limits(cleaned)
        if cleaned.get("control_group_percent") is None:
            cleaned["control_group_percent"] = 0
        cleaned["push_all_devices"] = (
            self.campaign.channel == Channel.PUSH and cleaned.get("devices") == DEVICES_ALL
        )
        return cleaned

    def _chosen_segment(self, raw: str) -> Segment | None:
        raw = raw.strip()
        if not raw:
            self.add_error("segment", "Choose a segment.")
            return None
        segment = _segment_by_pk(raw)
        if segment is None:
            self.add_error("segment", "That segment no longer exists.")
            return None
        if error := kind_error(self.campaign, segment.definition):
            self.add_error("segment", f"“{segment.name}”: {error}")
            return None
        return segment

    def _clean_limits(self, cleaned: dict) -> None:
        limits = {name: cleaned.get(name) for name in LIMIT_FIELDS}
        if cleaned.get("campaign_reach") != REACH_LIMITED:
            cleaned.update(dict.fromkeys(LIMIT_FIELDS))
            return
        if self.campaign.is_live:
            limits.update(dict.fromkeys(PAST_ONLY_LIMITS))
            cleaned.update(dict.fromkeys(PAST_ONLY_LIMITS))
        if all(value is None for value in limits.values()) and not any(
            name in self.errors for name in LIMIT_FIELDS
        ):
            self.add_error("campaign_reach", "Enter at least one limit, or choose everyone.")
        overall = limits["limit_overall"]
        if overall is None:
            return
        for name, what in (("limit_per_run", "per-run"), ("limit_daily", "daily")):
            if limits[name] is not None and limits[name] > overall:
                self.add_error(
                    name, f"The {what} limit cannot be more than the overall limit ({overall:,})."
                )


@dataclass
class Audience:
    """The audience the page shows or the POST chose: a saved segment, or the builder's
    rows with the definition they make (and its errors by path)."""

    mode: str
    segment: Segment | None = None
    rows: dict = field(default_factory=builder.empty_rows)
    definition: dict | None = None
    errors: dict[str, str] = field(default_factory=dict)


def adhoc_from_post(campaign: Campaign, querydict) -> Audience:
    """The builder's fields -> rows, the normalised definition, and every error by path
    (parse errors, validation, and the kind rule beside the type or trigger input)."""
    rows = builder.rows_from_querydict(querydict)
    raw, errors = builder.definition_from_rows(rows)
    definition = None
    try:
        definition = definition_validate(raw)
    except DefinitionError as error:
        errors = {**error.errors, **errors}
    if not errors and (problem := kind_error(campaign, definition)):
        path = "kind" if definition["kind"] != required_kind(campaign) else "live.type"
        errors[path] = problem
    return Audience(
        mode=AUDIENCE_ADHOC,
        rows=rows,
        definition=None if errors else definition,
        errors=errors,
    )


def stored_rows(campaign: Campaign) -> dict:
    """The builder's rows for the GET page: the stored ad-hoc definition, else a blank one of
    the kind (and live trigger) the campaign type needs."""
    if campaign.audience_definition is not None:
        rows = builder.builder_rows(campaign.audience_definition)
    else:
        rows = builder.empty_rows()
        if campaign.is_live:
            rows["live"]["type"] = TRIGGER_OF_TYPE[campaign.campaign_type]
    # The type may have changed in Setup since: show the builder of the kind it needs now.
    rows["kind"] = required_kind(campaign)
    return rows


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
