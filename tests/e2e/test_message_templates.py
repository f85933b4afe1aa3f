"""A marketer writes an SMS template in a real browser: the counter follows the text through
htmx, a personalization tag goes in at the cursor, and the preview shows a profile's name."""

import pytest
from django.core.cache import cache

from apps.core.roles import Role
from apps.message_templates.models import MessageTemplate
from tests.accounts.factories import UserFactory
from tests.audience.factories import ProfileFactory
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = 'Hi {{Profile.Name | default: "Shopper"}}, your cart is waiting'


def _counter(page) -> str:
    return page.locator("#sms-counter").inner_text()


def test_a_marketer_writes_an_sms_template_and_previews_it_for_a_profile(page, screenshot):
    cache.clear()  # the personalization menu's field list is cached in Redis
    UserFactory(username="mia", role=Role.MARKETER)
    ProfileFactory(identity="tess-1", name="Tess", is_test=True, properties={"tier": "gold"})
    ProfileFactory(identity="zoe-42", name="Zoe", email="zoe@example.com")
    log_in(page, "mia")

    page.goto("/templates/")
    page.wait_for_selector("text=No templates yet")
    page.click("text=New template")
    page.click("h3 >> text=SMS")
    page.wait_for_selector("h1:has-text('New SMS template')")
    assert "0 characters · 0 parts" in _counter(page)

    page.fill("#id_name", "Cart reminder")
    page.fill("#id_body", "x" * 161)
    page.wait_for_function(
        "document.querySelector('#sms-counter').innerText.includes('161 characters · 2 parts')"
    )

    # Rendered for the test profile: "Hi Tess, your cart is waiting" is 29 characters.
    page.fill("#id_body", BODY)
    page.wait_for_function(
        "document.querySelector('#sms-counter').innerText.includes('29 characters · 1 part')"
    )
    assert "GSM-7" in _counter(page)
    assert "as sent to Tess" in _counter(page)

    # The personalization menu puts a tag where the cursor is.
    page.click("summary:has-text('Insert personalization')")
    page.focus("#id_body")
    page.evaluate(
        "() => { const b = document.querySelector('#id_body'); b.setSelectionRange(3, 3); }"
    )
    page.click(".personalize-fields button:has-text('tier')")
    inserted = page.input_value("#id_body")
    assert inserted.startswith('Hi {{Profile.tier | default: ""}}{{Profile.Name')
    # "Hi goldTess, …" is four characters longer.
    page.wait_for_function(
        "document.querySelector('#sms-counter').innerText.includes('33 characters')"
    )
    page.fill("#id_body", BODY)
    page.wait_for_function(
        "document.querySelector('#sms-counter').innerText.includes('29 characters · 1 part')"
    )
    screenshot(page, "message-templates-sms-form")

    page.click("button:has-text('Save template')")
    page.wait_for_selector("h1:has-text('Cart reminder')")
    template = MessageTemplate.objects.get()
    assert template.content["body"] == BODY
    bubble = page.locator(".preview-sms-bubble")
    assert bubble.inner_text() == "Hi Tess, your cart is waiting"
    assert "29 characters · 1 part · GSM-7" in page.locator(".preview-sms-count").inner_text()

    page.fill("input[name=profile_q]", "zoe")
    page.click("form[role=search] button:has-text('Find')")
    page.click(".profile-matches >> text=Zoe")
    page.wait_for_selector(".preview-sms-bubble:has-text('Hi Zoe')")
    assert bubble.inner_text() == "Hi Zoe, your cart is waiting"
    screenshot(page, "message-templates-sms-preview")

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "message-templates-sms-preview-phone")
    assert page.locator(".preview-sms-bubble").is_visible()
