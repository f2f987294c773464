from __future__ import annotations

from django import forms
from django.conf import settings

from residency.models import AcademicYear
from scheduling.services import MAX_BLOCK_NUMBER, MAX_SEED, MAX_TIME_LIMIT_SECONDS, MAX_WORKERS


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
