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
from django.http import HttpRequest, HttpResponse

from apps.audience.models import Profile
from apps.message_templates.selectors import preview_profile_search
from apps.providers.models import Channel, ProviderGroup

from .. import wizard
from ..models import Campaign, WizardStep
from ..services import campaign_test_route, campaign_test_send, phone_number_normalise

TEMPLATE = "campaigns/wizard/test.html"
MAX_TEST_RECIPIENTS = 20
TEST_PROFILES_SHOWN = 50


def _variants(campaign: Campaign) -> list[dict]:
    from ..content import campaign_variants

    return [v for v in campaign_variants(campaign) if isinstance(v, dict) and v.get("key")]


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
        self.variant_list = _variants(campaign)
        self.fields["variants"].choices = [
            (v["key"], v.get("name") or f"Variant {v['key']}") for v in self.variant_list
        ]
        if campaign.channel != Channel.SMS:
            del self.fields["phone_numbers"]

    def clean_phone_numbers(self) -> list[str]:
        numbers = []
        for raw in re.split(r"[,;\n]", self.cleaned_data.get("phone_numbers") or ""):
            if not raw.strip():
                continue
            number = phone_number_normalise(raw)
            if number is None:
                raise forms.ValidationError(
                    f"“{raw.strip()}” is not a phone number with its country code: "
                    "a + and 8 to 15 digits, e.g. +14155550123."
                )
            if number not in numbers:
                numbers.append(number)
        return numbers

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
        if not profiles and not numbers and not self.has_error("phone_numbers"):
            where = "phone_numbers" if "phone_numbers" in self.fields else "profiles"
            self.add_error(
                where,
                "Choose a test profile or type a phone number."
                if where == "phone_numbers"
                else "Choose at least one test profile.",
            )
        if len(profiles) + len(numbers) > MAX_TEST_RECIPIENTS:
            raise forms.ValidationError(
                f"At most {MAX_TEST_RECIPIENTS} test recipients at once "
                f"({len(profiles) + len(numbers)} chosen)."
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
    route = campaign_test_route(campaign)
    if route is None:
        return ""
    if isinstance(route, ProviderGroup):
        default = " (the default group)" if not campaign.provider_group_id else ""
        return f"provider group {route.name}{default}, with failover"
    return f"{route.nickname} ({route.get_kind_display()})"


def _chosen_ids(request: HttpRequest) -> set[int]:
    return {int(pk) for pk in request.POST.getlist("profiles") if pk.isdigit()}


def _render(
    request: HttpRequest, campaign: Campaign, form: TestSendForm, *, outcomes=None, status=200
) -> HttpResponse:
    template = TEMPLATE
    if request.htmx and request.method == "POST":
        template = f"{TEMPLATE}#send"
    chosen = _chosen_ids(request) if form.is_bound else set()
    profiles = _listed_profiles(campaign, chosen)
    if not form.is_bound:
        # Before the first send every reachable test profile is ticked: they are the
        # marketer's own, kept for exactly this.
        for profile in profiles:
            profile.test_chosen = bool(profile.test_address)
    context = {
        "form": form,
        "profiles": profiles,
        "has_test_profiles": any(p.is_test for p in profiles),
        "route_label": route_label(campaign),
        "outcomes": outcomes,
        "chosen_variants": form.data.getlist("variants") if form.is_bound else None,
        "max_recipients": MAX_TEST_RECIPIENTS,
    }
    return wizard.render_step(request, campaign, "test", template, context, status=status)


def _search(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    q = request.GET.get("q", "")[:200]
    found = [
        _with_address(campaign, profile, False)
        for profile in preview_profile_search(q=q)
        if not profile.is_test  # the test profiles are listed already
    ]
    return wizard.render_step(
        request, campaign, "test", f"{TEMPLATE}#search", {"found": found, "q": q.strip()}
    )


def view(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    if request.method != "POST":
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
    return _render(request, campaign, form, outcomes=outcomes)


def problems(campaign: Campaign) -> list[str]:
    return []  # testing is optional: nothing here stops a campaign from running


def summary(campaign: Campaign) -> list[tuple[str, str]]:
    # Test sends are not recorded, so all the overview can say is whether the step was passed.
    done = campaign.wizard_step >= WizardStep.TEST
    return [("Test", "Done or skipped" if done else "Not yet (optional)")]
