"""campaigns.messages.push_message: every option the What step stores reaches the
provider-neutral PushMessage, with the value for the device's platform (no option is
silently dropped; each adapter's tests show it on the wire)."""

import pytest

from apps.campaigns.content import blank_message, message_clean
from apps.campaigns.messages import push_message
from apps.providers.models import Channel

LOADED = {
    **blank_message(Channel.PUSH),
    "title": "Sale",
    "subtitle": "Today only",
    "body": "50% off",
    "image_url": "https://cdn.example/big.jpg",
    "ios_media_url": "https://cdn.example/ios.mp4",
    "large_icon": "https://cdn.example/icon.png",
    "sound": "chime.caf",
    "badge": 3,
    "badge_icon": "app icon",
    "category": "SALE",
    "deep_link": "shop://sale",
    "external_url": "https://shop.example/sale",
    "collapse_key": "sale-2026",
    "android_priority": "max",
    "delivery_priority": "normal",
    "android_channel_id": "promos",
    "mutable_content": False,
    "carousel": [{"image_url": "https://cdn.example/1.jpg", "caption": "One", "link": "shop://1"}],
    "buttons": [{"label": "Buy", "link": "shop://buy"}, {"label": "Later", "link": ""}],
    "custom_kv": {"android": {"k": "a"}, "ios": {"k": "i"}, "web": {"k": "w"}},
}
BUTTONS = [
    {"id": "action_1", "label": "Buy", "link": "shop://buy"},
    {"id": "action_2", "label": "Later", "link": ""},
]
CAROUSEL = [{"image_url": "https://cdn.example/1.jpg", "caption": "One", "link": "shop://1"}]
COMMON = {
    "subtitle": "Today only",
    "sound": "chime.caf",
    "badge": 3,
    "category": "SALE",
    "collapse_id": "sale-2026",
    "delivery_priority": "normal",
    "buttons": BUTTONS,
}


def test_an_android_push_carries_every_android_option():
    message = push_message("tok", "android", LOADED)

    assert (message.title, message.body, message.data) == ("Sale", "50% off", {"k": "a"})
    assert message.options == {
        **COMMON,
        "link": "shop://sale",
        "image": "https://cdn.example/big.jpg",
        "large_icon": "https://cdn.example/icon.png",
        "badge_icon": "app icon",
        "channel_id": "promos",
        "tray_priority": "max",
        "carousel": CAROUSEL,
    }


def test_an_ios_push_shows_its_own_media_and_turns_on_mutable_content_for_it():
    message = push_message("tok", "ios", LOADED)

    assert message.data == {"k": "i"}
    assert message.options == {
        **COMMON,
        "link": "shop://sale",
        "image": "https://cdn.example/ios.mp4",
        "carousel": CAROUSEL,
        "mutable_content": True,
    }


def test_a_web_push_opens_the_external_url_and_uses_the_large_icon():
    message = push_message("https://push.example/e/1", "web", LOADED)

    assert message.data == {"k": "w"}
    assert message.options == {
        **COMMON,
        "link": "https://shop.example/sale",
        "image": "https://cdn.example/big.jpg",
        "icon": "https://cdn.example/icon.png",
    }


def test_a_silent_ios_push_is_a_background_push():
    silent = {**blank_message(Channel.PUSH), "content_available": True}

    message = push_message("tok", "ios", silent)

    assert message.options == {
        "content_available": True,
        "push_type": "background",
        "delivery_priority": "high",  # the adapters send background pushes at APNs' 5 anyway
    }


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("delivery_priority", "urgent", "Choose high or normal."),
        ("badge_icon", "big", "Choose the app icon or the notification icon."),
        ("large_icon", "javascript:alert(1)", None),
    ],
)
def test_the_new_push_fields_are_validated_by_name(field, value, error):
    from apps.campaigns.content import ContentInvalid

    with pytest.raises(ContentInvalid) as invalid:
        message_clean(Channel.PUSH, {"body": "x", field: value})

    assert field in invalid.value.errors
    if error:
        assert invalid.value.errors[field] == error


def test_the_new_push_fields_are_stored_with_their_defaults():
    stored = message_clean(Channel.PUSH, {"body": "x"})
    assert (stored["delivery_priority"], stored["large_icon"], stored["badge_icon"]) == (
        "high",
        "",
        "",
    )
    loaded = message_clean(
        Channel.PUSH,
        {
            "body": "x",
            "delivery_priority": "normal",
            "large_icon": "https://cdn.example/i.png",
            "badge_icon": "notification icon",
        },
    )
    assert (loaded["delivery_priority"], loaded["large_icon"], loaded["badge_icon"]) == (
        "normal",
        "https://cdn.example/i.png",
        "notification icon",
    )
