import pytest
from django.db import IntegrityError, transaction

from apps.message_templates import selectors, services
from apps.message_templates.models import CONTENT_KEYS, Channel, MessageTemplate
from tests.message_templates.factories import (
    MessageTemplateFactory,
    ProfileFactory,
    email_content,
    push_content,
    sms_content,
)

pytestmark = pytest.mark.django_db


def test_create_stores_every_content_key_of_the_channel(marketer_user):
    template = services.template_create(
        name="  Welcome  ",
        channel="push",
        content={"title": "Hi", "body": "Welcome {{Profile.Name}}", "badge": "3"},
        created_by=marketer_user,
    )
    template.refresh_from_db()
    assert template.name == "Welcome"
    assert template.created_by == marketer_user
    assert sorted(template.content) == sorted(CONTENT_KEYS[Channel.PUSH])  # jsonb sorts keys
    assert template.content["badge"] == 3
    assert template.content["custom_kv"] == {}
    assert template.content["subtitle"] == ""


def test_textarea_line_endings_are_stored_as_newlines():
    template = services.template_create(
        name="Lines", channel="sms", content=sms_content(body="one\r\ntwo")
    )
    assert template.content["body"] == "one\ntwo"


def test_names_are_unique_case_insensitively_within_a_channel():
    services.template_create(name="Welcome", channel="sms", content=sms_content())
    with pytest.raises(services.TemplateInvalid) as error:
        services.template_create(name="WELCOME", channel="sms", content=sms_content())
    assert error.value.errors == {"name": "A SMS template called “WELCOME” already exists."}
    # Another channel may use the same name.
    services.template_create(name="welcome", channel="email", content=email_content())
    assert MessageTemplate.objects.filter(name__iexact="welcome").count() == 2


def test_the_database_refuses_a_case_insensitive_duplicate_even_past_the_check():
    MessageTemplateFactory(name="Promo", channel=Channel.SMS)
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageTemplate.objects.create(name="PROMO", channel=Channel.SMS, content=sms_content())


def test_the_database_refuses_an_unknown_channel():
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageTemplate.objects.create(name="x", channel="fax", content={})


def test_liquid_errors_name_the_field_and_the_line():
    with pytest.raises(services.TemplateInvalid) as error:
        services.template_create(
            name="Broken",
            channel="email",
            content=email_content(
                subject="Fine", html="<p>one</p>\n<p>two</p>\n{{ Profile.Name | nope }}"
            ),
        )
    assert error.value.errors == {"html": "Line 3: unknown filter 'nope'"}
    assert not MessageTemplate.objects.exists()


def test_an_unclosed_block_is_reported_at_its_line():
    with pytest.raises(services.TemplateInvalid) as error:
        services.template_create(
            name="Unclosed", channel="sms", content=sms_content(body="Hi\n{% if x %}\nthere")
        )
    assert error.value.errors["body"].startswith("Line 2: 'if' is never closed")


@pytest.mark.parametrize(
    ("channel", "content", "field", "message"),
    [
        ("sms", {"body": "  "}, "body", "This field is required."),
        ("email", email_content(subject=""), "subject", "This field is required."),
        ("push", push_content(badge="many"), "badge", "Badge count must be a whole number."),
        ("push", push_content(badge=-1), "badge", "Badge count must be between 0 and 1,000,000."),
        ("push", push_content(custom_kv=["a"]), "custom_kv", "must be an object"),
        ("sms", sms_content(body=123), "body", "Must be text."),
        ("sms", sms_content(body="x" * 2001), "body", "At most 2,000 characters."),
        ("sms", {"body": "x", "colour": "red"}, "content", "Unknown fields for SMS: colour."),
        ("fax", {}, "channel", "Choose push, SMS or email."),
        ("sms", ["not", "an", "object"], "content", "Content must be an object."),
    ],
)
def test_bad_content_is_refused_naming_the_field(channel, content, field, message):
    with pytest.raises(services.TemplateInvalid) as error:
        services.template_create(name="Bad", channel=channel, content=content)
    assert message in error.value.errors[field]
    assert not MessageTemplate.objects.exists()


def test_update_changes_name_and_content_but_never_the_channel():
    template = MessageTemplateFactory(name="Old", channel=Channel.SMS)
    services.template_update(template=template, name="New", content=sms_content(body="Bye"))
    template.refresh_from_db()
    assert (template.name, template.channel, template.content["body"]) == ("New", "sms", "Bye")


def test_update_may_keep_its_own_name_but_not_take_another():
    MessageTemplateFactory(name="Taken", channel=Channel.SMS)
    template = MessageTemplateFactory(name="Mine", channel=Channel.SMS)
    services.template_update(template=template, name="MINE", content=sms_content())
    with pytest.raises(services.TemplateInvalid) as error:
        services.template_update(template=template, name="taken", content=sms_content())
    assert "already exists" in error.value.errors["name"]
    template.refresh_from_db()
    assert template.name == "MINE"


def test_duplicate_names_copies_copy_of_then_numbers_them(marketer_user):
    original = MessageTemplateFactory(name="Promo", channel=Channel.PUSH, content=push_content())
    first = services.template_duplicate(template=original, created_by=marketer_user)
    second = services.template_duplicate(template=original)
    assert first.name == "Copy of Promo"
    assert second.name == "Copy of Promo (2)"
    assert first.channel == Channel.PUSH
    assert first.content == original.content
    assert first.created_by == marketer_user
    # The copy is its own row: editing it leaves the original alone.
    services.template_update(template=first, name=first.name, content=push_content(body="new"))
    original.refresh_from_db()
    assert original.content["body"] == "Your cart misses you"


def test_duplicate_of_a_long_name_stays_within_the_column():
    original = MessageTemplateFactory(name="x" * 120)
    copy = services.template_duplicate(template=original)
    assert len(copy.name) == 120
    assert copy.name.startswith("Copy of x")


def test_delete_removes_the_template():
    template = MessageTemplateFactory()
    services.template_delete(template=template)
    assert not MessageTemplate.objects.exists()


def test_list_filters_by_channel_and_name_newest_first():
    old = MessageTemplateFactory(name="Spring sale", channel=Channel.SMS)
    new = MessageTemplateFactory(name="Summer sale", channel=Channel.SMS)
    MessageTemplateFactory(name="Summer news", channel=Channel.EMAIL, content=email_content())
    assert list(selectors.template_list(q="sale")) == [new, old]
    assert [t.name for t in selectors.template_list(channel="email")] == ["Summer news"]
    assert [t.name for t in selectors.template_list(q="SUMMER", channel="sms")] == ["Summer sale"]


def test_preview_profile_default_is_the_first_test_profile():
    ProfileFactory(is_test=False)
    first = ProfileFactory(is_test=True)
    ProfileFactory(is_test=True)
    assert selectors.preview_profile_default() == first


def test_profile_search_matches_identity_or_email_prefixes_test_profiles_first():
    plain = ProfileFactory(identity="cust-1", email="zoe@example.com")
    tester = ProfileFactory(identity="cust-2", email="tom@example.com", is_test=True)
    ProfileFactory(identity="other", email="x-cust@example.com")
    assert selectors.preview_profile_search(q="cust") == [tester, plain]
    assert selectors.preview_profile_search(q="zoe@") == [plain]
    assert selectors.preview_profile_search(q="  ") == []
