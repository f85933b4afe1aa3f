import zoneinfo
from functools import cache

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from apps.core.roles import Role

from .models import ApiPasscode, User


@cache
def timezone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """IANA zones grouped by region ("Europe", "America", …) for an <optgroup> select."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in sorted(zoneinfo.available_timezones()):
        region, _, place = zone.partition("/")
        group = region if place else "Other"
        groups.setdefault(group, []).append((zone, zone))
    return sorted(groups.items())


class AccountSettingsForm(forms.Form):
    name = forms.CharField(max_length=120, label="Account name")
    timezone = forms.ChoiceField(
        label="Account time zone",
        help_text="Used by schedules, DND windows and daily limits unless a user's own applies.",
        error_messages={
            "invalid_choice": "“%(value)s” is not an IANA time zone such as Europe/Paris."
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Assigned here so the ~600 zones are computed once per process, not at import.
        self.fields["timezone"].choices = timezone_choices()


class ApiPasscodeForm(forms.Form):
    name = forms.CharField(
        max_length=ApiPasscode._meta.get_field("name").max_length,
        label="Passcode name",
        help_text="Say where it will be used, e.g. “Backend server” or “Data import job”.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Give the passcode a name.")
        return name


class UserCreateForm(forms.ModelForm):
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields["role"].initial = Role.VIEWER

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        # The database's unique index is case-sensitive; "Ada" and "ada" would be two
        # accounts that people cannot tell apart at the login form.
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError("A user with that username already exists.")
        return username

    def clean(self) -> dict:
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        if password1:
            # The similarity validator compares the password with these attributes.
            candidate = User(
                username=cleaned.get("username", ""),
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, user=candidate)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class UserActiveForm(forms.Form):
    is_active = forms.TypedChoiceField(
        choices=[("1", "Active"), ("0", "Inactive")], coerce=lambda v: v == "1"
    )
