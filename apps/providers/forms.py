"""Provider and provider-group forms. Secret credential fields are write-only: they are never
given an initial value, so a stored secret can never be rendered back into a page."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from apps.providers.kinds import KINDS
from apps.providers.kinds.base import FieldSpec
from apps.providers.models import MAX_GROUP_PROVIDERS, Channel, Provider


def _field_name(spec: FieldSpec) -> str:
    return f"{'cred' if spec.secret else 'setting'}_{spec.key}"


class ProviderForm(forms.Form):
    nickname = forms.CharField(
        max_length=100,
        help_text="Campaigns and the API pick this provider by its nickname.",
    )
    base_url = forms.URLField(
        label="Base URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="The provider's API address; point it at the sandbox to test locally.",
    )
    extra_settings = forms.CharField(
        label="More settings (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text='Other non-secret settings as a JSON object, e.g. {"timeout_s": 5}.',
    )

    def __init__(self, *args: Any, kind: str, provider: Provider | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.provider = provider
        kind_spec = KINDS[kind]
        self.specs = kind_spec.fields
        stored_credentials = provider.credentials if provider else {}
        stored_settings = dict(provider.settings) if provider else {}
        self.secret_fields = []
        self.setting_fields = []
        for spec in self.specs:
            name = _field_name(spec)
            if spec.secret:
                # Generic SMS keeps its secret values as top-level credential keys.
                is_set = (
                    bool(stored_credentials)
                    if spec.key == "values"
                    else spec.key in stored_credentials
                )
                widget: forms.Widget = (
                    forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"})
                    if spec.json or spec.key == "private_key"
                    else forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
                )
                help_text = spec.help
                if is_set:
                    help_text = (
                        "Set. Leave blank to keep it, or type a replacement. " + help_text
                    ).strip()
                self.fields[name] = forms.CharField(
                    label=spec.label,
                    required=spec.required and not is_set,
                    strip=True,
                    widget=widget,
                    help_text=help_text,
                )
                self.fields[name].is_set = is_set
                self.secret_fields.append(name)
            else:
                self.fields[name] = forms.CharField(
                    label=spec.label,
                    required=spec.required,
                    help_text=spec.help,
                    initial=stored_settings.pop(spec.key, ""),
                )
                self.setting_fields.append(name)
        if kind_spec.request_template_help:
            self.fields["extra_settings"].label = "Request template (JSON)"
            self.fields["extra_settings"].required = True
            self.fields["extra_settings"].widget.attrs["rows"] = 14
            self.fields["extra_settings"].help_text = kind_spec.request_template_help
        if not kind_spec.uses_base_url:
            del self.fields["base_url"]
        if provider is None and "base_url" in self.fields:
            self.fields["base_url"].initial = kind_spec.default_base_url
        if provider is not None:
            self.fields["nickname"].initial = provider.nickname
            if "base_url" in self.fields:
                self.fields["base_url"].initial = provider.base_url
            if stored_settings:
                self.fields["extra_settings"].initial = json.dumps(stored_settings, indent=2)

    def clean_extra_settings(self) -> dict[str, Any]:
        raw = self.cleaned_data["extra_settings"].strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError('Write a JSON object: {"key": "value", …}.')
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for spec in self.specs:
            name = _field_name(spec)
            if spec.json and cleaned.get(name):
                try:
                    value = json.loads(cleaned[name])
                except ValueError:
                    self.add_error(name, "Not valid JSON.")
                    continue
                if not isinstance(value, dict):
                    self.add_error(name, "Write a JSON object.")
                    continue
                cleaned[name] = value
        return cleaned

    def provider_settings(self) -> dict[str, Any]:
        settings = dict(self.cleaned_data.get("extra_settings") or {})
        for spec in self.specs:
            value = self.cleaned_data.get(_field_name(spec))
            if not spec.secret and value not in ("", None):
                settings[spec.key] = int(value) if spec.key == "port" and value.isdigit() else value
        return settings

    def credential_values(self) -> dict[str, Any]:
        """The secrets typed in this time (blank ones are left out: they keep their value)."""
        credentials = {}
        for spec in self.specs:
            value = self.cleaned_data.get(_field_name(spec))
            if spec.secret and value not in ("", None):
                if spec.key == "values":  # generic SMS: the JSON's keys are the credentials
                    credentials.update(value)
                else:
                    credentials[spec.key] = value
        return credentials


PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")


class TestSendForm(forms.Form):
    to = forms.CharField(max_length=4096)
    text = forms.CharField(
        label="Message", required=False, max_length=1000, initial="Test message from Herald."
    )

    def __init__(self, *args: Any, channel: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.fields["to"].label = {
            Channel.SMS: "Phone number (with country code)",
            Channel.EMAIL: "Email address",
            Channel.PUSH: "Device token",
        }[channel]
        if channel == Channel.SMS:
            self.fields["to"].widget.attrs["placeholder"] = "+14155550123"

    def clean_to(self) -> str:
        to = self.cleaned_data["to"].strip()
        if self.channel == Channel.SMS:
            to = re.sub(r"[\s().-]", "", to)
            if not PHONE_RE.match(to):
                raise forms.ValidationError(
                    "Enter the number with its country code, e.g. +14155550123."
                )
        elif self.channel == Channel.EMAIL:
            forms.EmailField().clean(to)
        return to


class ProviderGroupForm(forms.Form):
    """Rows of (provider, priority). A blank provider removes the row; rows are ordered by
    priority, a blank priority is the row's number, and two rows with one priority are an
    error beside each of them (ProviderGroupMember keeps (group, priority) unique too)."""

    name = forms.CharField(max_length=100, label="Group name")
    is_default = forms.BooleanField(
        required=False,
        label="Default group",
        help_text="Used by SMS campaigns that name no provider or group.",
    )

    def __init__(self, *args: Any, providers, rows: int, initial_members=(), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.row_count = rows
        choices = [("", "—")] + [
            (str(p.pk), f"{p.nickname} ({p.get_kind_display()})") for p in providers
        ]
        members = list(initial_members)
        self.providers_by_pk = {str(p.pk): p for p in providers}
        for index in range(rows):
            member = members[index] if index < len(members) else None
            self.fields[f"provider_{index}"] = forms.ChoiceField(
                label=f"Provider {index + 1}",
                choices=choices,
                required=False,
                initial=str(member.pk) if member else "",
            )
            self.fields[f"priority_{index}"] = forms.IntegerField(
                label=f"Priority of provider {index + 1}",
                min_value=1,
                max_value=MAX_GROUP_PROVIDERS,
                required=False,
                initial=index + 1 if member else None,
                widget=forms.NumberInput(attrs={"style": "width: 6rem"}),
            )

    def rows(self):
        return [
            (self[f"provider_{index}"], self[f"priority_{index}"])
            for index in range(self.row_count)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen = []
        for index in range(self.row_count):
            pk = cleaned.get(f"provider_{index}")
            if not pk:
                continue
            priority = cleaned.get(f"priority_{index}") or (index + 1)
            chosen.append((priority, index, self.providers_by_pk[pk]))
        chosen.sort(key=lambda item: (item[0], item[1]))
        providers = [provider for _, _, provider in chosen]
        tied = self._tied_priorities(chosen)
        if not providers:
            self.add_error(None, "Choose at least one SMS provider.")
        elif len(providers) > MAX_GROUP_PROVIDERS:
            index = chosen[-1][1]
            self.add_error(
                f"provider_{index}",
                f"A provider group can have at most {MAX_GROUP_PROVIDERS} providers: "
                "remove one before adding another.",
            )
        elif len({p.pk for p in providers}) != len(providers):
            seen: set[int] = set()
            for _, index, provider in chosen:
                if provider.pk in seen:
                    self.add_error(f"provider_{index}", "This provider is already in the group.")
                seen.add(provider.pk)
        elif tied:
            for index, error in tied.items():
                self.add_error(f"priority_{index}", error)
        cleaned["providers"] = providers
        return cleaned

    def _tied_priorities(self, chosen: list[tuple[int, int, Any]]) -> dict[int, str]:
        """An error for each row whose priority another row has too, by row index. Two
        providers with one number would leave the order to their places on the page: the
        admin says which comes first instead. A priority that is itself wrong (0, "abc")
        has its own error already."""
        rows_by_priority: dict[int, list[int]] = {}
        for priority, index, _ in chosen:
            if not self.has_error(f"priority_{index}"):
                rows_by_priority.setdefault(priority, []).append(index)
        errors: dict[int, str] = {}
        for priority, indexes in rows_by_priority.items():
            if len(indexes) < 2:
                continue
            for index in indexes:
                others = [f"provider {other + 1}" for other in indexes if other != index]
                named = " and ".join([", ".join(others[:-1]), others[-1]] if others[1:] else others)
                has = "have" if len(others) > 1 else "has"
                if self.cleaned_data.get(f"priority_{index}") is None:
                    errors[index] = (
                        f"Left blank, this is priority {priority} (the row's number), and "
                        f"{named} {has} it too: give each provider its own priority."
                    )
                else:
                    errors[index] = (
                        f"{named.capitalize()} {has} priority {priority} too: "
                        "give each provider its own priority."
                    )
        return errors
