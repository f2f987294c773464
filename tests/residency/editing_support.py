"""Shared setup for the editing tests (schedule pages, the edit form, the API, the threads)."""

from __future__ import annotations

from django.test import Client

from residency.models import Assignment, Person
from tests.factories import (
    AssignmentFactory,
    BlockFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)


def client_for(user, *, enforce_csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client


def resident_assignment(person: Person | None = None, **kwargs) -> Assignment:
    """An assignment of a PGY-1 resident (PGY level recorded for the block's year)."""
    assignment = AssignmentFactory(**({"person": person} if person else {}), **kwargs)
    if assignment.person.is_resident:
        ResidentYearFactory(
            person=assignment.person, academic_year=assignment.block.academic_year, pgy_level=1
        )
    return assignment


def faculty_assignment(faculty: Person, **kwargs) -> Assignment:
    """A faculty member on a faculty-staffed rotation."""
    kwargs.setdefault("rotation", RotationTemplateFactory(staffed_by="faculty", max_people=5))
    kwargs.setdefault("block", BlockFactory())
    return AssignmentFactory(person=faculty, **kwargs)


def edit_url(assignment: Assignment) -> str:
    return f"/assignments/{assignment.pk}/edit/"


def api_url(assignment: Assignment) -> str:
    return f"/api/assignments/{assignment.pk}"
