"""Step 3, When: when the campaign sends (now, a date, several dates, a recurring series, or
for live campaigns a window with a delay) and how it is delivered (frequency caps, throttle,
Do-Not-Disturb hours, push time to live).

The rules live in apps/campaigns/when/; this module only maps the form's flat field
names to the two documents and back. The kind of schedule follows the campaign type chosen
in Setup, so only a one-time campaign chooses here (now or at a date). Changing that choice,
the recurring unit, how a series ends, or adding a date swaps the schedule part of the form
with htmx; without JavaScript the same buttons post the form back, which re-renders it
without saving."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone

from apps.accounts.models import (
    GLOBAL_LIMITS_OVERRIDE_EFFECT,
    GLOBAL_LIMITS_OVERRIDE_LABEL,
    GLOBAL_THROTTLE_LABEL,
)
from apps.accounts.selectors import account_timezone

from ... import when as rules
from ...models import Campaign, CampaignType
from ...readiness import when_problems as problems  # noqa: F401 - the step's rule
from ...services import CampaignDocumentInvalid, campaign_when_save
from ...when import WEEKDAY_LABELS, WEEKDAYS
from .. import frame as wizard

TEMPLATE = "campaigns/wizard/when.html"
SCHEDULE_TARGET = "when-schedule"
PREVIEW_COUNT = 5
# Buttons that ask for the form back with a change instead of saving it.
FORM_ACTIONS = ("add_date", "remove_date", "refresh")

# The form's single-valued fields, each a path into its document.
WHEN_FIELDS = {
    "type": ("type",),
    "at": ("at",),
    "recurring_every": ("recurring", "every"),
    "recurring_unit": ("recurring", "unit"),
    "recurring_time": ("recurring", "time"),
    "recurring_start": ("recurring", "start"),
    "recurring_end_kind": ("recurring", "end", "kind"),
    "recurring_end_on": ("recurring", "end", "on"),
    "recurring_end_after": ("recurring", "end", "after"),
    "live_start": ("live", "start"),
    "live_end": ("live", "end"),
    "live_delay_minutes": ("live", "delay_minutes"),
    "live_inaction_minutes": ("live", "inaction_minutes"),
    "live_date_offset_direction": ("live", "date_offset", "direction"),
    "live_date_offset_amount": ("live", "date_offset", "amount"),
    "live_date_offset_unit": ("live", "date_offset", "unit"),
    "live_per_user_limit": ("live", "per_user", "limit"),
    "live_per_user_per": ("live", "per_user", "per"),
    "user_timezone_late": ("user_timezone", "late"),
    "cutoff": ("cutoff",),
}
DELIVERY_FIELDS = {
    "throttle_per_minute": ("throttle_per_minute",),
    "dnd_timezone": ("dnd", "timezone"),
    "dnd_action": ("dnd", "action"),
    "push_ttl_hours": ("push_ttl_hours",),
    "push_expires_at": ("push_expires_at",),
}
CHECKBOXES = ("user_timezone_enabled", "override_frequency_caps", "respect_throttle", "dnd_enabled")


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _put(doc: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc.setdefault(key, {})
    doc[path[-1]] = value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def values_from_docs(when: dict, delivery: dict) -> dict[str, Any]:
    """The stored documents -> the form's values (strings, lists and checkbox booleans)."""
    values: dict[str, Any] = {name: _text(_get(when, path)) for name, path in WHEN_FIELDS.items()}
    values.update({name: _text(_get(delivery, path)) for name, path in DELIVERY_FIELDS.items()})
    values["dates"] = [_text(entry) for entry in when.get("dates") or []]
    values["recurring_weekdays"] = list(_get(when, ("recurring", "weekdays")) or [])
    values["user_timezone_enabled"] = bool(_get(when, ("user_timezone", "enabled")))
    values["override_frequency_caps"] = delivery.get("respect_frequency_caps") is False
    values["respect_throttle"] = delivery.get("respect_throttle") is not False
    values["dnd_enabled"] = bool(_get(delivery, ("dnd", "enabled")))
    windows = _get(delivery, ("dnd", "windows")) or {}
    for day in WEEKDAYS:
        window = windows.get(day) if isinstance(windows, dict) else None
        values[f"dnd_{day}_on"] = isinstance(window, dict)
        values[f"dnd_{day}_start"] = _text((window or {}).get("start")) or "21:00"
        values[f"dnd_{day}_end"] = _text((window or {}).get("end")) or "09:00"
    return values


def values_from_querydict(data: QueryDict | Mapping) -> dict[str, Any]:
    """A posted (or htmx GET) form -> the form's values, the same shape as values_from_docs."""

    def one(name: str) -> str:
        value = data.get(name, "")
        return value if isinstance(value, str) else ""

    def many(name: str) -> list[str]:
        found = data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []
        return [entry for entry in found if isinstance(entry, str)]

    values: dict[str, Any] = {name: one(name) for name in (*WHEN_FIELDS, *DELIVERY_FIELDS)}
    values["dates"] = many("dates")
    values["recurring_weekdays"] = many("recurring_weekdays")
    for name in CHECKBOXES:
        values[name] = bool(one(name))
    for day in WEEKDAYS:
        values[f"dnd_{day}_on"] = bool(one(f"dnd_{day}_on"))
        values[f"dnd_{day}_start"] = one(f"dnd_{day}_start")
        values[f"dnd_{day}_end"] = one(f"dnd_{day}_end")
    return values


def raw_docs(values: dict[str, Any]) -> tuple[dict, dict]:
    """The form's values -> the raw when and delivery documents campaigns.when cleans."""
    when: dict[str, Any] = {}
    for name, path in WHEN_FIELDS.items():
        _put(when, path, values.get(name, ""))
    when["dates"] = list(values.get("dates") or [])
    when["recurring"]["weekdays"] = list(values.get("recurring_weekdays") or [])
    when["user_timezone"]["enabled"] = bool(values.get("user_timezone_enabled"))
    delivery: dict[str, Any] = {}
    for name, path in DELIVERY_FIELDS.items():
        _put(delivery, path, values.get(name, ""))
    delivery["respect_frequency_caps"] = not values.get("override_frequency_caps")
    delivery["respect_throttle"] = bool(values.get("respect_throttle"))
    delivery["dnd"]["enabled"] = bool(values.get("dnd_enabled"))
    delivery["dnd"]["windows"] = {
        day: {"start": values.get(f"dnd_{day}_start"), "end": values.get(f"dnd_{day}_end")}
        for day in WEEKDAYS
        if values.get(f"dnd_{day}_on")
    }
    return when, delivery


def field_name(path: str) -> str:
    """An error path of either document -> the form field it belongs beside
    ("recurring.end.after" -> "recurring_end_after", "dnd.windows.mon.start" -> "dnd_mon_start")."""
    return path.replace("windows.", "").replace(".", "_")


def _initial_when(campaign: Campaign, *, now, tz) -> dict:
    when = campaign.when or {}
    if when.get("type") in rules.when_types(campaign.campaign_type):
        return when
    doc = rules.default_when(campaign.campaign_type, now=now, tz=tz)
    # A live trigger built in Who already says how long the inaction window is and how far
    # from the event's date to send: start from those.
    trigger = (campaign.audience_definition or {}).get("live")
    if trigger is None and campaign.segment_id:
        trigger = (campaign.segment.definition or {}).get("live")
    if isinstance(trigger, dict) and "live" in doc:
        if "inaction_minutes" in doc["live"] and isinstance(trigger.get("within_minutes"), int):
            doc["live"]["inaction_minutes"] = trigger["within_minutes"]
        offset = trigger.get("offset")
        if "date_offset" in doc["live"] and isinstance(offset, dict):
            doc["live"]["date_offset"] = {**doc["live"]["date_offset"], **offset}
    return doc


def _preview(when_raw: dict, campaign: Campaign, *, now, tz) -> list[str]:
    """The next few sends of a valid dates or recurring schedule, as the account reads them."""
    doc, errors = rules.clean_when(when_raw, campaign_type=campaign.campaign_type, now=now, tz=tz)
    if errors or doc["type"] not in ("dates", "recurring"):
        return []
    floor = max(campaign.created_at, now) if campaign.created_at else now
    sends = []
    for moment in rules.occurrences(doc, start=now, tz=tz, not_before=floor):
        local = moment.astimezone(tz)
        sends.append(f"{local:%a} {rules.human_day(local.date())}, {local:%H:%M}")
        if len(sends) == PREVIEW_COUNT:
            break
    return sends


def _context(
    campaign: Campaign, values: dict[str, Any], errors: dict[str, str], *, now, tz
) -> dict[str, Any]:
    names = [*WHEN_FIELDS, *DELIVERY_FIELDS, *CHECKBOXES, "recurring_weekdays"]
    fields = {
        name: {"name": name, "value": values.get(name, ""), "error": errors.get(name, "")}
        for name in names
    }
    dates = values.get("dates") or []
    when_raw, _ = raw_docs(values)
    kind = values.get("type")
    if kind not in rules.when_types(campaign.campaign_type):
        kind = rules.when_types(campaign.campaign_type)[0]
    return {
        "fields": fields,
        "when_type": kind,
        "is_one_time": campaign.campaign_type == CampaignType.ONE_TIME,
        "is_inaction": campaign.campaign_type == CampaignType.LIVE_INACTION,
        "is_live_date": campaign.campaign_type == CampaignType.LIVE_DATE,
        "dates": [
            {"index": i, "value": value, "error": errors.get(f"dates_{i}", "")}
            for i, value in enumerate(dates)
        ],
        "dates_error": errors.get("dates", ""),
        "max_dates": rules.MAX_DATES,
        "weekdays": [
            (day, WEEKDAY_LABELS[day], day in (values.get("recurring_weekdays") or []))
            for day in WEEKDAYS
        ],
        "dnd_days": [
            {
                "code": day,
                "label": WEEKDAY_LABELS[day],
                "on": values.get(f"dnd_{day}_on"),
                "start": values.get(f"dnd_{day}_start", ""),
                "end": values.get(f"dnd_{day}_end", ""),
                "error": errors.get(f"dnd_{day}_start") or errors.get(f"dnd_{day}_end", ""),
            }
            for day in WEEKDAYS
        ],
        "dnd_error": errors.get("dnd_windows", ""),
        "account_timezone": str(tz),
        "preview": _preview(when_raw, campaign, now=now, tz=tz),
        "is_push": campaign.channel == "push",
        "max_ttl_hours": rules.MAX_TTL_HOURS,
        "override_label": GLOBAL_LIMITS_OVERRIDE_LABEL,
        "override_effect": GLOBAL_LIMITS_OVERRIDE_EFFECT,
        "throttle_label": GLOBAL_THROTTLE_LABEL,
    }


def _render(
    request: HttpRequest,
    campaign: Campaign,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    now, tz = timezone.now(), account_timezone()
    template = TEMPLATE
    if request.htmx and request.htmx.target == SCHEDULE_TARGET:
        template = f"{TEMPLATE}#schedule"
    context = _context(campaign, values, errors or {}, now=now, tz=tz)
    return wizard.render_step(request, campaign, "when", template, context, status=status)


def _apply_form_action(data: QueryDict, values: dict[str, Any]) -> None:
    if data.get("add_date") and len(values["dates"]) < rules.MAX_DATES:
        values["dates"].append("")
    remove = data.get("remove_date", "")
    if remove.isdigit() and int(remove) < len(values["dates"]):
        del values["dates"][int(remove)]


def view(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method != "POST":
        if request.htmx and request.htmx.target == SCHEDULE_TARGET:
            # A change inside the schedule part: re-render it from what is on screen.
            values = values_from_querydict(request.GET)
            _apply_form_action(request.GET, values)
            return _render(request, campaign, values)
        now, tz = timezone.now(), account_timezone()
        when = _initial_when(campaign, now=now, tz=tz)
        delivery = campaign.delivery or rules.default_delivery()
        return _render(request, campaign, values_from_docs(when, delivery))

    values = values_from_querydict(request.POST)
    if any(request.POST.get(action) for action in FORM_ACTIONS):
        _apply_form_action(request.POST, values)
        return _render(request, campaign, values)
    when_raw, delivery_raw = raw_docs(values)
    try:
        campaign_when_save(campaign=campaign, when=when_raw, delivery=delivery_raw)
    except CampaignDocumentInvalid as invalid:
        errors = {field_name(path): message for path, message in invalid.errors.items()}
        return _render(request, campaign, values, errors, status=200 if request.htmx else 400)
    return wizard.step_saved(request, campaign, "when")


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    tz_name = str(account_timezone())
    rows = rules.describe_when(campaign.when or {}, tz_name=tz_name)
    return rows + rules.describe_delivery(campaign.delivery or {}, channel=campaign.channel)
