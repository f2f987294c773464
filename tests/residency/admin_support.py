"""Shared setup for the tests of the coordinators' admin (tests/residency/test_admin_*.py): a
client logged in as a coordinator, admin URLs, formset management data and assignments that
pass every placement rule."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AssignmentFactory, ResidentYearFactory


def url(model, view, *args):
    return reverse(f"admin:residency_{model._meta.model_name}_{view}", args=args)


def management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


@pytest.fixture
def admin_client(client, coordinator):
    client.force_login(coordinator)
    return client


def placed_assignment(**kwargs):
    """An assignment that passes every placement rule, for edits through the service."""
    assignment = AssignmentFactory(**kwargs)
    ResidentYearFactory(
        person=assignment.person, academic_year=assignment.block.academic_year, pgy_level=1
    )
    return assignment


def assignment_post(assignment, version, **changes):
    data = {
        "person": assignment.person_id,
        "block": assignment.block_id,
        "rotation": assignment.rotation_id,
        "role": assignment.role,
        "notes": assignment.notes,
        "expected_version": version,
        "_save": "Save",
    }
    if assignment.pinned:
        data["pinned"] = "on"
    data.update(changes)
    return data
