from __future__ import annotations

from django import forms
from django.conf import settings

from residency.models import AcademicYear, RotationTemplate
from scheduling.services import MAX_BLOCK_NUMBER, MAX_SEED, MAX_TIME_LIMIT_SECONDS, MAX_WORKERS
from shifts.models import ShiftType


class GenerationStartForm(forms.Form):
    academic_year = forms.ModelChoiceField(queryset=AcademicYear.objects.all())
    first_block = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_BLOCK_NUMBER,
        help_text="Leave both blocks empty for the whole year.",
    )
    last_block = forms.IntegerField(required=False, min_value=1, max_value=MAX_BLOCK_NUMBER)
    time_limit_seconds = forms.IntegerField(
        min_value=1, max_value=MAX_TIME_LIMIT_SECONDS, required=False
    )
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, required=False, initial=0)
    workers = forms.IntegerField(min_value=1, max_value=MAX_WORKERS, required=False)
    auto_publish = forms.BooleanField(
        required=False,
        label="Publish automatically",
        help_text="Unticked: the run ends with a draft to review, then publish or discard.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_limit_seconds"].initial = settings.ROTA_GENERATION_TIME_LIMIT_SECONDS
        self.fields["workers"].initial = settings.ROTA_GENERATION_WORKERS

    def clean(self):
        data = super().clean()
        if (data.get("first_block") is None) != (data.get("last_block") is None):
            raise forms.ValidationError("Give both the first and the last block, or neither.")
        first, last = data.get("first_block"), data.get("last_block")
        if first and last and first > last:
            self.add_error("last_block", "The last block must not come before the first.")
        return data


class ShiftGenerationStartForm(forms.Form):
    """A shifts run (``kind=shifts``): a date range of one academic year, what to keep."""

    kind = forms.CharField(widget=forms.HiddenInput, initial="shifts")
    academic_year = forms.ModelChoiceField(queryset=AcademicYear.objects.all())
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="First day")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Last day")
    keep = forms.ChoiceField(
        choices=[
            ("changes", "Change as few current shifts as possible"),
            ("all", "Keep every current shift (fill the gaps)"),
            ("none", "Start afresh (pinned shifts stay)"),
        ],
        initial="changes",
        required=False,
    )
    time_limit_seconds = forms.IntegerField(
        min_value=1, max_value=MAX_TIME_LIMIT_SECONDS, required=False
    )
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, required=False, initial=0)
    workers = forms.IntegerField(min_value=1, max_value=MAX_WORKERS, required=False)
    shift_types = forms.ModelMultipleChoiceField(
        queryset=ShiftType.objects.filter(active=True).order_by("start_time", "code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Shift types to generate",
        help_text="None ticked: every active type. The others' shifts stay as they are.",
    )
    auto_publish = forms.BooleanField(required=False, label="Publish automatically")

    def clean_kind(self) -> str:
        if self.cleaned_data["kind"] != "shifts":
            raise forms.ValidationError("Only shifts runs use this form.")
        return "shifts"

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The last day must not come before the first.")
        return data


class ShiftGenerationPageForm(ShiftGenerationStartForm):
    """The coordinator's page for a shifts run (scheduling/shift_views.py): the API's fields,
    what to keep as radio buttons with their consequences, the configured defaults filled in."""

    keep = forms.ChoiceField(
        choices=ShiftGenerationStartForm.base_fields["keep"].choices,
        initial="changes",
        widget=forms.RadioSelect,
        label="Current shifts",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_limit_seconds"].initial = settings.ROTA_GENERATION_TIME_LIMIT_SECONDS
        self.fields["time_limit_seconds"].label = "Time limit (seconds)"
        self.fields["workers"].initial = settings.ROTA_GENERATION_WORKERS
        self.fields[
            "auto_publish"
        ].help_text = "Unticked: the run ends with a draft to review, then publish or discard."


class RotationWishForm(forms.Form):
    block = forms.ModelChoiceField(queryset=None)
    rank = forms.TypedChoiceField(
        choices=[(1, "1st choice"), (2, "2nd choice"), (3, "3rd choice")], coerce=int
    )
    rotation = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, academic_year: AcademicYear, pgy: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["block"].queryset = academic_year.blocks.order_by("number")
        self.fields["block"].label_from_instance = lambda b: f"Block {b.number} ({b.start_date})"
        self.fields["rotation"].queryset = (
            RotationTemplate.objects.filter(
                active=True, staffed_by=RotationTemplate.StaffedBy.RESIDENTS,
                allowed_pgy_levels__contains=[pgy],
            )
            .exclude(kind=RotationTemplate.Kind.LEAVE)
            .order_by("name")
        )  # fmt: skip


class VacationRequestForm(forms.Form):
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if (
            data.get("start_date")
            and data.get("end_date")
            and data["end_date"] < data["start_date"]
        ):
            self.add_error("end_date", "The end date must not be before the start date.")
        return data
