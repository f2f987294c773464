"""Input forms of the shift pages. Forms only parse input; services write and judge."""

from __future__ import annotations

from django import forms

from residency.models import Person
from shifts.models import ShiftType


class ShiftForm(forms.Form):
    """Assign or move a shift (coordinators). ``version`` is the version the form was rendered
    from (empty when assigning); ``override_reason`` is read only if duty-hour rules refuse."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    person = forms.ModelChoiceField(queryset=Person.objects.filter(active=True))
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    shift_type = forms.ModelChoiceField(queryset=ShiftType.objects.filter(active=True))
    notes = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    pinned = forms.BooleanField(
        required=False, help_text="Generation never moves or removes a pinned shift."
    )
    override_reason = forms.CharField(
        required=False,
        max_length=2000,
        label="Duty-hour override reason",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only if the change breaks a duty-hour rule and must be made anyway: why.",
    )

    def clean_date(self):
        day = self.cleaned_data["date"]
        if not 1900 <= day.year <= 9000:
            raise forms.ValidationError("Choose a date between 1900 and 9000.")
        return day


class ShiftDeleteForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
