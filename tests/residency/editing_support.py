"""Shared setup for the editing tests (schedule pages, the edit form, the API, the threads)."""

from __future__ import annotations

import threading
import time

from django.db import connection
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


def wait_for_lock_waiters(count: int = 1, timeout: float = 30) -> None:
    """Block until ``count`` other backends are waiting for a lock (seen in pg_stat_activity):
    proof that a thread has reached the statement that must queue behind a held lock."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            pause.wait(0.01)  # polling a condition, not sleeping in the hope it is met
    raise AssertionError(f"no {count} lock waiter(s) after {timeout}s")
