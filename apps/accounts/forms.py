import zoneinfo
from functools import cache

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from apps.core.roles import Role

from .models import WEEKDAY_CHOICES, ApiPasscode, GlobalLimits, User


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


MAX_CAP = 10_000
MAX_THROTTLE_PER_MINUTE = 1_000_000  # the same bound as a campaign's own throttle


class _LimitField(forms.IntegerField):
    def to_python(self, value):
        # A box holding only spaces looks blank to the admin: treat it as "no limit".
        return super().to_python(value.strip() if isinstance(value, str) else value)


def _limit_field(label: str, high: int, help_text: str = "") -> forms.IntegerField:
    return _LimitField(
        label=label,
        required=False,
        min_value=1,
        max_value=high,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"placeholder": "No limit", "min": 1, "max": high}),
        error_messages={
            "invalid": "Enter a whole number, or leave it blank for no limit.",
            "min_value": "Enter at least 1, or leave it blank for no limit.",
            "max_value": f"Enter at most {high:,}, or leave it blank for no limit.",
        },
    )


class GlobalLimitsForm(forms.ModelForm):
    """Settings → Global limits. Blank numbers are "no limit"."""

    push_per_day = _limit_field("Per day", MAX_CAP)
    push_per_week = _limit_field("Per week", MAX_CAP)
    push_throttle_per_minute = _limit_field("Messages per minute", MAX_THROTTLE_PER_MINUTE)
    sms_per_day = _limit_field("Per day", MAX_CAP)
    sms_per_week = _limit_field("Per week", MAX_CAP)
    sms_throttle_per_minute = _limit_field("Messages per minute", MAX_THROTTLE_PER_MINUTE)
    email_per_day = _limit_field("Per day", MAX_CAP)
    email_per_week = _limit_field("Per week", MAX_CAP)
    email_throttle_per_minute = _limit_field("Messages per minute", MAX_THROTTLE_PER_MINUTE)

    dnd_enabled = forms.BooleanField(label="Apply a default Do Not Disturb window", required=False)
    dnd_days = forms.MultipleChoiceField(
        label="Days",
        choices=WEEKDAY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A window belongs to the day it starts on.",
        error_messages={"invalid_choice": "Choose days of the week from the list."},
    )
    dnd_start = forms.TimeField(
        label="From",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"invalid": "Enter a time like 21:00."},
    )
    dnd_end = forms.TimeField(
        label="To",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Earlier than the start: the window runs overnight, e.g. 21:00 to 09:00.",
        error_messages={"invalid": "Enter a time like 09:00."},
    )

    class Meta:
        model = GlobalLimits
        fields = [
            "push_per_day",
            "push_per_week",
            "push_throttle_per_minute",
            "sms_per_day",
            "sms_per_week",
            "sms_throttle_per_minute",
            "email_per_day",
            "email_per_week",
            "email_throttle_per_minute",
            "dnd_enabled",
            "dnd_days",
            "dnd_start",
            "dnd_end",
            "dnd_timezone",
            "dnd_action",
        ]
        labels = {"dnd_timezone": "Read the window in", "dnd_action": "A message due inside it"}
        widgets = {"dnd_timezone": forms.RadioSelect, "dnd_action": forms.RadioSelect}

    def clean(self) -> dict:
        cleaned = super().clean()
        for channel in ("push", "sms", "email"):
            day, week = cleaned.get(f"{channel}_per_day"), cleaned.get(f"{channel}_per_week")
            if day and week and week < day:
                self.add_error(
                    f"{channel}_per_week",
                    f"A week cannot allow fewer than a day: enter at least {day}, "
                    "or lower the daily cap.",
                )
        if cleaned.get("dnd_enabled"):
            if not cleaned.get("dnd_days") and "dnd_days" not in self.errors:
                self.add_error("dnd_days", "Choose at least one day for Do Not Disturb.")
            start, end = cleaned.get("dnd_start"), cleaned.get("dnd_end")
            if start is None and "dnd_start" not in self.errors:
                self.add_error("dnd_start", "Enter the time DND starts, like 21:00.")
            if end is None and "dnd_end" not in self.errors:
                self.add_error("dnd_end", "Enter the time DND ends, like 09:00.")
            if start is not None and end is not None and start == end:
                self.add_error("dnd_end", "DND must end at another time than it starts.")
        return cleaned

    def limits_fields(self) -> dict:
        """What global_limits_update saves, days in week order."""
        fields = dict(self.cleaned_data)
        order = [day for day, _ in WEEKDAY_CHOICES]
        fields["dnd_days"] = sorted(fields.get("dnd_days") or [], key=order.index)
        return fields
