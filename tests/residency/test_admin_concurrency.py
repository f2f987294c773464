"""Two coordinators save the same assignment at once through the admin."""

import threading

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from residency.models import Assignment
from tests.concurrency import Outcome, join_all, run_in_thread, wait_for_lock_waiters
from tests.factories import AssignmentFactory, ResidentYearFactory


@pytest.mark.django_db(transaction=True)
def test_simultaneous_admin_saves_one_wins_one_gets_409(coordinator, settings):
    # Long enough that the savers wait behind our lock instead of giving up as Busy.
    settings.ROTA_LOCK_TIMEOUT_MS = 30_000
    assignment = AssignmentFactory(notes="as read")
    ResidentYearFactory(
        person=assignment.person, academic_year=assignment.block.academic_year, pgy_level=1
    )
    path = reverse("admin:residency_assignment_change", args=[assignment.pk])

    # Hold the row so both saves have read version 1 and then queue at their UPDATE: the race
    # the conditional UPDATE must settle, not a lucky ordering.
    locked, release = threading.Event(), threading.Event()

    def hold_row():
        with transaction.atomic():
            Assignment.objects.select_for_update().get(pk=assignment.pk)
            locked.set()
            assert release.wait(60)

    def save(notes):
        def post():
            client = Client()
            client.force_login(coordinator)
            data = {
                "person": assignment.person_id,
                "block": assignment.block_id,
                "rotation": assignment.rotation_id,
                "role": "primary",
                "notes": notes,
                "expected_version": "1",
                "_save": "Save",
            }
            return client.post(path, data).status_code

        return post

    holder = run_in_thread(hold_row, Outcome())
    assert locked.wait(60)
    outcomes = {"A": Outcome(), "B": Outcome()}
    savers = [run_in_thread(save(notes), outcome) for notes, outcome in outcomes.items()]
    try:
        wait_for_lock_waiters(2)
    finally:
        release.set()
    join_all([holder, *savers])

    assert all(o.error is None for o in outcomes.values()), outcomes
    statuses = {notes: o.result for notes, o in outcomes.items()}
    assert sorted(statuses.values()) == [302, 409]
    winner = next(notes for notes, status in statuses.items() if status == 302)
    assignment.refresh_from_db()
    assert (assignment.notes, assignment.version) == (winner, 2)
