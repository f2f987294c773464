"""Infeasible input fails the run with the rules that cannot hold together, in plain words."""

from __future__ import annotations

import pytest

from residency.models import Assignment, RotationTemplate
from scheduling import services
from scheduling.explain import explain_groups, precheck
from scheduling.models import CurriculumRequirement, GenerationRun
from scheduling.problem import problem_load
from scheduling.solver import infeasible_groups
from tests.factories import (
    AcademicYearFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)


@pytest.mark.django_db(transaction=True)
def test_run_on_an_impossible_curriculum_fails_naming_the_rules(program_s, coordinator, run_worker):
    icu = RotationTemplate.objects.get(code__endswith="-ICU")
    RotationTemplate.objects.filter(pk=icu.pk).update(min_people=1, max_people=1)
    run = services.generation_run_start(academic_year_id=program_s.pk, requested_by=coordinator)
    run_worker()

    run.refresh_from_db()
    assert run.status == GenerationRun.Status.FAILED
    assert run.solver_status == "PRECHECK"
    assert run.error.startswith("No schedule can meet these rules together:")
    assert (
        "PGY-2 needs 2 Intensive care blocks each and there are 6 PGY-2s; PGY-3 needs "
        "1 Intensive care block each and there are 6 PGY-3s (18 resident-blocks), but "
        "Intensive care holds 1 person per block: 13 places in 13 blocks."
    ) in run.error
    assert not Assignment.objects.filter(block__academic_year=program_s).exists()


@pytest.mark.django_db
def test_conflict_the_counts_miss_is_named_by_the_solver():
    # Two residents, two blocks, two heavy rotations that each need one of them every block,
    # and at most one heavy block in a row: every count adds up, the combination cannot.
    year = AcademicYearFactory()
    BlockFactory(academic_year=year)
    BlockFactory(academic_year=year)
    for name in ("Wards", "Nights"):
        RotationTemplateFactory(
            name=name, heavy=True, min_people=1, max_people=1, allowed_pgy_levels=[1]
        )
    RotationTemplateFactory(name="Elective", min_people=0, max_people=2, allowed_pgy_levels=[1])
    for _ in range(2):
        ResidentYearFactory(person=PersonFactory(), academic_year=year, pgy_level=1)
    problem = problem_load(academic_year=year, max_consecutive_heavy=1)

    assert precheck(problem) == []
    reasons = explain_groups(problem, infeasible_groups(problem))
    # The heavy-streak rule is named per resident (issue 15: explanations name the people).
    assert any(
        r.startswith("Person ") and "may take no more than 1 heavy blocks (R" in r for r in reasons
    ), reasons
    assert any(r.endswith("needs at least 1 residents in every block.") for r in reasons)


@pytest.mark.django_db
def test_prechecks_name_missing_people_and_impossible_requirements():
    year = AcademicYearFactory()
    BlockFactory(academic_year=year)
    icu = RotationTemplateFactory(name="ICU", min_people=2, max_people=2, allowed_pgy_levels=[2])
    RotationTemplateFactory(name="Elective", max_people=5, allowed_pgy_levels=[1])
    CurriculumRequirement.objects.create(rotation=icu, pgy_level=1, min_blocks=1)
    ResidentYearFactory(person=PersonFactory(name="Ann"), academic_year=year, pgy_level=1)

    reasons = precheck(problem_load(academic_year=year))

    assert (
        "ICU needs at least 2 residents in block 1, but only 0 (PGY-2, not on leave) can be there."
        in reasons
    )
    assert "PGY-1 residents need 1 block of ICU, but it is open to PGY-2." in reasons
