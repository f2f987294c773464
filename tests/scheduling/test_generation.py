"""Generation end to end: a real rq worker, real PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from residency.models import Assignment
from scheduling import services
from scheduling.models import GenerationRun
from scheduling.validator import schedule_validate

pytestmark = pytest.mark.django_db(transaction=True)


def test_generation_of_synthetic_s_program_is_optimal_and_valid(program_s, coordinator, run_worker):
    run = services.generation_run_start(
        auto_publish=True,
        academic_year_id=program_s.pk,
        requested_by=coordinator,
        time_limit_seconds=20,
    )
    run_worker()

    run.refresh_from_db()
    assert run.status == GenerationRun.Status.SUCCEEDED, run.error
    assert run.solver_status == "OPTIMAL"
    assert run.progress == 100
    assert run.fence_token == 1
    written = Assignment.objects.filter(generation_run_id=run.pk).count()
    assert written == run.assignments_written > 18 * 13
    assert schedule_validate(academic_year=program_s) == []
    assert not services._redis().exists(services.lock_name(program_s.pk))


def test_commands_generate_now_and_validate(program_s, redis_conn):
    from io import StringIO

    from django.core.management import ManagementUtility, call_command

    out = StringIO()
    call_command(
        "generate_schedule", program_s.label, "--now", "--publish", "--time-limit", "20", stdout=out
    )
    run = GenerationRun.objects.get()
    assert f"Generation #{run.pk}: succeeded." in out.getvalue()

    out = StringIO()
    call_command("validate_schedule", program_s.label, stdout=out)
    assert f"0 violation(s) in {program_s}." in out.getvalue()

    Assignment.objects.filter(block__number=1).delete()
    with pytest.raises(SystemExit) as exited:  # as from a shell: exit status 1, stderr says why
        ManagementUtility(["manage.py", "validate_schedule", program_s.label]).execute()
    assert exited.value.code == 1


def test_regenerating_an_unchanged_year_writes_nothing(program_s, coordinator, run_worker):
    def rows():
        return sorted(
            Assignment.objects.filter(block__academic_year=program_s).values_list(
                "pk", "person_id", "block_id", "rotation_id", "role", "version", "notes",
                "updated_by_id", "updated_at", "generation_run_id",
            )
        )  # fmt: skip

    first = services.generation_run_start(
        auto_publish=True, academic_year_id=program_s.pk, requested_by=coordinator
    )
    run_worker()
    first.refresh_from_db()
    assert first.status == GenerationRun.Status.SUCCEEDED, first.error
    # Someone writes notes on an assignment: generation must keep them (and the row).
    noted = Assignment.objects.filter(block__academic_year=program_s).first()
    Assignment.objects.filter(pk=noted.pk).update(notes="conference week 2", version=2)
    before = rows()

    for auto_publish in (True, False):  # automatic and for review: nothing to publish either way
        again = services.generation_run_start(
            auto_publish=auto_publish, academic_year_id=program_s.pk, requested_by=coordinator
        )
        run_worker()

        again.refresh_from_db()
        assert again.status == GenerationRun.Status.SUCCEEDED, again.error
        assert again.objective == 0  # no changes, no unfairness
        assert again.progress_message == (
            "No changes: the current schedule already is the best one found."
        )
        assert (again.rows_changed, again.rows_added, again.rows_removed) == (0, 0, 0)
        assert again.rows_kept == len(before) and again.assignments_written == 0
        assert not again.changes.exists()
        # Same ids, versions, notes, updated_by, updated_at: not one row was written.
        assert rows() == before


@pytest.mark.parametrize("seed", [2, 3])
def test_generated_schedules_pass_the_validator_and_put_absent_residents_on_leave(
    seed, coordinator, run_worker
):
    from residency.models import Absence, RotationTemplate
    from residency.selectors import is_unavailable_for_block
    from scheduling.synthetic import synthetic_program_create

    year = synthetic_program_create(size="S", seed=seed)
    run = services.generation_run_start(
        auto_publish=True, academic_year_id=year.pk, requested_by=coordinator
    )
    run_worker()

    run.refresh_from_db()
    assert run.status == GenerationRun.Status.SUCCEEDED, run.error
    assert schedule_validate(academic_year=year) == []
    away = 0
    for assignment in Assignment.objects.filter(
        block__academic_year=year, person__kind="resident"
    ).select_related("block", "rotation"):
        absences = Absence.objects.filter(person_id=assignment.person_id)
        if is_unavailable_for_block(block=assignment.block, absences=absences):
            away += 1
            assert assignment.rotation.kind == RotationTemplate.Kind.LEAVE
        else:
            assert assignment.rotation.kind != RotationTemplate.Kind.LEAVE
    assert away > 0  # the synthetic program has residents away for most of a block
    supervisors = Assignment.objects.filter(block__academic_year=year, role="supervising")
    assert supervisors.exists() and not supervisors.filter(person__kind="resident").exists()


def test_a_run_that_cannot_be_queued_fails_instead_of_waiting(program_s, monkeypatch):
    import django_rq
    from redis.exceptions import ConnectionError as RedisConnectionError

    class DownQueue:
        def enqueue(self, *args, **kwargs):
            raise RedisConnectionError("connection refused")

    monkeypatch.setattr(django_rq, "get_queue", lambda name: DownQueue())
    # The caller hears it (503, try again) instead of "queued" for a run that will never start.
    with pytest.raises(services.QueueUnavailable):
        services.generation_run_start(auto_publish=True, academic_year_id=program_s.pk)

    run = GenerationRun.objects.get(academic_year=program_s)
    assert run.status == GenerationRun.Status.FAILED
    assert run.error == "Could not queue the generation (Redis: connection refused). Try again."
