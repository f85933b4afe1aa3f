from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from . import csv_import
from .selectors import ProfileFilters


class ProfileFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=255,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Identity, email, phone, name or property=value",
                "aria-label": "Search profiles",
            }
        ),
    )
    country = forms.ChoiceField(required=False, choices=[("", "Any country")])
    has_email = forms.BooleanField(required=False, label="Has email")
    has_phone = forms.BooleanField(required=False, label="Has phone")
    has_push_device = forms.BooleanField(required=False, label="Has push device")
    email_unsubscribed = forms.BooleanField(required=False, label="Email unsubscribed")
    sms_unsubscribed = forms.BooleanField(required=False, label="SMS unsubscribed")
    test_only = forms.BooleanField(required=False, label="Test profiles only")

    def __init__(self, *args, countries: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "Any country")] + [(c, c) for c in countries]

    def to_filters(self) -> ProfileFilters:
        """The filters to apply; an invalid field (say, a country no profile has any more)
        is simply not applied rather than failing the whole page."""
        self.is_valid()
        cleaned = {k: v for k, v in self.cleaned_data.items() if k in self.fields}
        return ProfileFilters(**cleaned)

    @property
    def is_filtered(self) -> bool:
        return any(self.to_filters().__dict__.values())


class ProfileImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 text, the first row naming the columns.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Choose a .csv file (a spreadsheet saved as CSV).")
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        limit = settings.CSV_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(limit)}. Split it into smaller files."
            )
        try:
            csv_import.read_header_from_upload(upload)
        except csv_import.CsvFileError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload
