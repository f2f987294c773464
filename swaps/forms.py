"""Input of the swap pages. Shape only; the rules are the services' (they re-render here)."""

from __future__ import annotations

from django import forms

from residency.models import Assignment, Person
from swaps import selectors
from swaps.models import SwapRequest


class AssignmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Assignment) -> str:
        return selectors.assignment_label(obj)


class ColleagueAssignmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Assignment) -> str:
        return selectors.colleague_assignment_label(obj)


class SwapOfferForm(forms.Form):
    offered = AssignmentChoiceField(queryset=Assignment.objects.none(), label="I offer")
    kind = forms.ChoiceField(
        choices=SwapRequest.Kind.choices,
        widget=forms.RadioSelect,
        initial=SwapRequest.Kind.ONE_TO_ONE,
        help_text="One-to-one: for a colleague's assignment. Give-away: to a named colleague, "
        "nothing back. Open offer: anyone eligible may take it (they give back their own "
        "assignment in that block, if they have one).",
    )
    counterpart = forms.ModelChoiceField(
        queryset=Person.objects.none(),
        required=False,
        label="Colleague",
        help_text="For a give-away. For a one-to-one swap the colleague is the wanted "
        "assignment's owner.",
    )
    wanted = ColleagueAssignmentChoiceField(
        queryset=Assignment.objects.none(), required=False, label="I want (one-to-one)"
    )
    message = forms.CharField(
        max_length=1000, widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args, person: Person, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["offered"].queryset = selectors.offerable_assignments(person=person)
        self.fields["wanted"].queryset = selectors.wantable_assignments(person=person)
        self.fields["counterpart"].queryset = Person.objects.filter(
            kind=person.kind, active=True
        ).exclude(pk=person.pk)
