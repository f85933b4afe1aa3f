"""A marketer builds an SMS A/B campaign in a real browser, step by step through the wizard:
an ad-hoc audience, a recurring schedule with Do Not Disturb, two variants, a test send through
the demo SMS group (pointed at the provider sandbox), then schedules it and finds it in the list.
Each step leaves a screenshot in tests/artifacts/."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.services import account_settings_get
from apps.campaigns.models import Campaign, CampaignStatus, CampaignType, WizardStep
from apps.campaigns.when import human_day
from apps.core.roles import Role
from apps.demo.providers import demo_providers_ensure
from apps.providers.models import ProviderGroup
from tests.accounts.factories import UserFactory
from tests.audience.factories import ProfileFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NAME = "Diwali SMS reminder"
TESS_PHONE = "+919800000001"
BODY_A = 'Hi {{Profile.Name | default: "there"}}, Diwali sale: 20% off everything today!'
BODY_B = '{{Profile.Name | default: "Friend"}}, light up Diwali 🪔 with free delivery today.'
RENDERED_A = "Hi Tess, Diwali sale: 20% off everything today!"  # 47 GSM-7 characters
RENDERED_B = "Tess, light up Diwali 🪔 with free delivery today."  # the lamp is 2 UCS-2 units


@pytest.fixture
def demo_sms_group(provider_sandbox, settings) -> ProviderGroup:
    """The providers `make run` creates (bootstrap_demo), aimed at this run's sandbox: the
    default "Demo SMS" group of Twilio then Vonage."""
    settings.PROVIDER_SANDBOX_HOST = provider_sandbox.host
    settings.PROVIDER_SANDBOX_PORT = provider_sandbox.port
    demo_providers_ensure()
    return ProviderGroup.objects.get(name="Demo SMS")


def _seed_audience() -> None:
    """Five people in India, three of them reachable by SMS; one in France."""
    ProfileFactory(identity="tess", name="Tess", country="India", phone=TESS_PHONE, is_test=True)
    ProfileFactory(identity="asha", name="Asha", country="India", phone="+919800000002")
    ProfileFactory(identity="ravi", name="Ravi", country="India", phone="+919800000003")
    ProfileFactory(
        identity="meera",
        name="Meera",
        country="India",
        phone="+919800000004",
        sms_unsubscribed=True,
    )
    ProfileFactory(identity="kiran", name="Kiran", country="India", phone="")
    ProfileFactory(identity="jean", name="Jean", country="France", phone="+33600000001")


def _series_start(today: date) -> date:
    """A Monday at least a week ahead, so the expected sends are plain to write down."""
    start = today + timedelta(days=7)
    return start + timedelta(days=(7 - start.weekday()) % 7)


def _swap(page, selector: str, action) -> None:
    """Do `action` and wait until htmx has replaced the part at `selector` (the next action
    must not race a swap that would throw away what it typed). Waiting for the response is
    not enough: htmx swaps after the browser has handed it the answer."""
    page.eval_on_selector(selector, "part => { part.dataset.e2eReplaced = 'no' }")
    action()
    page.wait_for_function(
        """selector => {
            const part = document.querySelector(selector);
            return part !== null && part.dataset.e2eReplaced === undefined
                && !part.classList.contains("htmx-settling");
        }""",
        arg=selector,
    )


def _on_step(page, label: str) -> None:
    page.wait_for_selector(f"li[aria-current=step]:has-text('{label}')")


def _watch_errors(page) -> list[str]:
    """Script errors and console errors of every page the test opens: a step whose JavaScript
    breaks fails the test with the browser's own message (a missing favicon included)."""
    errors: list[str] = []

    def on_console(message) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        # An invalid step form posted without htmx answers 400 with the errors beside the
        # fields (house style); the browser logs that status for the page itself.
        if source == page.url and "status of 400" in message.text:
            return
        errors.append(f"{page.url}: console: {message.text}")

    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on("console", on_console)
    return errors


def _setup(
    page,
    screenshot,
    group: ProviderGroup,
    *,
    name: str = NAME,
    campaign_type: str = CampaignType.RECURRING,
) -> Campaign:
    """Step 1: name, SMS (the route part follows the channel through htmx), the type, and the
    default demo group already chosen."""
    page.goto("/campaigns/")
    page.get_by_role("button", name="New campaign").click()  # a link styled as a button
    page.wait_for_selector("h1:has-text('New campaign')")
    assert "Choose a channel" in page.locator("#setup-route").inner_text()

    page.get_by_label("Name").fill(name)
    page.get_by_label("SMS", exact=True).check()
    route = page.get_by_label("Send through")
    route.wait_for()
    # The default group is preselected, and the sandbox providers are there to pick instead.
    assert route.input_value() == f"group:{group.pk}"
    options = route.locator("option").all_inner_texts()
    assert "Demo SMS (default)" in options
    assert "Twilio (sandbox) · Twilio" in options
    page.get_by_label(CampaignType(campaign_type).label, exact=True).check()
    if campaign_type == CampaignType.RECURRING:
        screenshot(page, "campaign-wizard-1-setup")

    page.get_by_role("button", name="Save and continue").click()
    _on_step(page, "Who")
    campaign = Campaign.objects.get(name=name)
    assert campaign.channel == "sms" and campaign.campaign_type == campaign_type
    assert campaign.provider_group == group and campaign.provider is None
    assert campaign.wizard_step == WizardStep.SETUP
    assert f"Draft “{name}” created." in page.inner_text("body")
    assert f"SMS · {CampaignType(campaign_type).label}" in page.locator("h1").inner_text()
    return campaign


def _who(page, screenshot, campaign: Campaign) -> None:
    """Step 2: an ad-hoc segment (Country = India) built in place; the estimate follows it."""
    estimate = page.locator("#who-estimate")
    # No saved segments: building one here is the choice already made, and everyone counts.
    assert page.get_by_label("An ad-hoc segment, built here").is_checked()
    page.wait_for_selector("#who-estimate-total[data-total='6']")

    page.get_by_role("button", name="+ Profile property filter").click()
    page.wait_for_selector("input[name=profile-0-name]")
    page.fill("input[name=profile-0-name]", "Country")
    page.fill("input[name=profile-0-value]", "India")
    # Five qualify; Meera unsubscribed from SMS and Kiran has no phone: three reachable.
    page.wait_for_selector("#who-estimate-total[data-total='5']")
    reach = page.locator("#who-estimate-channel").inner_text()
    assert "Reachable by SMS" in reach and "3" in reach
    assert page.locator("#who-estimate-receive").get_attribute("data-receive") == "3"
    assert "About 3" in estimate.inner_text()
    screenshot(page, "campaign-wizard-2-who")

    page.get_by_role("button", name="Save and continue").click()
    _on_step(page, "When")
    campaign.refresh_from_db()
    assert campaign.segment is None
    assert campaign.audience_definition["profile"] == [
        {"name": "Country", "operator": "equals", "value": "India"}
    ]
    assert campaign.wizard_step == WizardStep.WHO


def _when(page, screenshot, campaign: Campaign) -> date:
    """Step 3: every 2 weeks on Mon and Thu at 10:00 from a Monday, 10 sends; DND 21:00-09:00
    on weekdays in each user's time zone, delayed."""
    when_part = "#when-schedule"  # the part a change of the schedule re-renders
    part = page.locator(when_part)
    start = _series_start(timezone.localdate())

    every = page.get_by_label("Repeat every")
    every.fill("2")
    _swap(page, when_part, lambda: every.press("Tab"))
    assert page.get_by_label("Unit", exact=True).input_value() == "weeks"
    _swap(page, when_part, lambda: page.get_by_label("Starting on").fill(start.isoformat()))
    for code in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        box = part.locator(".when-weekdays").get_by_label(code, exact=True)
        wanted = code in ("Mon", "Thu")
        if box.is_checked() != wanted:
            _swap(page, when_part, lambda box=box, wanted=wanted: box.set_checked(wanted))
    assert page.get_by_label("At", exact=True).input_value() == "10:00"
    _swap(page, when_part, lambda: page.get_by_label("After a number of sends").check())
    sends = page.get_by_label("Number of sends", exact=True)
    sends.fill("10")
    _swap(page, when_part, lambda: sends.press("Tab"))

    # The next sends as the account reads them: Mon and Thu of every other week from the start.
    expected = [
        start,
        start + timedelta(days=3),
        start + timedelta(days=14),
        start + timedelta(days=17),
    ]
    preview = part.locator(".when-preview li").all_inner_texts()
    assert preview[:4] == [f"{d:%a} {human_day(d)}, 10:00" for d in expected]

    page.get_by_label("Hold messages during Do Not Disturb hours").check()
    dnd = page.locator(".when-dnd")
    for code in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        dnd.get_by_label(code, exact=True).check()
        assert dnd.get_by_label(f"{code} from").input_value() == "21:00"
        assert dnd.get_by_label(f"{code} until").input_value() == "09:00"
    assert dnd.get_by_label("each user's time zone").is_checked()
    dnd.get_by_label("delayed until DND ends").check()
    screenshot(page, "campaign-wizard-3-when")

    page.get_by_role("button", name="Save and continue").click()
    _on_step(page, "What")
    campaign.refresh_from_db()
    assert campaign.when["type"] == "recurring"
    assert campaign.when["recurring"] == {
        "every": 2,
        "unit": "weeks",
        "weekdays": ["mon", "thu"],
        "time": "10:00",
        "start": start.isoformat(),
        "end": {"kind": "after", "on": None, "after": 10},
    }
    dnd_doc = campaign.delivery["dnd"]
    assert dnd_doc["enabled"] and dnd_doc["timezone"] == "user" and dnd_doc["action"] == "delay"
    assert dnd_doc["windows"] == {
        day: {"start": "21:00", "end": "09:00"} for day in ("mon", "tue", "wed", "thu", "fri")
    }
    return start


def _what(page, screenshot, campaign: Campaign) -> None:
    """Step 4: an A/B test of two SMS variants, the counter and preview as sent to Tess."""
    _swap(page, "#what-editor", lambda: page.get_by_label("A/B test").check())
    variant_a = page.get_by_role("article", name="Variant A")
    variant_b = page.get_by_role("article", name="Variant B")
    variant_b.wait_for()

    population = page.get_by_label("Test population size")
    population.fill("30")
    assert page.get_by_label("Test population unit").input_value() == "percent"

    variant_a.get_by_label("Message").fill(BODY_A)
    counter_a = page.locator("#sms-counter-0")
    page.wait_for_function(
        "document.querySelector('#sms-counter-0').innerText.includes('47 characters · 1 part')"
    )
    assert "GSM-7" in counter_a.inner_text() and "as sent to Tess" in counter_a.inner_text()

    variant_b.get_by_label("Message").fill(BODY_B)
    counter_b = page.locator("#sms-counter-1")
    page.wait_for_function(
        "document.querySelector('#sms-counter-1').innerText.includes('50 characters · 1 part')"
    )
    assert "UCS-2" in counter_b.inner_text()

    variant_a.get_by_role("button", name="Preview").click()
    # A preview debounced from the typing may land first: wait for the text, not the bubble.
    expect(page.locator("#what-preview .preview-sms-bubble")).to_have_text(RENDERED_A)
    assert "Tess" in page.locator("#what-preview").inner_text()
    screenshot(page, "campaign-wizard-4-what")

    page.get_by_role("button", name="Save and continue").click()
    _on_step(page, "Test")
    campaign.refresh_from_db()
    content = campaign.content
    assert content["mode"] == "ab"
    assert content["ab"]["size_kind"] == "percent" and content["ab"]["size"] == 30
    assert [v["key"] for v in content["variants"]] == ["A", "B"]
    assert [v["message"]["body"] for v in content["variants"]] == [BODY_A, BODY_B]


def _test_send(page, screenshot, provider_sandbox) -> None:
    """Step 5: a test to Tess of both variants through the demo group; the sandbox got the
    text rendered for her."""
    assert "provider group Demo SMS, with failover" in page.locator(".test-route").inner_text()
    tess = page.locator("#test-send").get_by_label("Tess")
    assert TESS_PHONE in page.locator("#test-send .test-profiles").inner_text()
    tess.check()
    page.get_by_role("button", name="Send test").click()
    results = page.locator("#test-results")
    results.wait_for()
    rows = results.locator("tbody tr")
    assert rows.count() == 2
    for index, (variant, rendered) in enumerate((("A", RENDERED_A), ("B", RENDERED_B))):
        row = rows.nth(index)
        cells = row.locator("td").all_inner_texts()
        assert variant in cells[0] and "Tess" in cells[1] and cells[2] == TESS_PHONE
        assert "accepted" in cells[3] and cells[4] == "Twilio (sandbox)"
        row.locator("summary", has_text="Message sent").click()
        assert row.locator(".test-rendered").inner_text() == rendered
    screenshot(page, "campaign-wizard-5-test")

    delivered = provider_sandbox.client.messages(order="asc")
    assert [(d["label"], d["recipient"], d["body"]) for d in delivered] == [
        ("twilio", TESS_PHONE, RENDERED_A),
        ("twilio", TESS_PHONE, RENDERED_B),
    ]
    ids = results.locator("code").all_inner_texts()
    assert ids == [d["provider_message_id"] for d in delivered]

    page.get_by_role("button", name="Continue to the overview").click()
    _on_step(page, "Schedule")


def _overview_and_schedule(page, screenshot, campaign: Campaign, start: date) -> None:
    """Step 6: every choice listed with an Edit link, then Schedule; the list shows it."""
    assert page.locator(".overview-problems").count() == 0
    status = page.locator(".overview-status").inner_text()
    assert f"First run {start.isoformat()} 10:00" in status

    def rows(slug: str) -> str:
        return page.locator(f"#overview-{slug}").inner_text()

    assert "Diwali SMS reminder" in rows("setup") and "Recurring" in rows("setup")
    assert "Provider group Demo SMS" in rows("setup")
    assert "Country" in rows("who") and "India" in rows("who")
    when = rows("when")
    assert f"Every 2 weeks on Mon, Thu at 10:00 from {human_day(start)}, 10 times" in when
    assert "DND 21:00\u201309:00 Mon\u2013Fri, user's timezone, delayed" in when  # en dashes
    what = rows("what")
    assert "A/B test of 2 variants, tested on 30%, winner by clicks" in what
    assert "Hi {{Profile.Name" in what
    for slug in ("setup", "who", "when", "what", "test"):
        edit = page.locator(f"#overview-{slug} a.overview-edit")
        assert edit.get_attribute("href") == f"/campaigns/{campaign.pk}/edit/{slug}/?then=overview"
    screenshot(page, "campaign-wizard-6-overview")

    page.get_by_role("button", name="Schedule", exact=True).click()
    page.wait_for_url(f"**/campaigns/{campaign.pk}/")
    assert f"“{NAME}” is scheduled for {start.isoformat()} 10:00" in page.inner_text("body")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    # The first run: the start Monday at 10:00 on the account's clock.
    zone = ZoneInfo(account_settings_get().timezone)
    assert campaign.next_run_at == datetime.combine(start, time(10, 0), tzinfo=zone)
    screenshot(page, "campaign-wizard-7-scheduled")

    page.goto("/campaigns/")
    row = page.locator(f"#campaign-{campaign.pk}")
    assert row.get_by_role("link", name=NAME).is_visible()
    cells = row.locator("td").all_inner_texts()
    assert cells[1:4] == ["SMS", "Recurring", "Scheduled"]
    screenshot(page, "campaign-wizard-8-list")


def test_a_marketer_builds_tests_and_schedules_an_sms_ab_campaign(
    page, screenshot, demo_sms_group, provider_sandbox
):
    cache.clear()  # estimates and circuit states are cached in Redis: start from this test's data
    UserFactory(username="mia", role=Role.MARKETER)
    _seed_audience()
    errors = _watch_errors(page)
    log_in(page, "mia")

    campaign = _setup(page, screenshot, demo_sms_group)
    assert errors == []
    _who(page, screenshot, campaign)
    assert errors == []
    start = _when(page, screenshot, campaign)
    assert errors == []
    _what(page, screenshot, campaign)
    assert errors == []
    _test_send(page, screenshot, provider_sandbox)
    assert errors == []
    _overview_and_schedule(page, screenshot, campaign, start)
    assert errors == []


def test_a_draft_left_until_its_date_passed_says_why_on_the_overview_and_is_fixed_from_there(
    page, screenshot, demo_sms_group, provider_sandbox
):
    cache.clear()
    UserFactory(username="mia", role=Role.MARKETER)
    ProfileFactory(identity="tess", name="Tess", phone=TESS_PHONE, is_test=True)
    errors = _watch_errors(page)
    log_in(page, "mia")
    name = "Flash sale"
    campaign = _setup(
        page, screenshot, demo_sms_group, name=name, campaign_type=CampaignType.ONE_TIME
    )

    page.get_by_role("button", name="Save and continue").click()  # Who: everyone
    _on_step(page, "When")
    assert page.get_by_label("At a date and time").is_checked()
    page.get_by_role("button", name="Save and continue").click()  # tomorrow 10:00
    _on_step(page, "What")
    page.get_by_role("textbox", name="Message", exact=True).fill("Hi {{Profile.Name}}, 1 day only")
    page.get_by_role("button", name="Save and continue").click()
    _on_step(page, "Test")
    page.get_by_role("button", name="Skip test").click()
    _on_step(page, "Schedule")
    assert "ready" in page.locator(".overview-status").inner_text()

    # The marketer comes back after the date has gone by.
    yesterday = timezone.localdate() - timedelta(days=1)
    campaign.refresh_from_db()
    Campaign.objects.filter(pk=campaign.pk).update(
        when={**campaign.when, "at": f"{yesterday.isoformat()}T10:00"}
    )
    page.reload()
    problems = page.locator(".overview-problems")
    assert "This campaign cannot be scheduled yet" in problems.inner_text()
    assert f"The date {yesterday.isoformat()} 10:00 is in the past" in problems.inner_text()
    assert page.get_by_role("button", name="Schedule", exact=True).is_disabled()
    screenshot(page, "campaign-wizard-overview-problem")

    # Its link goes to When and back to the overview; a broken Liquid tag on the way stays
    # beside its field, with its line, and nothing is saved.
    problems.get_by_role("link", name="Fix in When").click()
    _on_step(page, "When")
    later = timezone.localdate() + timedelta(days=3)
    page.get_by_label("Date and time", exact=True).fill(f"{later.isoformat()}T09:30")
    page.get_by_role("button", name="Save and back to overview").click()
    _on_step(page, "Schedule")
    assert page.locator(".overview-problems").count() == 0
    assert f"First run {later.isoformat()} 09:30" in page.locator(".overview-status").inner_text()

    page.locator("#overview-what").get_by_role("link", name="Edit").click()
    _on_step(page, "What")
    body = page.get_by_role("textbox", name="Message", exact=True)
    body.fill("Hi {{Profile.Name}},\n{% if Profile.City %}see you in {{Profile.City}}")
    page.get_by_role("button", name="Save and back to overview").click()
    error = page.locator("#variant-0-body_errors")
    error.wait_for()
    assert "Line 2" in error.inner_text()
    assert body.input_value().endswith("see you in {{Profile.City}}")  # what was typed stays
    screenshot(page, "campaign-wizard-what-liquid-error")
    campaign.refresh_from_db()
    assert campaign.content["variants"][0]["message"]["body"] == "Hi {{Profile.Name}}, 1 day only"
    page.get_by_role("link", name="Schedule").click()  # the step bar: back, unchanged
    _on_step(page, "Schedule")

    page.get_by_role("button", name="Schedule", exact=True).click()
    page.wait_for_url(f"**/campaigns/{campaign.pk}/")
    assert f"“{name}” is scheduled for {later.isoformat()} 09:30" in page.inner_text("body")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    assert errors == []


def test_a_campaign_held_by_the_safety_check_says_why_and_is_fixed_from_the_overview(
    page, screenshot, demo_sms_group
):
    """A one-time SMS campaign capped at 2 people meets an audience of 3 when its run starts
    (the engine's own run task): nothing is sent, the list badges it, its page and the
    overview say why, and raising the cap from the banner's link then scheduling clears it."""
    from apps.delivery import runs
    from apps.delivery.models import CampaignRun, RunStatus

    cache.clear()
    UserFactory(username="mia", role=Role.MARKETER)
    _seed_audience()  # three people in India reachable by SMS
    later = timezone.localdate() + timedelta(days=3)
    campaign = Campaign.objects.create(
        name="Coupon blast",
        channel="sms",
        status=CampaignStatus.RUNNING,
        audience_definition={
            "version": 1,
            "profile": [{"name": "Country", "operator": "equals", "value": "India"}],
        },
        limit_overall=None,
        safety_cap=2,
        content={
            "mode": "single",
            "variants": [
                {"key": "A", "name": "Variant A", "match": "", "message": {"body": "20% off"}}
            ],
        },
        when={"type": "at", "at": f"{later.isoformat()}T09:30"},
        wizard_step=WizardStep.SCHEDULE,
    )
    run = CampaignRun.objects.create(campaign=campaign, scheduled_for=timezone.now())
    runs.run_start_and_fan_out(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.REFUSED
    errors = _watch_errors(page)
    log_in(page, "mia")

    page.goto("/campaigns/")
    row = page.locator(f"#campaign-{campaign.pk}")
    expect(row.locator(".badge", has_text="Held by safety check")).to_be_visible()
    screenshot(page, "campaign-safety-hold-list")

    row.get_by_role("link", name="Coupon blast").click()
    banner = page.locator("#safety-hold")
    expect(banner).to_contain_text("3 people qualified: above this campaign's safety cap of 2")
    expect(banner).to_contain_text("Nothing was sent")
    screenshot(page, "campaign-safety-hold-page")

    page.get_by_role("button", name="Edit").click()  # a link styled as a button
    _on_step(page, "Schedule")
    expect(page.locator("#safety-hold")).to_be_visible()
    screenshot(page, "campaign-safety-hold-overview")

    page.locator("#safety-hold").get_by_role("link", name="Raise the safety cap").click()
    _on_step(page, "Who")
    assert page.url.endswith("?then=overview#id_safety_cap")
    cap = page.get_by_label("Safety check: upper cap")
    expect(cap).to_have_value("2")
    expect(page.locator("#who-estimate-over-cap")).to_contain_text("above the safety cap of 2")
    screenshot(page, "campaign-safety-hold-who")
    cap.fill("10")
    page.get_by_role("button", name="Save and back to overview").click()
    _on_step(page, "Schedule")
    expect(page.locator("#safety-hold-cap-now")).to_have_text("The safety cap is now 10.")

    page.get_by_role("button", name="Schedule", exact=True).click()
    page.wait_for_url(f"**/campaigns/{campaign.pk}/")
    assert page.locator("#safety-hold").count() == 0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED and not campaign.is_safety_held
    assert list(campaign.runs.values_list("status", flat=True)) == [RunStatus.REFUSED]
    assert errors == []
