"""Input forms of the shift pages. Forms only parse input; services write and judge."""

from __future__ import annotations

from django import forms

from residency.models import Person
from shifts.models import ShiftRequest, ShiftType


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


class ShiftRequestForm(forms.Form):
    """A person's request about one day. The shift types offered are those people of their
    kind take; the service judges the rest (period, deadline, limit, contradictions)."""

    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(
        choices=ShiftRequest.Kind.choices,
        initial=ShiftRequest.Kind.OFF,
        widget=forms.RadioSelect(attrs={"class": "radio-list"}),
        label="I would like",
    )
    shift_type = forms.ModelChoiceField(
        queryset=ShiftType.objects.none(),
        required=False,
        empty_label="The whole day (no shift at all)",
        label="Shift",
        help_text="For “off”: leave the whole day to ask for a day off. For “on”: pick the shift.",
    )
    priority = forms.TypedChoiceField(
        choices=ShiftRequest.Priority.choices, coerce=int, initial=ShiftRequest.Priority.MEDIUM
    )
    note = forms.CharField(required=False, max_length=300, help_text="Optional: why.")

    def __init__(self, *args, staffed_by: str, periods=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shift_type"].queryset = ShiftType.objects.filter(
            active=True, staffed_by=staffed_by
        )
        periods = list(periods)
        if periods:
            # The browser's date picker offers only the days of the open periods.
            attrs = self.fields["date"].widget.attrs
            attrs["min"] = min(p.start_date for p in periods).isoformat()
            attrs["max"] = max(p.end_date for p in periods).isoformat()

    def clean_date(self):
        day = self.cleaned_data["date"]
        if not 1900 <= day.year <= 9000:
            raise forms.ValidationError("Choose a date between 1900 and 9000.")
        return day

    def clean(self):
        data = super().clean()
        if data.get("kind") == ShiftRequest.Kind.ON and not data.get("shift_type"):
            self.add_error("shift_type", "Pick the shift you would like to be given.")
        return data
