import html
import re

from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from apps.message_templates.personalization import message_render
from apps.message_templates.sms_parts import sms_parts, sms_preview_context

PUSH = "message_templates/previews/_push_preview.html"
SMS = "message_templates/previews/_sms_preview.html"
EMAIL = "message_templates/previews/_email_preview.html"


def _iframe(page: str) -> str:
    match = re.search(r"<iframe\b[^>]*>", page)
    assert match, page
    return match.group(0)


def _srcdoc(iframe: str) -> str:
    match = re.search(r'srcdoc="([^"]*)"', iframe)
    assert match, iframe
    return match.group(1)


# --- push -----------------------------------------------------------------------------------


def test_push_card_shows_title_subtitle_body_and_image():
    page = render_to_string(
        PUSH,
        {
            "title": "Flash sale",
            "subtitle": "Today only",
            "body": "50% off\nshoes",
            "image_url": "https://cdn.example.com/sale.png",
            "app_name": "Shoply",
        },
    )
    assert "preview-push" in page
    assert "<strong>Flash sale</strong>" in page
    assert "Today only" in page
    assert "50% off<br>shoes" in page
    assert 'src="https://cdn.example.com/sale.png"' in page
    assert "Shoply" in page


def test_push_card_without_image_or_subtitle_leaves_them_out():
    page = render_to_string(PUSH, {"title": "Hi", "body": "There"})
    assert "<img" not in page
    assert "preview-push-subtitle" not in page
    assert "Your app" in page


def test_push_card_with_no_body_says_so():
    assert "No message text yet" in render_to_string(PUSH, {"title": "Hi"})


def test_push_card_escapes_personalized_values():
    body = message_render("Hi {{ Profile.Name }}", profile={"Name": "<b>Eve</b>"})
    page = render_to_string(PUSH, {"title": "T", "body": body})
    assert "Hi &lt;b&gt;Eve&lt;/b&gt;" in page
    assert "<b>Eve</b>" not in page


def test_push_card_works_through_include_with_a_small_context():
    page = Template(
        '{% include "message_templates/previews/_push_preview.html" with title=t body=b %}'
    ).render(Context({"t": "Included title", "b": "Included body"}))
    assert "<strong>Included title</strong>" in page
    assert "Included body" in page


# --- sms ------------------------------------------------------------------------------------


def test_sms_bubble_shows_text_and_part_count():
    page = render_to_string(SMS, sms_preview_context("a" * 161))
    assert "preview-sms-bubble" in page
    assert "a" * 161 in page
    assert "161 characters · 2 parts · GSM-7" in page


def test_sms_bubble_shows_ucs2_for_emoji_and_singular_part():
    page = render_to_string(SMS, sms_preview_context("Hi 😀"))
    assert "5 characters · 1 part · UCS-2" in page
    assert "65 left in this part" in page


def test_sms_bubble_via_include_with_text_and_parts():
    page = Template(
        '{% include "message_templates/previews/_sms_preview.html" with text=t sms=p %}'
    ).render(Context({"t": "Price: 5€", "p": sms_parts("Price: 5€")}))
    assert "10 characters · 1 part · GSM-7" in page


def test_sms_bubble_escapes_the_text():
    page = render_to_string(SMS, sms_preview_context("<script>x</script>"))
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


# --- email ----------------------------------------------------------------------------------


def test_email_preview_shows_subject_and_preheader():
    page = render_to_string(
        EMAIL,
        {"subject": "Your receipt", "preheader": "Thanks for shopping", "html": "<p>Hi</p>"},
    )
    assert "Your receipt" in page
    assert "Thanks for shopping" in page


def test_email_iframe_is_sandboxed_without_scripts_or_same_origin():
    page = render_to_string(EMAIL, {"subject": "S", "html": "<p>Hi</p>"})
    iframe = _iframe(page)
    assert 'sandbox=""' in iframe
    assert "allow-scripts" not in page
    assert "allow-same-origin" not in page


def test_email_html_appears_only_inside_srcdoc_escaped():
    body = '<p class="from-the-email">Hello</p><script>alert("owned")</script>'
    page = render_to_string(EMAIL, {"subject": "S", "html": body})
    iframe = _iframe(page)
    srcdoc = _srcdoc(iframe)
    # The attribute holds the escaped document and nothing of it leaks out raw.
    assert html.unescape(srcdoc) == body
    assert "<script>" not in page
    assert '<p class="from-the-email' not in page
    assert "&lt;script&gt;" in srcdoc


def test_email_html_marked_safe_is_still_escaped_into_srcdoc():
    body = mark_safe('<img src=x onerror="alert(1)">')
    page = render_to_string(EMAIL, {"subject": "S", "html": body})
    assert "<img" not in page
    assert html.unescape(_srcdoc(_iframe(page))) == str(body)


def test_email_preview_of_a_personalized_body_escapes_twice_as_it_should():
    body = message_render(
        "<p>Hi {{ Profile.Name }}</p>", profile={"Name": "<script>bad()</script>"}, html=True
    )
    page = render_to_string(EMAIL, {"subject": "S", "html": body})
    srcdoc_document = html.unescape(_srcdoc(_iframe(page)))
    # Inside the iframe's document the profile value is text, not a tag.
    assert srcdoc_document == "<p>Hi &lt;script&gt;bad()&lt;/script&gt;</p>"


def test_email_subject_is_escaped():
    page = render_to_string(EMAIL, {"subject": "<i>Sale</i>", "html": ""})
    assert "&lt;i&gt;Sale&lt;/i&gt;" in page
    assert "<i>Sale</i>" not in page
