import factory

from apps.message_templates.models import Channel, MessageTemplate
from tests.audience.factories import ProfileFactory

__all__ = [
    "MessageTemplateFactory",
    "ProfileFactory",
    "email_content",
    "push_content",
    "sms_content",
]


def sms_content(body: str = 'Hi {{Profile.Name | default: "Shopper"}}', **extra) -> dict:
    return {"body": body, "template_id": "", **extra}


def push_content(**extra) -> dict:
    return {
        "title": "Hello {{Profile.Name}}",
        "subtitle": "",
        "body": "Your cart misses you",
        "image_url": "",
        "deep_link": "",
        "sound": "",
        "badge": None,
        "category": "",
        "custom_kv": {},
        **extra,
    }


def email_content(**extra) -> dict:
    return {
        "subject": "News for {{Profile.Name}}",
        "preheader": "",
        "from_name": "Herald",
        "html": "<p>Dear {{Profile.Name}}</p>",
        "text": "",
        **extra,
    }


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    channel = Channel.SMS
    content = factory.LazyFunction(sms_content)
