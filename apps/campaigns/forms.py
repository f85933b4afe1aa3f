from django import forms

from apps.providers.models import Channel

from .models import CampaignStatus, CampaignType
from .selectors import CampaignFilters


class CampaignFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Campaign name",
                "aria-label": "Search campaigns by name",
            }
        ),
    )
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status but archived"), *CampaignStatus.choices],
    )
    campaign_type = forms.ChoiceField(
        required=False, label="Type", choices=[("", "Any type"), *CampaignType.choices]
    )
    created_by = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "Anyone")]
    )
    date_field = forms.ChoiceField(
        required=False,
        label="Date",
        choices=[("created", "Created"), ("scheduled", "Scheduled")],
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, creators, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["created_by"].choices = [("", "Anyone")] + [
            (user.pk, user.get_full_name() or user.username) for user in creators
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def to_filters(self) -> CampaignFilters:
        """The filters to apply. An invalid field is left out (and its error shown beside
        it) rather than failing the page."""
        self.is_valid()
        cleaned = {
            k: v
            for k, v in self.cleaned_data.items()
            if k in self.fields and k not in self.errors and v not in (None, "")
        }
        return CampaignFilters(**cleaned)

    @property
    def is_filtered(self) -> bool:
        filters = self.to_filters()
        return filters != CampaignFilters(date_field=filters.date_field)
