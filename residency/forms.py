"""Input forms of the residency app (the coordinators' admin uses them)."""

from __future__ import annotations

from django import forms

from residency.models import PGY_LEVELS, RotationTemplate


class RotationTemplateAdminForm(forms.ModelForm):
    """The PGY levels as checkboxes (1..8) instead of a raw array text box."""

    allowed_pgy_levels = forms.TypedMultipleChoiceField(
        choices=[(level, f"PGY-{level}") for level in PGY_LEVELS],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Allowed PGY levels",
        help_text="Residents of these levels may take it. Leave rotations ignore this.",
    )

    class Meta:
        model = RotationTemplate
        fields = (
            "name",
            "code",
            "kind",
            "staffed_by",
            "min_people",
            "max_people",
            "allowed_pgy_levels",
            "supervision_ratio",
            "heavy",
            "weekly_hours",
            "active",
        )

    def clean_allowed_pgy_levels(self) -> list[int]:
        return sorted(set(self.cleaned_data["allowed_pgy_levels"]))

    def clean(self):
        cleaned = super().clean()
        levels = cleaned.get("allowed_pgy_levels")
        if (
            levels == []
            and cleaned.get("staffed_by") == RotationTemplate.StaffedBy.RESIDENTS
            and cleaned.get("kind") != RotationTemplate.Kind.LEAVE
        ):
            self.add_error(
                "allowed_pgy_levels",
                "Choose at least one PGY level: no resident could be placed on this rotation.",
            )
        return cleaned


class BlocksCreateForm(forms.Form):
    """The intermediate page of the "Create blocks" admin action."""

    UNIT_CHOICES = [("weeks", "weeks"), ("days", "days")]

    length = forms.IntegerField(min_value=1, max_value=366, initial=4, label="Block length")
    unit = forms.ChoiceField(choices=UNIT_CHOICES, initial="weeks")

    def length_days(self) -> int:
        length = self.cleaned_data["length"]
        return length * 7 if self.cleaned_data["unit"] == "weeks" else length
