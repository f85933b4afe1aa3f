"""Step 1, Setup: name, channel, campaign type, and who sends it (a provider, or for SMS a
failover group, the default group preselected), plus the email sender.

Decisions: the channel is chosen once, when the draft is created — every later step (the
audience's reach, the content, the test) is per channel, so changing it would silently throw
work away; a marketer who wants the same campaign on another channel starts a new one. The
route is one choice ("group:3" or "provider:7") because for SMS a campaign uses one or the
other, never both (the model has a constraint saying so)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse

from apps.providers.models import Channel, Provider, ProviderGroup
from apps.providers.routing import push_route_rows, push_routes

from ...models import Campaign, CampaignType
from ...readiness import CHANNEL_WORDS, route_needed
from ...readiness import setup_problems as problems  # noqa: F401 - the step's rule
from ...services import CampaignActionRefused, campaign_create_draft, campaign_setup_save
from .. import frame as wizard

TEMPLATE = "campaigns/wizard/setup.html"
PAST_TYPES = [
    (CampaignType.ONE_TIME, "One time"),
    (CampaignType.MULTIPLE_DATES, "Multiple dates"),
    (CampaignType.RECURRING, "Recurring"),
]
LIVE_TYPE_CHOICES = [
    (CampaignType.LIVE_ACTION, "Single action"),
    (CampaignType.LIVE_INACTION, "Inaction within time"),
    (CampaignType.LIVE_DATE, "On a date/time"),
]


def route_choices(channel: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The grouped options of the "Send through" select for a channel: SMS groups first
    (the default one says so), then active providers of the channel."""
    options: list[tuple[str, list[tuple[str, str]]]] = []
    if channel == Channel.SMS:
        groups = [
            (f"group:{group.pk}", f"{group.name}{' (default)' if group.is_default else ''}")
            for group in ProviderGroup.objects.order_by("-is_default", "name")
        ]
        if groups:
            options.append(("Provider groups (failover)", groups))
    providers = [
        (f"provider:{provider.pk}", f"{provider.nickname} · {provider.get_kind_display()}")
        for provider in Provider.objects.filter(channel=channel, is_active=True).order_by(
            "nickname"
        )
    ]
    if providers:
        options.append(("Single providers", providers))
    return options


ROUTE_HELP = {
    Channel.EMAIL: "Needed to schedule: the email provider that sends this campaign.",
}


def default_route(channel: str) -> str:
    if channel == Channel.SMS:
        group = ProviderGroup.objects.filter(is_default=True).first()
        if group is not None:
            return f"group:{group.pk}"
    provider = Provider.objects.filter(channel=channel, is_active=True).order_by("nickname")
    if channel != Channel.SMS and provider.count() == 1:
        return f"provider:{provider.first().pk}"
    return ""


def route_of(campaign: Campaign) -> str:
    if campaign.provider_group_id:
        return f"group:{campaign.provider_group_id}"
    if campaign.provider_id:
        return f"provider:{campaign.provider_id}"
    return ""


class SetupForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Weekend sale reminder", "autofocus": True}),
    )
    channel = forms.ChoiceField(choices=Channel.choices, widget=forms.RadioSelect)
    campaign_type = forms.ChoiceField(
        label="Campaign type",
        choices=[("Past behaviour", PAST_TYPES), ("Live behaviour", LIVE_TYPE_CHOICES)],
        widget=forms.RadioSelect,
        initial=CampaignType.ONE_TIME,
    )
    route = forms.ChoiceField(label="Send through", required=False)
    sender_name = forms.CharField(label="Sender name", max_length=200, required=False)
    sender_email = forms.EmailField(label="Sender email", required=False)
    reply_to_email = forms.EmailField(label="Reply-to email", required=False)

    def __init__(self, *args, campaign: Campaign | None = None, channel: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        if campaign is not None:
            # Fixed once created (see the module docstring); shown, not editable.
            self.fields["channel"].required = False
            self.fields["channel"].disabled = True
            self.fields["channel"].initial = campaign.channel
        self.channel = campaign.channel if campaign is not None else channel
        route = self.fields["route"]
        choices = route_choices(self.channel)
        self.route_needed = route_needed(self.channel)
        default_group = (
            ProviderGroup.objects.filter(is_default=True).first()
            if self.channel == Channel.SMS
            else None
        )
        blank = f"The default group ({default_group.name})" if default_group else "Choose…"
        route.choices = [("", blank), *choices]
        # Required when scheduling will demand it and there is something to choose; with no
        # provider configured yet the draft may still be saved (the page says so).
        route.required = self.route_needed and bool(choices)
        route.help_text = ROUTE_HELP.get(self.channel, "")
        word = CHANNEL_WORDS.get(self.channel, "")
        route.error_messages["required"] = (
            f"Choose the {word} provider that sends this campaign: "
            "it cannot be scheduled without one."
        )

    def clean(self):
        cleaned = super().clean()
        channel = self.campaign.channel if self.campaign else cleaned.get("channel")
        route = cleaned.get("route") or ""
        if channel == Channel.PUSH:
            # Push follows the account's route per device platform (Settings → Providers).
            route = ""
        if channel and route:
            kind, _, pk = route.partition(":")
            if kind == "group":
                group = ProviderGroup.objects.filter(pk=pk).first()
                if group is None or channel != Channel.SMS:
                    self.add_error("route", "That provider group no longer exists.")
                cleaned["provider_group"], cleaned["provider"] = group, None
            else:
                provider = Provider.objects.filter(pk=pk, channel=channel, is_active=True).first()
                if provider is None:
                    self.add_error(
                        "route", "That provider is not an active provider of this channel."
                    )
                cleaned["provider"], cleaned["provider_group"] = provider, None
        else:
            cleaned["provider"] = cleaned["provider_group"] = None
        if channel != Channel.EMAIL:
            cleaned["sender_name"] = cleaned["sender_email"] = cleaned["reply_to_email"] = ""
        return cleaned

    def saved_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "campaign_type": data["campaign_type"],
            "provider": data.get("provider"),
            "provider_group": data.get("provider_group"),
            "sender_name": data.get("sender_name", ""),
            "sender_email": data.get("sender_email", ""),
            "reply_to_email": data.get("reply_to_email", ""),
        }


def _initial(campaign: Campaign | None, channel: str) -> dict:
    if campaign is None:
        return {"channel": channel, "route": default_route(channel) if channel else ""}
    return {
        "name": campaign.name,
        "channel": campaign.channel,
        "campaign_type": campaign.campaign_type,
        "route": route_of(campaign),
        "sender_name": campaign.sender_name,
        "sender_email": campaign.sender_email,
        "reply_to_email": campaign.reply_to_email,
    }


def _render(request, campaign, form, *, status=200) -> HttpResponse:
    template = TEMPLATE
    # Changing the channel of a new campaign swaps the part of the form that depends on it.
    if request.htmx and request.method == "GET" and request.htmx.target == "setup-route":
        template = f"{TEMPLATE}#route"
    context = {"form": form, "channel": form.channel}
    if form.channel == Channel.PUSH:
        rows = push_route_rows()
        context["push_routes"] = rows
        context["push_routed"] = any(row.provider for row in rows)
    return wizard.render_step(request, campaign, "setup", template, context, status=status)


def view(request: HttpRequest, campaign: Campaign | None) -> HttpResponse:
    if request.method != "POST":
        channel = request.GET.get("channel", "")
        channel = channel if channel in Channel.values else ""
        form = SetupForm(campaign=campaign, channel=channel, initial=_initial(campaign, channel))
        return _render(request, campaign, form)

    posted_channel = campaign.channel if campaign else request.POST.get("channel", "")
    form = SetupForm(request.POST, campaign=campaign, channel=posted_channel)
    if not form.is_valid():
        return _render(request, campaign, form, status=400)
    fields = form.saved_fields()
    name = form.cleaned_data["name"]
    if campaign is None:
        try:
            campaign = campaign_create_draft(
                name=name,
                channel=form.cleaned_data["channel"],
                created_by=request.user,
                **fields,
            )
        except CampaignActionRefused as refusal:
            field, _, message = str(refusal).partition(": ")
            form.add_error(field if field in form.fields else None, message or str(refusal))
            return _render(request, None, form, status=400)
        return wizard.step_saved(request, campaign, "setup", message=f"Draft “{name}” created.")

    try:
        campaign_setup_save(campaign=campaign, name=name, **fields)
    except CampaignActionRefused as refusal:
        field, _, message = str(refusal).partition(": ")
        form.add_error(field if field in form.fields else None, message or str(refusal))
        return _render(request, campaign, form, status=400)
    return wizard.step_saved(request, campaign, "setup")


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    if campaign.channel == Channel.PUSH:
        route = push_routes().described(unrouted="none (skipped)")
    elif campaign.provider_group_id:
        route = f"Provider group {campaign.provider_group.name}"
    elif campaign.provider_id:
        route = f"{campaign.provider.nickname} ({campaign.provider.get_kind_display()})"
    elif campaign.channel == Channel.SMS:
        route = "The default provider group"
    else:
        route = "Not chosen"
    rows = [
        ("Name", campaign.name),
        ("Channel", campaign.get_channel_display()),
        ("Type", campaign.get_campaign_type_display()),
        ("Sent through", route),
    ]
    if campaign.channel == Channel.EMAIL:
        sender = campaign.sender_name or ""
        if campaign.sender_email:
            sender = f"{sender} <{campaign.sender_email}>".strip()
        rows.append(("Sender", sender or "The provider's default"))
        if campaign.reply_to_email:
            rows.append(("Reply to", campaign.reply_to_email))
    return rows
