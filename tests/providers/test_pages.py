import json
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from apps.providers.adapters.base import SendResult, SendStatus
from apps.providers.circuit import circuit_record
from apps.providers.kinds import KINDS
from apps.providers.models import Provider, ProviderGroup
from apps.providers.services import provider_create, provider_group_save

SECRET = "s3cr3t-auth-token-4f1c"
LIST_URL = reverse("providers:provider_list")
GROUPS_URL = reverse("providers:group_list")


@pytest.fixture(autouse=True)
def _fresh_circuits():
    cache.clear()
    yield
    cache.clear()


def _html(response) -> str:
    return response.content.decode()


def _twilio(nickname="Twilio main", base_url="https://api.twilio.com", **kw) -> Provider:
    return provider_create(
        channel="sms",
        kind="twilio",
        nickname=nickname,
        base_url=base_url,
        credentials={"account_sid": "ACmain", "auth_token": SECRET},
        settings={"from_number": "+15550001111"},
        **kw,
    )


# --- Providers ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_provider_list_shows_an_empty_state_and_a_way_to_add_one(admin_client):
    html = _html(admin_client.get(LIST_URL))
    assert "No providers yet" in html
    assert reverse("providers:provider_create") in html
    choice = _html(admin_client.get(reverse("providers:provider_create") + "?channel=sms"))
    assert "?kind=twilio" in choice and "?kind=generic_sms" in choice
    assert "?kind=sendgrid" not in choice


@pytest.mark.django_db
def test_an_admin_adds_a_twilio_provider_and_no_page_ever_shows_its_secret(admin_client):
    url = reverse("providers:provider_create") + "?kind=twilio"
    assert "Auth token" in _html(admin_client.get(url))
    response = admin_client.post(
        url,
        {
            "nickname": "Twilio main",
            "base_url": "https://api.twilio.com",
            "cred_account_sid": "ACmain",
            "cred_auth_token": SECRET,
            "setting_from_number": "+15550001111",
            "setting_messaging_service_sid": "",
            "extra_settings": '{"timeout_s": 5}',
        },
        follow=True,
    )
    provider = Provider.objects.get()
    assert (provider.channel, provider.kind, provider.nickname) == ("sms", "twilio", "Twilio main")
    assert provider.credentials == {"account_sid": "ACmain", "auth_token": SECRET}
    assert provider.settings == {"from_number": "+15550001111", "timeout_s": 5}
    assert SECRET not in provider.credentials_encrypted

    pages = [
        response,
        admin_client.get(LIST_URL),
        admin_client.get(reverse("providers:provider_detail", args=[provider.pk])),
        admin_client.post(reverse("providers:provider_detail", args=[provider.pk]), {}),
        admin_client.get(reverse("providers:provider_delete", args=[provider.pk])),
    ]
    for page in pages:
        assert SECRET not in _html(page)
        assert "ACmain" not in _html(page)
    assert "Provider “Twilio main” added." in _html(response)
    detail = _html(pages[2])
    assert 'badge good">set</span>' in detail
    assert "+15550001111" in detail  # non-secret settings are shown


@pytest.mark.django_db
def test_editing_keeps_a_secret_left_blank_and_replaces_one_typed_again(admin_client):
    provider = _twilio()
    url = reverse("providers:provider_detail", args=[provider.pk])
    fields = {
        "nickname": "Renamed",
        "base_url": "http://127.0.0.1:9/p/x",
        "cred_account_sid": "",
        "cred_auth_token": "",
        "setting_from_number": "+15550002222",
        "extra_settings": "",
    }
    admin_client.post(url, fields)
    provider.refresh_from_db()
    assert provider.nickname == "Renamed"
    assert provider.base_url == "http://127.0.0.1:9/p/x"
    assert provider.credentials == {"account_sid": "ACmain", "auth_token": SECRET}
    assert provider.settings == {"from_number": "+15550002222"}

    admin_client.post(url, {**fields, "cred_auth_token": "new-token"})
    provider.refresh_from_db()
    assert provider.credentials == {"account_sid": "ACmain", "auth_token": "new-token"}


@pytest.mark.django_db
def test_a_duplicate_nickname_and_bad_json_are_refused_beside_their_fields(admin_client):
    _twilio(nickname="Taken")
    response = admin_client.post(
        reverse("providers:provider_create") + "?kind=twilio",
        {
            "nickname": "Taken",
            "cred_account_sid": "AC1",
            "cred_auth_token": "t",
            "extra_settings": "{not json",
        },
    )
    assert response.status_code == 400
    assert 'id="id_extra_settings_errors"><li>Not valid JSON' in _html(response)

    duplicate = admin_client.post(
        reverse("providers:provider_create") + "?kind=twilio",
        {"nickname": "Taken", "cred_account_sid": "AC1", "cred_auth_token": "t"},
    )
    assert duplicate.status_code == 400
    assert 'id="id_nickname_errors"><li>A sms provider named “Taken” already exists' in _html(
        duplicate
    )
    assert Provider.objects.count() == 1

    missing = admin_client.post(
        reverse("providers:provider_create") + "?kind=twilio", {"nickname": "New"}
    )
    assert 'id="id_cred_auth_token_errors"><li>This field is required.' in _html(missing)
    assert Provider.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db
def test_a_test_sms_reaches_the_sandbox_and_the_page_shows_the_providers_answer(
    admin_client, provider_sandbox
):
    provider = _twilio(base_url=provider_sandbox.url_for("demo"))
    url = reverse("providers:provider_test_send", args=[provider.pk])

    response = admin_client.post(url, {"to": "+1 (415) 555-0123", "text": "Hello from the test"})

    html = _html(response)
    delivered = provider_sandbox.client.messages()
    assert [(d["label"], d["recipient"], d["body"]) for d in delivered] == [
        ("demo", "+14155550123", "Hello from the test")
    ]
    assert "accepted" in html
    assert delivered[0]["provider_message_id"] in html
    assert SECRET not in html


@pytest.mark.slow
@pytest.mark.django_db
def test_a_test_send_shows_the_providers_error_text_for_a_refused_number(
    admin_client, provider_sandbox
):
    provider = _twilio(base_url=provider_sandbox.url_for("demo"))
    provider_sandbox.client.set_faults("demo", reject_recipients=["+14155550199"])
    admin_client.defaults["HTTP_HX_REQUEST"] = "true"

    response = admin_client.post(
        reverse("providers:provider_test_send", args=[provider.pk]), {"to": "+14155550199"}
    )

    html = _html(response)
    assert "permanent failure" in html and "<html" not in html  # the htmx partial
    assert re.search(r"<dt>Error</dt><dd>.+</dd>", html)
    assert provider_sandbox.client.messages() == []


@pytest.mark.django_db
def test_a_test_sms_needs_a_country_code(admin_client):
    provider = _twilio()
    response = admin_client.post(
        reverse("providers:provider_test_send", args=[provider.pk]), {"to": "4155550123"}
    )
    assert response.status_code == 400
    assert "Enter the number with its country code" in _html(response)


@pytest.mark.slow
@pytest.mark.django_db
def test_a_test_email_goes_through_an_email_provider(admin_client, provider_sandbox):
    provider = provider_create(
        channel="email",
        kind="sendgrid",
        nickname="SendGrid",
        base_url=provider_sandbox.url_for("mail"),
        credentials={"api_key": "SG.key"},
        settings={"from_email": "demo@herald.test"},
    )
    url = reverse("providers:provider_test_send", args=[provider.pk])
    bad = admin_client.post(url, {"to": "not-an-address"})
    assert "Enter a valid email address." in _html(bad)

    html = _html(admin_client.post(url, {"to": "ada@example.com", "text": "Hi Ada"}))

    delivered = provider_sandbox.client.messages()
    assert [(d["label"], d["recipient"]) for d in delivered] == [("mail", "ada@example.com")]
    assert "accepted" in html


@pytest.mark.django_db
def test_an_admin_deactivates_and_reactivates_a_provider(admin_client):
    provider = _twilio()
    url = reverse("providers:provider_set_active", args=[provider.pk])
    admin_client.post(url, {"is_active": "0", "next": "list"})
    provider.refresh_from_db()
    assert not provider.is_active
    assert 'badge bad">inactive' in _html(admin_client.get(LIST_URL))
    admin_client.post(url, {"is_active": "1"})
    provider.refresh_from_db()
    assert provider.is_active


@pytest.mark.django_db
def test_a_provider_in_a_group_is_not_deleted_until_removed_from_it(admin_client):
    provider = _twilio()
    group = provider_group_save(name="Main", providers=[provider])
    url = reverse("providers:provider_delete", args=[provider.pk])

    refused = admin_client.post(url)
    assert refused.status_code == 400
    assert "is in the provider group(s) Main" in _html(refused)
    assert Provider.objects.filter(pk=provider.pk).exists()

    group.delete()
    admin_client.post(url)
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_a_provider_with_an_open_circuit_is_shown_degraded(admin_client, settings):
    settings.HERALD_CIRCUIT_FAILURE_THRESHOLD = 2
    healthy, failing = _twilio(nickname="Healthy"), _twilio(nickname="Failing")
    failures = [SendResult("+1", SendStatus.RETRYABLE, http_status=500)] * 2
    circuit_record(provider_id=failing.pk, results=failures)
    provider_group_save(name="G", providers=[healthy, failing])

    html = _html(admin_client.get(LIST_URL))
    assert re.search(r"Failing</a>.*?degraded</span>", html, re.S)
    assert not re.search(r"Healthy</a>[^#]*?degraded</span>.*Failing", html, re.S)
    assert html.count(">degraded</span>") == 1
    assert "degraded" in _html(
        admin_client.get(reverse("providers:provider_detail", args=[failing.pk]))
    )
    assert _html(admin_client.get(GROUPS_URL)).count(">degraded</span>") == 1


@pytest.mark.django_db
def test_a_marketer_cannot_open_the_provider_pages(marketer_client):
    _twilio()
    assert marketer_client.get(LIST_URL).status_code == 403
    assert marketer_client.get(GROUPS_URL).status_code == 403


# --- Provider groups -----------------------------------------------------------------------------


def _group_post(name, rows, **extra):
    data = {"name": name, **extra}
    for index, (provider, priority) in enumerate(rows):
        data[f"provider_{index}"] = str(provider.pk) if provider else ""
        data[f"priority_{index}"] = str(priority) if priority else ""
    return data


@pytest.mark.django_db
def test_an_admin_creates_a_group_and_its_priorities_follow_the_numbers(admin_client):
    assert "Add at least one SMS provider first" in _html(admin_client.get(GROUPS_URL))
    a, b, c = (_twilio(nickname=n) for n in ("A", "B", "C"))

    admin_client.post(
        reverse("providers:group_create"),
        _group_post("India", [(a, 2), (b, 1), (None, None)], is_default="on"),
    )

    group = ProviderGroup.objects.get()
    assert group.is_default
    assert [(m.priority, m.provider.nickname) for m in group.members.order_by("priority")] == [
        (1, "B"),
        (2, "A"),
    ]
    html = _html(admin_client.get(GROUPS_URL))
    assert re.search(r"India</a> <span class=\"badge good\">default", html)

    edit = reverse("providers:group_edit", args=[group.pk])
    admin_client.post(edit, _group_post("India", [(b, 2), (None, 1), (c, 1)]))
    assert [m.provider.nickname for m in group.members.order_by("priority")] == ["C", "B"]


@pytest.mark.django_db
def test_the_eleventh_provider_is_refused_beside_its_field(admin_client):
    providers = [_twilio(nickname=f"P{i:02d}") for i in range(11)]
    group = provider_group_save(name="Big", providers=providers[:10])
    edit = reverse("providers:group_edit", args=[group.pk])
    page = _html(admin_client.get(edit))
    assert 'name="provider_10"' in page  # an empty row for an 11th

    response = admin_client.post(
        edit, _group_post("Big", [(p, i + 1 if i < 10 else 10) for i, p in enumerate(providers)])
    )

    assert response.status_code == 400
    assert re.search(
        r'id="id_provider_10_errors"><li>A provider group can have at most 10 providers',
        _html(response),
    )
    assert group.members.count() == 10
    assert providers[10] not in [m.provider for m in group.members.all()]


def _errors_of(html: str, field: str) -> str:
    match = re.search(rf'<ul class="errorlist" id="id_{field}_errors">(.*?)</ul>', html)
    return match.group(1) if match else ""


@pytest.mark.django_db
def test_two_providers_with_one_priority_are_refused_beside_both_priorities(admin_client):
    a, b, c = (_twilio(nickname=n) for n in ("A", "B", "C"))

    response = admin_client.post(
        reverse("providers:group_create"), _group_post("India", [(a, 1), (b, 2), (c, 1)])
    )

    html = _html(response)
    assert response.status_code == 400
    assert "Provider 3 has priority 1 too: give each provider its own priority." in _errors_of(
        html, "priority_0"
    )
    assert "Provider 1 has priority 1 too" in _errors_of(html, "priority_2")
    assert _errors_of(html, "priority_1") == ""
    assert 'aria-describedby="id_priority_0_errors"' in html  # a screen reader reads them
    assert not ProviderGroup.objects.exists()


@pytest.mark.django_db
def test_a_blank_priority_that_meets_a_typed_one_is_refused_and_the_group_is_unchanged(
    admin_client,
):
    a, b = _twilio(nickname="A"), _twilio(nickname="B")
    group = provider_group_save(name="India", providers=[a, b])
    edit = reverse("providers:group_edit", args=[group.pk])

    response = admin_client.post(edit, _group_post("India", [(a, None), (b, 1)]))

    html = _html(response)
    assert response.status_code == 400
    assert (
        "Left blank, this is priority 1 (the row&#x27;s number), and provider 2 has it too"
        in _errors_of(html, "priority_0")
    )
    assert "Provider 1 has priority 1 too" in _errors_of(html, "priority_1")
    assert [(m.priority, m.provider.nickname) for m in group.members.order_by("priority")] == [
        (1, "A"),
        (2, "B"),
    ]


@pytest.mark.django_db
def test_a_group_needs_a_provider_and_a_unique_name(admin_client):
    a = _twilio(nickname="A")
    provider_group_save(name="Taken", providers=[a])
    empty = admin_client.post(reverse("providers:group_create"), _group_post("New", []))
    assert "Choose at least one SMS provider." in _html(empty)
    taken = admin_client.post(reverse("providers:group_create"), _group_post("Taken", [(a, 1)]))
    assert "A provider group named “Taken” already exists." in _html(taken)
    assert ProviderGroup.objects.count() == 1


@pytest.mark.django_db
def test_marking_a_group_default_moves_the_flag_and_deleting_a_group_keeps_its_providers(
    admin_client,
):
    a = _twilio(nickname="A")
    first = provider_group_save(name="First", providers=[a], is_default=True)
    second = provider_group_save(name="Second", providers=[a])

    admin_client.post(reverse("providers:group_make_default", args=[second.pk]))
    assert list(ProviderGroup.objects.filter(is_default=True)) == [second]

    admin_client.post(reverse("providers:group_delete", args=[first.pk]))
    assert list(ProviderGroup.objects.all()) == [second]
    assert Provider.objects.filter(pk=a.pk).exists()


@pytest.mark.django_db
def test_a_group_a_campaign_uses_is_not_deleted_and_the_page_says_why(admin_client):
    from tests.campaigns.factories import CampaignFactory

    group = provider_group_save(name="Main", providers=[_twilio()])
    CampaignFactory(name="Weekly digest", channel="sms", provider_group=group, status="scheduled")

    refused = admin_client.post(reverse("providers:group_delete", args=[group.pk]))

    assert refused.status_code == 400
    assert "is used by the campaign(s) Weekly digest" in _html(refused)
    assert ProviderGroup.objects.filter(pk=group.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_create_form_asking_for_its_own_fields(admin_client, kind):
    html = _html(admin_client.get(reverse("providers:provider_create") + f"?kind={kind}"))
    assert f"Add a {KINDS[kind].label} provider" in html
    for spec in KINDS[kind].fields:
        assert spec.label in html


@pytest.mark.django_db
def test_a_generic_sms_provider_keeps_its_request_template_and_hides_its_secret_values(
    admin_client,
):
    template = {
        "method": "POST",
        "url": "https://sms.example.com/send",
        "headers": {"X-Api-Key": "$$api_key"},
        "body_format": "json",
        "body_template": {"to": "$$To", "text": "$$Message"},
    }
    admin_client.post(
        reverse("providers:provider_create") + "?kind=generic_sms",
        {
            "nickname": "Local gateway",
            "base_url": "",
            "cred_values": '{"api_key": "' + SECRET + '"}',
            "extra_settings": json.dumps(template),
        },
    )
    provider = Provider.objects.get()
    assert provider.settings == template
    assert provider.credentials == {"api_key": SECRET}
    html = _html(admin_client.get(reverse("providers:provider_detail", args=[provider.pk])))
    assert SECRET not in html
    assert 'badge good">set</span>' in html
    assert "$$api_key" in html  # the template itself is not secret
