"""One form per channel. Fields are the content keys; validation is the services' (Liquid
compiled with P1's template_errors), with each message put beside its own field."""

from django import forms

from . import services
from .models import Channel, MessageTemplate

LIQUID_HELP = 'Liquid: {{Profile.Name | default: "there"}}'


def _textarea(rows: int, **attrs) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "data-liquid": "true", **attrs})


class TemplateForm(forms.Form):
    channel: str = ""
    name = forms.CharField(max_length=services.NAME_MAX_LENGTH, label="Template name")

    def __init__(self, *args, template: MessageTemplate | None = None, **kwargs):
        if template is not None and "initial" not in kwargs and not args:
            kwargs["initial"] = self.initial_from(template)
        super().__init__(*args, **kwargs)
        self.template = template

    @classmethod
    def initial_from(cls, template: MessageTemplate) -> dict:
        initial = {"name": template.name, **template.content}
        return initial

    def content(self) -> dict:
        return {key: self.cleaned_data.get(key) for key in self.content_keys()}

    def content_keys(self) -> list[str]:
        return [name for name in self.fields if name != "name"]

    def clean(self) -> dict:
        cleaned = super().clean()
        exclude_pk = self.template.pk if self.template else None
        name_error = services.template_name_error(
            name=cleaned.get("name", ""), channel=self.channel, exclude_pk=exclude_pk
        )
        if name_error and "name" not in self.errors:
            self.add_error("name", name_error)
        if any(key in self.errors for key in self.content_keys()):
            return cleaned  # a field that did not even parse: nothing more to say about it
        try:
            cleaned.update(
                services.template_content_clean(channel=self.channel, content=self.content())
            )
        except services.TemplateInvalid as error:
            for key, message in error.errors.items():
                self.add_error(key if key in self.fields else None, message)
        return cleaned


class PushTemplateForm(TemplateForm):
    channel = Channel.PUSH
    title = forms.CharField(required=False, help_text=LIQUID_HELP, widget=_textarea(1))
    subtitle = forms.CharField(
        required=False, help_text="iOS shows it under the title.", widget=_textarea(1)
    )
    body = forms.CharField(label="Message", widget=_textarea(4))
    image_url = forms.CharField(required=False, label="Image URL", max_length=2_000)
    deep_link = forms.CharField(required=False, label="Deep link or URL", max_length=2_000)
    sound = forms.CharField(
        required=False, max_length=200, help_text="A sound file in the app bundle."
    )
    badge = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=services.BADGE_MAX,
        label="Badge count",
        help_text="Sets the badge to this number (it does not add to it).",
    )
    category = forms.CharField(
        required=False, max_length=200, help_text="A category registered in the app."
    )
    custom_kv = forms.CharField(
        required=False,
        label="Custom key-value pairs",
        help_text="One per line: key=value. Sent to the app with the notification.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    @classmethod
    def initial_from(cls, template: MessageTemplate) -> dict:
        initial = super().initial_from(template)
        pairs = template.content.get("custom_kv") or {}
        initial["custom_kv"] = "\n".join(f"{key}={value}" for key, value in pairs.items())
        return initial

    def clean_custom_kv(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        lines = (self.cleaned_data.get("custom_kv") or "").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise forms.ValidationError(f"Line {number}: write key=value.")
            if key.strip() in pairs:
                raise forms.ValidationError(f"Line {number}: “{key.strip()}” is already set.")
            pairs[key.strip()] = value.strip()
        return pairs


class SmsTemplateForm(TemplateForm):
    channel = Channel.SMS
    body = forms.CharField(label="Message", widget=_textarea(5))
    template_id = forms.CharField(
        required=False,
        max_length=64,
        label="Template ID",
        help_text="The registered template ID some SMS routes require (e.g. DLT in India).",
    )


class EmailTemplateForm(TemplateForm):
    channel = Channel.EMAIL
    subject = forms.CharField(help_text=LIQUID_HELP, widget=_textarea(1))
    preheader = forms.CharField(
        required=False, help_text="The line inboxes show after the subject.", widget=_textarea(1)
    )
    from_name = forms.CharField(required=False, max_length=200, label="From name")
    html = forms.CharField(
        label="HTML body",
        help_text="Profile values are HTML-escaped when they are put in.",
        widget=_textarea(12, spellcheck="false"),
    )
    text = forms.CharField(
        required=False,
        label="Plain-text body",
        help_text="For mail clients that do not show HTML.",
        widget=_textarea(6),
    )


FORMS: dict[str, type[TemplateForm]] = {
    Channel.PUSH: PushTemplateForm,
    Channel.SMS: SmsTemplateForm,
    Channel.EMAIL: EmailTemplateForm,
}
