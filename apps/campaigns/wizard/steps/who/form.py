"""The Who step's form and vocabulary: the reach form (limits, control group, devices), the
audience chosen (a saved segment or the builder's rows) and which segments are offered."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django import forms
from django.db.models.functions import Lower

from apps.providers.models import Channel
from apps.segments import builder
from apps.segments.definitions import DefinitionError, definition_validate
from apps.segments.models import Segment, SegmentKind

from ....models import Campaign
from ....readiness import CONTROL_GROUP_MAX, TRIGGER_OF_TYPE, kind_error
from ....readiness import audience_problems as problems  # noqa: F401 - the step's rule

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
