"""Generation on tight programs with a planted valid schedule (scheduling/planted.py), with one
solver worker: the case that used to find no schedule at all (issue 15)."""

from __future__ import annotations

import pytest

from residency.models import Absence, Assignment
from scheduling import services
from scheduling.models import GenerationRun
from scheduling.planted import (
    planted_current_schedule_create,
    planted_program_create,
    planted_wishes_create,
)
from scheduling.problem import problem_load
from scheduling.search import ScheduleSolve
from scheduling.validator import schedule_validate

Status = GenerationRun.Status


def _generate(year, *, workers=1, limit=20, seed=0) -> GenerationRun:
    run = services.generation_run_start(
        academic_year_id=year.pk, time_limit_seconds=limit, workers=workers, seed=seed,
        enqueue=False, auto_publish=True,  # written (and validated), not left as a draft
    )  # fmt: skip
    services.generation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["S", "M"])
def test_the_planted_schedule_itself_is_valid_and_tight(size):
    # The generator's promise, checked by the independent validator: a test that relies on
    # "feasible by construction" must know the construction is right.
    planted = planted_program_create(size=size, seed=3)
    Assignment.objects.bulk_create(
        Assignment(person_id=pid, block_id=bid, rotation_id=rot)
        for (pid, bid), rot in planted.schedule.items()
        if (pid, bid) not in planted.pinned
    )
    assert schedule_validate(academic_year=planted.year) == []
    core = [r for code, r in planted.rotations.items() if code not in ("ELEC", "LEAVE")]
    if size == "M":  # whole cycles: every core rotation's capacity is exact
        assert all(r.min_people == r.max_people for r in core)
    else:  # 20 residents cannot fill a rotation evenly; as even as they can
        assert all(r.max_people - r.min_people <= 2 for r in core)
    assert len(planted.pinned) == round(
        0.03 * sum(1 for r in planted.schedule.values() if r != planted.rotations["LEAVE"].pk)
    )
    kinds = set(Absence.objects.filter(person__in=planted.residents).values_list("kind", flat=True))
    assert {"vacation", "conference"} <= kinds


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_worker_finds_a_valid_schedule_for_a_tight_program(seed, redis_conn):
    planted = planted_program_create(size="S", seed=seed)
    run = _generate(planted.year, workers=1, seed=seed)

    assert run.status == Status.SUCCEEDED, run.error
    assert run.first_solution_seconds < 5
    assert schedule_validate(academic_year=planted.year) == []
    kept = set(
        Assignment.objects.filter(block__academic_year=planted.year, pinned=True).values_list(
            "person_id", "block_id"
        )
    )
    assert kept == planted.pinned
    assert run.report["changes"] == 0  # a fresh year: nothing to change
    assert "all rules met" in run.progress_message and "gap" not in run.progress_message


@pytest.mark.django_db
def test_two_workers_start_with_local_search_on_both_threads(monkeypatch):
    # CP-SAT's two-worker portfolio gives local search one thread beside the tree search; on a
    # loaded host that thread starved and first schedules took up to 22 s (L). So two workers
    # run the same local-search phase as one, on both threads, before the portfolio.
    planted = planted_program_create(size="S", seed=6)
    planted_current_schedule_create(planted=planted, seed=6, mode="perturbed")
    problem = problem_load(academic_year=planted.year)
    phases = []
    solve = ScheduleSolve._solve

    def spy(self, model, phase, limit, better_than=None):
        solver, status = solve(self, model, phase, limit, better_than)
        params = solver.parameters
        phases.append((phase, params.num_workers, params.use_ls_only))
        return solver, status

    monkeypatch.setattr(ScheduleSolve, "_solve", spy)
    result = ScheduleSolve(problem, time_limit=15, workers=2, seed=6).run()

    assert phases[0] == ("feasibility", 2, True)
    assert result.found and result.first_solution_seconds < 5
    assert result.changes_at_least <= result.changes


@pytest.mark.django_db
def test_one_worker_regenerates_against_a_random_current_schedule_reporting_the_floor():
    planted = planted_program_create(size="S", seed=4)
    planted_current_schedule_create(planted=planted, seed=4, mode="random")
    problem = problem_load(academic_year=planted.year)

    reported = []
    solve = ScheduleSolve(problem, time_limit=15, workers=1, seed=4, on_solution=reported.append)
    result = solve.run()

    assert result.found and result.first_solution_seconds < 5
    # Cells on leave or no longer eligible must change: a true lower bound on changes.
    assert 0 < result.changes_at_least <= result.changes
    assert result.objective >= result.best_bound
    # Progress speaks in changed person-blocks (the run page's message), never below the bound.
    assert reported and all(p.changes >= result.changes_at_least for p in reported)


@pytest.mark.django_db(transaction=True)
def test_planted_wishes_are_honoured(redis_conn):
    planted = planted_program_create(size="S", seed=5)
    wishes = planted_wishes_create(planted=planted, seed=5)
    assert wishes > 0
    run = _generate(planted.year, workers=1, seed=5)

    assert run.status == Status.SUCCEEDED, run.error
    summary = run.report["wishes"]
    assert summary["first"] >= 0.9 * summary["wished_blocks"]
    assert {row["person"] for row in summary["people"]} and all(
        row["wished_blocks"] == 3 for row in summary["people"]
    )
