"""Step 5, Test: send the campaign's message to test profiles (or, for SMS, to any number
with its country code) through the campaign's own provider or group, and show what each
provider answered. Optional: "Skip test" marks the step done and goes on.

Decisions: a test is not a delivery, so nothing is recorded as a campaign message and the
profiles' unsubscribe / opt-out flags are not applied (test recipients are the marketer's
own). Push goes to every device of a test profile that has a token. At most
MAX_TEST_RECIPIENTS recipients per send, so the Test step can never become a way to send a
campaign to an audience without scheduling it."""

from __future__ import annotations

import re

from django import forms
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, QueryDict

from apps.audience.models import Profile
from apps.message_templates.selectors import preview_profile_search
from apps.providers.models import Channel, ProviderGroup
from apps.providers.routing import PushRoutes

from ...content import campaign_route, campaign_variants
from ...models import Campaign, WizardStep
from ...test_send import (
    campaign_test_send,
    phone_number_normalise,
)
from .. import frame as wizard

TEMPLATE = "campaigns/wizard/test.html"
MAX_TEST_RECIPIENTS = 20
TEST_PROFILES_SHOWN = 50
# A provider answer longer than this (an HTML error page, a JSON dump) shows its start; the
# whole of it opens under a <details>.
ANSWER_SHOWN_CHARACTERS = 100


def _variants(campaign: Campaign) -> list[dict]:

    return [v for v in campaign_variants(campaign) if isinstance(v, dict) and v.get("key")]


def _listing(items: list[str], last_word: str) -> str:
    """“a”, “b” and “c”."""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {last_word} {items[-1]}"


class TestSendForm(forms.Form):
    profiles = forms.ModelMultipleChoiceField(
        label="Test profiles", queryset=Profile.objects.all(), required=False
    )
    phone_numbers = forms.CharField(
        label="Or send to phone numbers",
        required=False,
        max_length=500,
        help_text="With the country code, e.g. +14155550123; several separated by commas.",
        widget=forms.TextInput(attrs={"placeholder": "+14155550123", "inputmode": "tel"}),
    )
    variants = forms.MultipleChoiceField(label="Variants to send", required=False)

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.bad_phone_numbers: list[str] = []  # as typed; filled by clean_phone_numbers
        self.variant_list = _variants(campaign)
        self.fields["variants"].choices = [
            (v["key"], v.get("name") or f"Variant {v['key']}") for v in self.variant_list
        ]
        if campaign.channel != Channel.SMS:
            del self.fields["phone_numbers"]

    def clean_phone_numbers(self) -> list[str]:
        """The good numbers, normalised; the others are kept, as typed, in
        `bad_phone_numbers` so every one of them can be named (see clean)."""
        numbers: list[str] = []
        self.bad_phone_numbers = []
        for raw in re.split(r"[,;\n]", self.cleaned_data.get("phone_numbers") or ""):
            raw = raw.strip()
            if not raw:
                continue
            number = phone_number_normalise(raw)
            if number is None:
                if raw not in self.bad_phone_numbers:
                    self.bad_phone_numbers.append(raw)
            elif number not in numbers:
                numbers.append(number)
        return numbers

    def bad_phone_numbers_error(self, *, sent_to_the_others: bool) -> str:
        """Every number typed that is not one, each by its value."""
        bad = [f"“{raw}”" for raw in self.bad_phone_numbers]
        rule = "a + and 8 to 15 digits, e.g. +14155550123"
        if sent_to_the_others:
            return (
                f"Not sent to {_listing(bad, 'or')}: a phone number needs its country code "
                f"({rule}). The other recipients got the test."
            )
        if len(bad) == 1:
            return f"{bad[0]} is not a phone number with its country code: {rule}."
        return f"{_listing(bad, 'and')} are not phone numbers with their country code: {rule}."

    def clean(self):
        cleaned = super().clean()
        if not self.variant_list:
            raise forms.ValidationError("Nothing to send yet: write the message in What first.")
        if not cleaned.get("variants") and "variants" not in self.errors:
            if len(self.variant_list) == 1:
                cleaned["variants"] = [self.variant_list[0]["key"]]
            else:
                self.add_error("variants", "Choose at least one variant to send.")
        profiles = list(cleaned.get("profiles") or [])
        numbers = cleaned.get("phone_numbers") or []
        if len(profiles) + len(numbers) > MAX_TEST_RECIPIENTS:
            self.add_error(
                None,
                f"At most {MAX_TEST_RECIPIENTS} test recipients at once "
                f"({len(profiles) + len(numbers)} chosen).",
            )
        # Bad numbers beside good recipients do not stop the send (the good part of a
        # request is never lost): the view names them after sending. They are an error only
        # when nothing else can be sent, or when the form fails anyway.
        if self.bad_phone_numbers and (self.errors or (not profiles and not numbers)):
            self.add_error("phone_numbers", self.bad_phone_numbers_error(sent_to_the_others=False))
        if not profiles and not numbers and not self.has_error("phone_numbers"):
            where = "phone_numbers" if "phone_numbers" in self.fields else "profiles"
            self.add_error(
                where,
                "Choose a test profile or type a phone number."
                if where == "phone_numbers"
                else "Choose at least one test profile.",
            )
        return cleaned


def _listed_profiles(campaign: Campaign, chosen_ids: set[int]) -> list[Profile]:
    """The test profiles, plus any other profile picked through the search, each with what
    the channel reaches it at."""
    profiles = (
        Profile.objects.filter(Q(is_test=True) | Q(pk__in=chosen_ids))
        .annotate(
            push_devices=Count(
                "devices", filter=Q(devices__push_token__isnull=False) & ~Q(devices__push_token="")
            )
        )
        .order_by("-is_test", "name", "id")[: TEST_PROFILES_SHOWN + len(chosen_ids)]
    )
    return [_with_address(campaign, p, p.pk in chosen_ids) for p in profiles]


def _with_address(campaign: Campaign, profile: Profile, chosen: bool) -> Profile:
    if campaign.channel == Channel.SMS:
        profile.test_address = profile.phone
    elif campaign.channel == Channel.EMAIL:
        profile.test_address = profile.email
    else:
        count = getattr(profile, "push_devices", None)
        if count is None:
            count = profile.devices.exclude(push_token__isnull=True).exclude(push_token="").count()
        profile.test_address = f"{count} device{'s' if count != 1 else ''}" if count else ""
    profile.test_chosen = chosen
    return profile


def route_label(campaign: Campaign) -> str:
    route = campaign_route(campaign)
    if isinstance(route, PushRoutes):
        if not route.distinct():
            return ""
        return route.described(unrouted=None) + " (each device through its platform's provider)"
    if route is None:
        return ""
    if isinstance(route, ProviderGroup):
        default = " (the default group)" if not campaign.provider_group_id else ""
        return f"provider group {route.name}{default}, with failover"
    return f"{route.nickname} ({route.get_kind_display()})"


def _chosen_ids(query: QueryDict) -> set[int]:
    return {int(pk) for pk in query.getlist("profiles") if pk.isdigit()}


def _render(
    request: HttpRequest, campaign: Campaign, form: TestSendForm, *, outcomes=None, status=200
) -> HttpResponse:
    template = TEMPLATE
    if request.htmx and request.method == "POST":
        template = f"{TEMPLATE}#send"
    chosen = _chosen_ids(request.POST) if form.is_bound else set()
    profiles = _listed_profiles(campaign, chosen)
    if not form.is_bound:
        # Before the first send every reachable test profile is ticked: they are the
        # marketer's own, kept for exactly this.
        for profile in profiles:
            profile.test_chosen = bool(profile.test_address)
    context = {
        "form": form,
        "profiles": profiles,
        "route_label": route_label(campaign),
        "outcomes": outcomes,
        "chosen_variants": form.data.getlist("variants") if form.is_bound else None,
        "max_recipients": MAX_TEST_RECIPIENTS,
        "error_shown": ANSWER_SHOWN_CHARACTERS,
    }
    return wizard.render_step(request, campaign, "test", template, context, status=status)


def _found(request: HttpRequest, campaign: Campaign) -> dict:
    """The search box's answer: profiles whose identity or email starts with `q`, but not
    the ones listed already (the test profiles and those picked before)."""
    q = request.GET.get("q", "")[:200]
    listed = _chosen_ids(request.GET)
    found = [
        _with_address(campaign, profile, False)
        for profile in preview_profile_search(q=q)
        if not profile.is_test and profile.pk not in listed
    ]
    return {"found": found, "q": q.strip()}


def _search(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    return wizard.render_step(
        request, campaign, "test", f"{TEMPLATE}#search", _found(request, campaign)
    )


def _pick(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """A profile ticked in the search results joins the list of test recipients (so a next
    search cannot wipe it out, and the list is no longer empty); the search results are
    answered again out of band, without it."""
    chosen = _chosen_ids(request.GET)
    context = {
        "form": TestSendForm(campaign=campaign),
        "profiles": _listed_profiles(campaign, chosen),
        "oob": True,
        **_found(request, campaign),
    }
    return wizard.render_step(request, campaign, "test", f"{TEMPLATE}#picked", context)


def view(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method != "POST":
        if request.htmx and "pick" in request.GET:
            return _pick(request, campaign)
        if request.htmx and "q" in request.GET:
            return _search(request, campaign)
        return _render(request, campaign, TestSendForm(campaign=campaign))
    action = request.POST.get("action", "")
    if action == "skip":
        return wizard.step_saved(request, campaign, "test", message="Test skipped.")
    if action != "send":
        return wizard.step_saved(request, campaign, "test")
    form = TestSendForm(request.POST, campaign=campaign)
    if not form.is_valid():
        return _render(request, campaign, form, status=200 if request.htmx else 400)
    outcomes = campaign_test_send(
        campaign=campaign,
        profiles=list(form.cleaned_data["profiles"]),
        phone_numbers=form.cleaned_data.get("phone_numbers") or [],
        variant_keys=form.cleaned_data["variants"],
    )
    if form.bad_phone_numbers:
        form.add_error("phone_numbers", form.bad_phone_numbers_error(sent_to_the_others=True))
    return _render(request, campaign, form, outcomes=outcomes)


def problems(campaign: Campaign) -> list[str]:
    return []  # testing is optional: nothing here stops a campaign from running


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    # Test sends are not recorded, so all the overview can say is whether the step was passed.
    done = campaign.wizard_step >= WizardStep.TEST
    return [("Test", "Done or skipped" if done else "Not yet (optional)")]
