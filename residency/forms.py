"""Input forms of the residency pages and the coordinators' admin. Forms only parse and
validate input; services write."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.db.models import Q

from residency.models import Assignment, Block, Person, RotationTemplate


class AssignmentNotesForm(forms.Form):
    """What the owner of an assignment may change: the notes. ``version`` is the version the
    form was rendered from; the save succeeds only if the row is still at that version."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    # The editable values as rendered (JSON), so that after a conflict the fields this user did
    # not touch can take the newer saved values instead of reverting someone else's edit.
    values_read = forms.CharField(widget=forms.HiddenInput, required=False)
    notes = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )

    # Fields passed to services.assignment_update, in display order.
    editable = ("notes",)

    def __init__(self, *args: Any, assignment: Assignment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.assignment = assignment

    def changes(self) -> dict[str, Any]:
        return {field: self.cleaned_data[field] for field in self.editable}

    def untouched_fields(self) -> set[str]:
        """Editable fields whose submitted value is the value the form was rendered with."""
        read = values_read_parse(self.cleaned_data.get("values_read"))
        return {
            field
            for field in self.editable
            if field in read and field_raw(self.cleaned_data[field]) == read[field]
        }


def field_raw(value: Any) -> Any:
    """A field value as JSON-comparable data: a related object by its primary key."""
    return getattr(value, "pk", value)


def assignment_raw_values(assignment: Assignment, fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: field_raw(getattr(assignment, field)) for field in fields}


def values_read_parse(text: str | None) -> dict[str, Any]:
    try:
        read = json.loads(text or "{}")
    except (ValueError, RecursionError):  # a tampered hidden field
        return {}
    return read if isinstance(read, dict) else {}


class AssignmentCoordinatorForm(AssignmentNotesForm):
    """A coordinator may also move the assignment to another person, rotation or role."""

    person = forms.ModelChoiceField(queryset=Person.objects.none())
    rotation = forms.ModelChoiceField(queryset=RotationTemplate.objects.none())
    role = forms.ChoiceField(choices=Assignment.Role.choices)

    editable = ("person", "rotation", "role", "notes")
    field_order = ("version", "values_read", "person", "rotation", "role", "notes")

    def __init__(self, *args: Any, assignment: Assignment, **kwargs: Any) -> None:
        super().__init__(*args, assignment=assignment, **kwargs)
        # Inactive people and retired rotations are not offered, except the ones it has now.
        self.fields["person"].queryset = Person.objects.filter(
            Q(active=True) | Q(pk=assignment.person_id)
        )
        self.fields["rotation"].queryset = RotationTemplate.objects.filter(
            Q(active=True) | Q(pk=assignment.rotation_id)
        )


def assignment_form_class(*, coordinator: bool) -> type[AssignmentNotesForm]:
    return AssignmentCoordinatorForm if coordinator else AssignmentNotesForm


def assignment_form_initial(assignment: Assignment) -> dict[str, Any]:
    values = assignment_raw_values(assignment, AssignmentCoordinatorForm.editable)
    return {"version": assignment.version, "values_read": json.dumps(values), **values}


class BulkReassignForm(forms.Form):
    """Move everyone on one rotation in a block to another rotation."""

    from_rotation = forms.ModelChoiceField(
        queryset=RotationTemplate.objects.none(), label="Move everyone on"
    )
    to_rotation = forms.ModelChoiceField(queryset=RotationTemplate.objects.none(), label="To")

    def __init__(self, *args: Any, block: Block, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from_rotation"].queryset = RotationTemplate.objects.filter(
            assignments__block=block
        ).distinct()
        self.fields["to_rotation"].queryset = RotationTemplate.objects.filter(active=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("from_rotation") and data.get("from_rotation") == data.get("to_rotation"):
            self.add_error("to_rotation", "Choose a different rotation to move people to.")
        return data


class BlocksCreateForm(forms.Form):
    """The intermediate page of the "Create blocks" admin action."""

    UNIT_CHOICES = [("weeks", "weeks"), ("days", "days")]

    length = forms.IntegerField(min_value=1, max_value=366, initial=4, label="Block length")
    unit = forms.ChoiceField(choices=UNIT_CHOICES, initial="weeks")

    def length_days(self) -> int:
        length = self.cleaned_data["length"]
        return length * 7 if self.cleaned_data["unit"] == "weeks" else length
