"""Generation and issue 10: a publish is in the history as "generation run #N"; each person
whose assignments it changed gets ONE digest; coordinators hear that the run ended."""

from __future__ import annotations

from collections import Counter

import pytest

from residency.history import history_for_object
from residency.models import Assignment, AssignmentEvent, Notification, Person
from scheduling import services
from scheduling.models import GenerationRun
from scheduling.search import ScheduleSolve
from scheduling.solver import SolveResult

pytestmark = pytest.mark.django_db(transaction=True)
Kind = Notification.Kind


def test_publish_history_and_one_digest_per_person(program_s, coordinator, run_worker):
    run = services.generation_run_start(academic_year_id=program_s.pk, requested_by=coordinator)
    run_worker()
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.READY, run.error
    # A draft changes nothing and tells no resident anything (coordinators hear it is ready);
    # publishing does.
    assert not Notification.objects.filter(kind=Kind.SCHEDULE_CHANGED).exists()
    (ready,) = Notification.objects.filter(kind=Kind.GENERATION_FINISHED)
    assert (ready.user, ready.subject) == (
        coordinator,
        f"Generation run #{run.pk} is ready for review",
    )
    services.generation_run_publish(run_id=run.pk, by=coordinator)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.SUCCEEDED, run.error

    written = Assignment.objects.filter(generation_run_id=run.pk)
    assert written.count() == run.assignments_written > 0
    for assignment in written[:5]:
        (entry,) = history_for_object(label="assignment", object_id=assignment.pk)
        assert (entry.action, entry.source) == ("insert", "generation publish")
        assert entry.who == f"generation run #{run.pk}"
    assert not AssignmentEvent.objects.filter(pgh_context__isnull=True, pgh_obj_id__in=written)

    digests = Notification.objects.filter(kind=Kind.SCHEDULE_CHANGED)
    per_person = Counter(digests.values_list("email", flat=True))
    people = set(written.values_list("person__email", flat=True))
    assert set(per_person) == people  # everyone was moved (the year was empty)
    assert set(per_person.values()) == {1}  # one digest each, not one per block
    one = digests.filter(email=Person.objects.filter(email__in=people).first().email).get()
    assert one.body.count("\n- ") == written.filter(person__email=one.email).count()
    assert f"generation run #{run.pk}" in one.body

    (finished,) = Notification.objects.filter(kind=Kind.GENERATION_FINISHED).exclude(pk=ready.pk)
    assert (finished.user, finished.subject) == (coordinator, f"Generation run #{run.pk} succeeded")


def test_automatic_publish_is_recorded_the_same_way(program_s, coordinator, run_worker):
    run = services.generation_run_start(
        academic_year_id=program_s.pk, requested_by=coordinator, auto_publish=True
    )
    run_worker()
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.SUCCEEDED, run.error
    written = Assignment.objects.filter(generation_run_id=run.pk)
    assert written.exists()
    entry = history_for_object(label="assignment", object_id=written.first().pk)[0]
    assert (entry.source, entry.who) == ("generation publish", f"generation run #{run.pk}")
    per_person = Counter(
        Notification.objects.filter(kind=Kind.SCHEDULE_CHANGED).values_list("email", flat=True)
    )
    assert per_person and set(per_person.values()) == {1}


def test_a_failed_run_tells_coordinators_and_nobody_else(
    program_s, coordinator, run_worker, monkeypatch
):
    monkeypatch.setattr(ScheduleSolve, "run", lambda self: SolveResult(status="UNKNOWN"))
    run = services.generation_run_start(academic_year_id=program_s.pk, requested_by=coordinator)
    run_worker()
    (note,) = Notification.objects.all()
    assert (note.kind, note.user) == (Kind.GENERATION_FINISHED, coordinator)
    assert note.subject == f"Generation run #{run.pk} failed"
