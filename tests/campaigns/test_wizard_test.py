"""Step 5, Test: test sends over real HTTP to the provider sandbox, through the campaign's
provider or its failover group, rendered for each recipient; what the page shows about each
answer; field errors; the empty state; Skip test."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from apps.campaigns.models import Campaign, CampaignStatus, WizardStep
from apps.campaigns.test_send import campaign_test_send, phone_number_normalise
from apps.providers.services import provider_create, provider_group_save
from tests.audience.factories import DeviceFactory, ProfileFactory
from tests.campaigns.factories import CampaignFactory
from tests.providers.factories import fresh_provider_state, sandbox_fcm, sandbox_twilio

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_state():
    yield from fresh_provider_state()


def _content(channel: str, *variants: dict) -> dict:
    keys = "ABC"
    return {
        "mode": "ab" if len(variants) > 1 else "single",
        "variants": [
            {"key": keys[i], "name": f"Variant {keys[i]}", "match": "", "message": message}
            for i, message in enumerate(variants)
        ],
        "ab": {"size_kind": "percent", "size": 20, "metric": "clicks", "window_hours": 4},
        "multi": {"property": "", "fallback": "A"},
        "template_id": None,
    }


def _sms_campaign(**fields):
    return CampaignFactory(
        name="Coupon",
        channel="sms",
        content=_content("sms", {"body": "Hi {{ Profile.Name }}, your code is GOLD"}),
        wizard_step=WizardStep.WHAT,
        **fields,
    )


@pytest.fixture
def ann(db):
    return ProfileFactory(name="Ann", identity="ann", phone="+14155550101", is_test=True)


def _url(campaign):
    return reverse("campaigns:step", kwargs={"pk": campaign.pk, "step": "test"})


def _send(client, campaign, **posted):
    return client.post(_url(campaign), {"action": "send", **posted})


# --- the page --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_page_lists_test_profiles_with_their_address_and_the_route(
    marketer_client, provider_sandbox, ann
):
    ProfileFactory(name="Bob", phone="", is_test=True)
    ProfileFactory(name="Not a tester", phone="+14155550199")
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    html = marketer_client.get(_url(campaign)).content.decode()

    assert "Test messages go through <strong>Tw (Twilio)</strong>" in html
    assert f'value="{ann.pk}" checked> Ann' in html and "+14155550101" in html
    assert "Bob" in html and "no phone number" in html
    bob = campaign_test_profiles_checkbox(html, "Bob")
    assert "disabled" in bob and "checked" not in bob
    assert "Not a tester" not in html
    assert 'name="phone_numbers"' in html
    assert "No test profiles yet" not in html
    assert 'name="action" value="skip"' in html


def campaign_test_profiles_checkbox(html: str, name: str) -> str:
    line = next(line for line in html.splitlines() if f"> {name} " in line)
    return line[: line.index(f"> {name} ")]


@pytest.mark.slow
def test_without_test_profiles_the_page_says_how_to_get_one(marketer_client, provider_sandbox):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    html = marketer_client.get(_url(campaign)).content.decode()
    assert "No test profiles yet." in html
    assert reverse("audience:profile_list") in html
    assert 'name="profiles"' not in html  # nothing to tick; the search and a number remain
    assert 'id="test-search"' in html and 'name="phone_numbers"' in html


def test_a_campaign_without_a_provider_says_so(marketer_client, ann):
    campaign = CampaignFactory(
        channel="push", content=_content("push", {"body": "x"}), wizard_step=WizardStep.WHAT
    )
    html = marketer_client.get(_url(campaign)).content.decode()
    assert "This campaign has no provider yet" in html
    assert 'name="phone_numbers"' not in html  # typed numbers are an SMS thing


@pytest.mark.slow
def test_search_finds_other_profiles_as_a_partial(htmx_client, provider_sandbox, ann):
    other = ProfileFactory(name="Carla", identity="carla-1", phone="+4930123456")
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    html = htmx_client.get(_url(campaign), {"q": "carla"}).content.decode()

    assert html.lstrip().startswith('<div id="test-search-results">')
    assert f'name="profiles" value="{other.pk}"' in html and "+4930123456" in html
    assert "Ann" not in html  # the test profiles are listed already
    nothing = htmx_client.get(_url(campaign), {"q": "zzz"}).content.decode()
    assert (
        "No other profile\N{RIGHT SINGLE QUOTATION MARK}s identity or email starts with “zzz”."
        in nothing
    )


@pytest.mark.slow
def test_a_profile_picked_in_the_search_joins_the_list_and_the_empty_note_goes(
    htmx_client, provider_sandbox
):
    carla = ProfileFactory(name="Carla", identity="carla-1", phone="+4930123456")
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    assert "No test profiles yet." in htmx_client.get(_url(campaign)).content.decode()

    html = htmx_client.get(
        _url(campaign), {"pick": "1", "profiles": [str(carla.pk)], "q": "carla"}
    ).content.decode()

    listed, search = html.split('<div id="test-search-results"', 1)
    assert listed.lstrip().startswith('<div id="test-profiles">')
    assert f'value="{carla.pk}" checked> Carla <span class="badge">searched</span>' in listed
    assert "+4930123456" in listed
    assert "No test profiles yet." not in html
    # The search results are answered again, out of band, without the profile just picked.
    assert search.startswith(' hx-swap-oob="true">')
    assert f'value="{carla.pk}"' not in search
    assert "starts with “carla”" in search


@pytest.mark.slow
def test_the_search_leaves_out_profiles_picked_already(htmx_client, provider_sandbox, ann):
    carla = ProfileFactory(name="Carla", identity="carla-1", phone="+4930123456")
    other = ProfileFactory(name="Carlos", identity="carla-2", phone="+4930123457")
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    html = htmx_client.get(
        _url(campaign), {"q": "carla", "profiles": [str(carla.pk), str(ann.pk)]}
    ).content.decode()

    assert f'value="{other.pk}"' in html and f'value="{carla.pk}"' not in html


@pytest.mark.slow
def test_after_a_send_to_a_searched_profile_the_empty_note_is_gone(htmx_client, provider_sandbox):
    carla = ProfileFactory(name="Carla", identity="carla-1", phone="+4930123456")
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    html = _send(htmx_client, campaign, profiles=[carla.pk]).content.decode()

    assert [d["recipient"] for d in provider_sandbox.client.messages("tw")] == ["+4930123456"]
    assert f'value="{carla.pk}" checked> Carla' in html
    assert "No test profiles yet." not in html


# --- sending ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_sms_test_reaches_the_provider_rendered_for_the_profile(
    htmx_client, provider_sandbox, ann
):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    response = _send(htmx_client, campaign, profiles=[ann.pk])

    [delivered] = provider_sandbox.client.messages("tw")
    assert delivered["recipient"] == "+14155550101"
    assert delivered["body"] == "Hi Ann, your code is GOLD"
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html  # the htmx partial
    assert html.lstrip().startswith('<div id="test-send">')
    assert '<span class="badge good">accepted</span>' in html
    assert f"<code>{delivered['provider_message_id']}</code>" in html
    assert "<td>Tw</td>" in html and "Hi Ann, your code is GOLD" in html
    stored = Campaign.objects.get(pk=campaign.pk)
    # A test is not a step save or a delivery: nothing about the campaign moved.
    assert stored.wizard_step == WizardStep.WHAT and stored.status == CampaignStatus.DRAFT


@pytest.mark.slow
def test_without_htmx_the_send_answers_with_the_whole_page_and_the_results(
    marketer_client, provider_sandbox, ann
):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    response = _send(marketer_client, campaign, profiles=[ann.pk])

    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'id="test-results"' in html and '<span class="badge good">accepted</span>' in html
    assert f'value="{ann.pk}" checked' in html  # the choice is kept for the next send
    assert len(provider_sandbox.client.messages("tw")) == 1


@pytest.mark.slow
def test_an_sms_test_through_a_group_fails_over_when_the_first_provider_fails(
    htmx_client, provider_sandbox, settings, ann
):
    settings.HERALD_CIRCUIT_FAILURE_THRESHOLD = 1000  # keep the breaker out of this test
    first, second = (
        sandbox_twilio(provider_sandbox, "first"),
        sandbox_twilio(provider_sandbox, "second"),
    )
    group = provider_group_save(name="Failover", providers=[first, second])
    campaign = _sms_campaign(provider_group=group)
    provider_sandbox.client.set_faults("first", error_rate=1.0, error_status=500)

    html = _send(htmx_client, campaign, profiles=[ann.pk]).content.decode()

    assert provider_sandbox.client.messages("first") == []
    [delivered] = provider_sandbox.client.messages("second")
    assert delivered["body"] == "Hi Ann, your code is GOLD"
    assert "<td>Second</td>" in html and '<span class="badge good">accepted</span>' in html
    page = htmx_client.get(_url(campaign)).content.decode()
    assert "go through <strong>provider group Failover, with failover</strong>" in page


@pytest.mark.slow
def test_an_sms_campaign_without_a_route_tests_through_the_default_group(
    htmx_client, provider_sandbox, ann
):
    provider_group_save(
        name="Main", providers=[sandbox_twilio(provider_sandbox, "dflt")], is_default=True
    )
    campaign = _sms_campaign()

    html = _send(htmx_client, campaign, profiles=[ann.pk]).content.decode()

    assert [d["recipient"] for d in provider_sandbox.client.messages("dflt")] == ["+14155550101"]
    assert '<span class="badge good">accepted</span>' in html and "<td>Dflt</td>" in html
    page = htmx_client.get(_url(campaign)).content.decode()
    assert "provider group Main (the default group), with failover" in page


@pytest.mark.slow
def test_a_typed_number_gets_the_message_rendered_for_an_empty_profile(
    htmx_client, provider_sandbox
):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    html = _send(htmx_client, campaign, phone_numbers="+44 20 7946-0958").content.decode()

    [delivered] = provider_sandbox.client.messages("tw")
    assert delivered["recipient"] == "+442079460958"
    assert delivered["body"] == "Hi , your code is GOLD"
    assert "<td>+442079460958</td>" in html


@pytest.mark.slow
def test_the_providers_refusal_is_shown_with_its_own_error_text(htmx_client, provider_sandbox, ann):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    provider_sandbox.client.set_faults("tw", reject_recipients=["+14155550101"])

    html = _send(htmx_client, campaign, profiles=[ann.pk]).content.decode()

    assert provider_sandbox.client.messages("tw") == []
    assert '<span class="badge bad">failed</span>' in html
    outcome = campaign_test_send(campaign=campaign, profiles=[ann])[0]
    assert outcome.status == "permanent" and outcome.error
    assert f'<span class="test-error">{escape(outcome.error)}</span>' in html


@pytest.mark.slow
def test_only_the_chosen_variant_is_sent(htmx_client, provider_sandbox, ann):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    campaign.content = _content("sms", {"body": "First A"}, {"body": "Then B"})
    campaign.save()

    page = htmx_client.get(_url(campaign)).content.decode()
    assert 'name="variants" value="A" checked' in page and 'value="B" checked' in page
    _send(htmx_client, campaign, profiles=[ann.pk], variants=["B"])

    assert [d["body"] for d in provider_sandbox.client.messages("tw")] == ["Then B"]


@pytest.mark.slow
def test_a_push_test_goes_to_every_device_token_of_the_test_profile(
    htmx_client, provider_sandbox, ann
):
    provider = sandbox_fcm(provider_sandbox, "fcm-test")
    phone = DeviceFactory(profile=ann, push_token="tok-phone_" + "a" * 40)
    tablet = DeviceFactory(profile=ann, push_token="tok-tablet_" + "b" * 40)
    DeviceFactory(profile=ann, push_token=None)
    campaign = CampaignFactory(
        channel="push",
        provider=provider,
        wizard_step=WizardStep.WHAT,
        content=_content("push", {"title": "Hey {{ Profile.Name }}", "body": "Sale today"}),
    )

    html = _send(htmx_client, campaign, profiles=[ann.pk]).content.decode()

    delivered = provider_sandbox.client.messages("fcm-test")
    assert sorted(d["recipient"] for d in delivered) == sorted(
        [phone.push_token, tablet.push_token]
    )
    assert {(d["subject"], d["body"]) for d in delivered} == {("Hey Ann", "Sale today")}
    assert html.count('<span class="badge good">accepted</span>') == 2


@pytest.mark.slow
def test_an_email_test_is_rendered_for_the_profile_and_sent_from_the_campaigns_sender(
    htmx_client, provider_sandbox, ann
):
    provider = provider_create(
        channel="email",
        kind="sendgrid",
        nickname="SG",
        base_url=provider_sandbox.url_for("sg-test"),
        credentials={"api_key": "SG.test-key"},
        settings={"from_email": "default@herald.test"},
    )
    message = {
        "subject": "For {{ Profile.Name }}",
        "sender_name": "",
        "preheader": "Open me",
        "html": "<p>Hello {{ Profile.Name }}</p>",
        "text": "Hello {{ Profile.Name }}",
    }
    campaign = CampaignFactory(
        channel="email",
        provider=provider,
        sender_name="Herald News",
        sender_email="news@herald.test",
        reply_to_email="help@herald.test",
        wizard_step=WizardStep.WHAT,
        content=_content("email", message),
    )

    html = _send(htmx_client, campaign, profiles=[ann.pk]).content.decode()

    [received] = provider_sandbox.client.messages("sg-test")
    assert (received["recipient"], received["subject"]) == (ann.email, "For Ann")
    request = received["extra"]["request"]
    assert request["from"] == {"email": "news@herald.test", "name": "Herald News"}
    assert request["reply_to"] == {"email": "help@herald.test"}
    assert {"type": "text/plain", "value": "Hello Ann"} in request["content"]
    [sent_html] = [c["value"] for c in request["content"] if c["type"] == "text/html"]
    assert sent_html.endswith("<p>Hello Ann</p>") and ">Open me</div>" in sent_html
    assert '<span class="badge good">accepted</span>' in html


@pytest.mark.slow
def test_a_profile_without_an_address_is_listed_as_not_sent(htmx_client, provider_sandbox):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    searched = ProfileFactory(name="No phone", phone="")

    html = _send(htmx_client, campaign, profiles=[searched.pk]).content.decode()

    assert provider_sandbox.client.messages("tw") == []
    assert '<span class="badge bad">not sent</span>' in html
    assert "Not sent: this profile has no phone number." in html


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("number", ["4155550101", "+1 555", "+1234567890123456", "+44abc12345"])
def test_a_number_without_a_country_code_is_a_field_error_and_nothing_is_sent(
    marketer_client, provider_sandbox, number
):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    response = _send(marketer_client, campaign, phone_numbers=number)

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_phone_numbers_errors"' in html
    assert "is not a phone number with its country code" in html
    assert provider_sandbox.client.messages("tw") == []


@pytest.mark.slow
def test_every_bad_number_is_named_and_the_good_numbers_still_get_the_test(
    htmx_client, provider_sandbox
):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    response = _send(
        htmx_client,
        campaign,
        phone_numbers="+14155550101, 4155550102; +1 555\n+44 20 7946 0958, 4155550102",
    )

    html = response.content.decode()
    delivered = provider_sandbox.client.messages("tw")
    assert sorted(d["recipient"] for d in delivered) == ["+14155550101", "+442079460958"]
    assert response.status_code == 200 and 'id="test-results"' in html
    assert html.count('<span class="badge good">accepted</span>') == 2
    errors = html.split('id="id_phone_numbers_errors">', 1)[1].split("</ul>", 1)[0]
    assert escape("Not sent to “4155550102” or “+1 555”: a phone number needs") in errors
    assert "The other recipients got the test." in errors
    assert 'value="+14155550101, 4155550102; +1 555' in html  # what was typed stays


@pytest.mark.slow
def test_when_every_number_is_bad_each_is_named_and_nothing_is_sent(
    marketer_client, provider_sandbox
):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    response = _send(marketer_client, campaign, phone_numbers="12, 4155550101, +44abc12345")

    html = response.content.decode()
    assert response.status_code == 400
    assert (
        escape("“12”, “4155550101” and “+44abc12345” are not phone numbers with their country")
        in html
    )
    assert "Choose a test profile" not in html
    assert provider_sandbox.client.messages("tw") == []


@pytest.mark.slow
def test_a_bad_number_is_named_when_the_form_fails_for_another_reason(
    marketer_client, provider_sandbox
):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    campaign.content = _content("sms", {"body": "First A"}, {"body": "Then B"})
    campaign.save()

    response = _send(marketer_client, campaign, phone_numbers="+14155550101, 555")

    html = response.content.decode()
    assert response.status_code == 400 and "Choose at least one variant to send." in html
    assert escape("“555” is not a phone number with its country code") in html
    assert provider_sandbox.client.messages("tw") == []


@pytest.mark.slow
def test_an_htmx_send_with_errors_answers_200_with_the_form(htmx_client, provider_sandbox):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    response = _send(htmx_client, campaign, phone_numbers="12")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="test-send">')
    assert 'id="id_phone_numbers_errors"' in html and 'id="test-results"' not in html


@pytest.mark.slow
def test_sending_to_nobody_asks_for_a_recipient(marketer_client, provider_sandbox, ann):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    html = _send(marketer_client, campaign).content.decode()
    assert "Choose a test profile or type a phone number." in html
    assert provider_sandbox.client.messages("tw") == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "posted",
    [
        {"profiles": ["abc"]},
        {"profiles": ["999999"]},
        {"profiles": ["99999999999999999999999"]},
        {"profiles": ["-1"], "phone_numbers": "+1\x00"},
        {"profiles": ["1"], "variants": ["Z"]},
        {"phone_numbers": "+1" + "5" * 600},
    ],
)
def test_garbage_is_a_field_error_not_a_crash(marketer_client, provider_sandbox, posted):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    response = _send(marketer_client, campaign, **posted)
    assert response.status_code == 400
    assert 'class="errorlist"' in response.content.decode()
    assert provider_sandbox.client.messages("tw") == []


def test_a_campaign_without_content_cannot_send_a_test(marketer_client, ann):
    campaign = CampaignFactory(channel="sms", content={}, wizard_step=WizardStep.WHAT)
    response = _send(marketer_client, campaign, profiles=[ann.pk])
    assert response.status_code == 400
    assert "Nothing to send yet: write the message in What first." in response.content.decode()


@pytest.mark.slow
def test_more_than_twenty_recipients_are_refused(marketer_client, provider_sandbox):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    numbers = ", ".join(f"+1415555{i:04d}" for i in range(21))
    html = _send(marketer_client, campaign, phone_numbers=numbers).content.decode()
    assert "At most 20 test recipients at once (21 chosen)." in html
    assert provider_sandbox.client.messages("tw") == []


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("+14155550101", "+14155550101"),
        ("+44 (20) 7946.0958", "+442079460958"),
        ("+12345678", "+12345678"),
        ("+1234567", None),
        ("+1234567890123456", None),
        ("14155550101", None),
        ("", None),
    ],
)
def test_phone_numbers_need_a_plus_and_8_to_15_digits(raw, normalised):
    assert phone_number_normalise(raw) == normalised


# --- moving on -------------------------------------------------------------------------------


@pytest.mark.slow
def test_skip_test_marks_the_step_done_and_goes_on(marketer_client, provider_sandbox):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))

    response = marketer_client.post(_url(campaign), {"action": "skip"})

    assert response["Location"] == reverse(
        "campaigns:step", kwargs={"pk": campaign.pk, "step": "schedule"}
    )
    assert Campaign.objects.get(pk=campaign.pk).wizard_step == WizardStep.TEST
    assert provider_sandbox.client.messages() == []


@pytest.mark.slow
def test_a_viewer_cannot_send_a_test(viewer_client, provider_sandbox, ann):
    campaign = _sms_campaign(provider=sandbox_twilio(provider_sandbox, "tw"))
    response = _send(viewer_client, campaign, profiles=[ann.pk])
    assert response.status_code == 403
    assert provider_sandbox.client.messages("tw") == []
