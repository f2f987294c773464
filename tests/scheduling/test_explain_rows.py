"""Explanations name the rows behind a conflict: a resident's leave, the pinned assignments,
a resident's curriculum need (issue 15). One program, infeasible only through all three:

Lee (PGY-2) must take 1 ICU block; her parental leave covers blocks 1-2; ICU holds 1 resident
per block, and Ana and Bo are pinned to ICU in blocks 3 and 4. Every count the pre-checks make
adds up, so only the solver's explanation can say what clashes.
"""

from __future__ import annotations

import pytest

from residency.models import Absence, Assignment, RotationTemplate
from scheduling import services
from scheduling.explain import explain_groups, precheck
from scheduling.models import CurriculumRequirement, GenerationRun
from scheduling.problem import problem_load
from scheduling.solver import infeasible_groups
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)


@pytest.fixture
def clash(db):
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(4)]
    icu = RotationTemplateFactory(name="ICU", code="ICU", min_people=0, max_people=1,
                                  allowed_pgy_levels=[2])  # fmt: skip
    RotationTemplateFactory(name="Elective", code="EL", max_people=5, allowed_pgy_levels=[2])
    RotationTemplateFactory(name="Leave", code="LV", kind=RotationTemplate.Kind.LEAVE,
                            max_people=5, allowed_pgy_levels=[])  # fmt: skip
    CurriculumRequirement.objects.create(rotation=icu, pgy_level=2, min_blocks=1, max_blocks=1)
    people = {}
    for name in ("Lee", "Ana", "Bo"):
        people[name] = PersonFactory(name=name)
        ResidentYearFactory(person=people[name], academic_year=year, pgy_level=2)
    leave = AbsenceFactory(
        person=people["Lee"],
        kind=Absence.Kind.PARENTAL,
        start_date=blocks[0].start_date,
        end_date=blocks[1].end_date,
    )
    pins = [
        AssignmentFactory(person=people["Ana"], block=blocks[2], rotation=icu, pinned=True),
        AssignmentFactory(person=people["Bo"], block=blocks[3], rotation=icu, pinned=True),
    ]
    return {"year": year, "icu": icu, "people": people, "leave": leave, "pins": pins}


def _reasons(year) -> list[str]:
    problem = problem_load(academic_year=year)
    assert precheck(problem) == []  # the counts add up: only the solver sees the clash
    groups = infeasible_groups(problem)
    assert groups is not None
    return explain_groups(problem, groups)


def test_the_leave_is_named_with_its_person_kind_and_blocks(clash):
    reasons = _reasons(clash["year"])
    start = clash["leave"].start_date
    assert (
        f"Lee is on approved leave for blocks 1-2 (parental leave {start:%d %b} - "
        f"{clash['leave'].end_date:%d %b %Y})." in reasons
    ), reasons


def test_the_pinned_rows_are_named_with_person_and_block(clash):
    reasons = _reasons(clash["year"])
    assert "Pinned assignments fill ICU: Ana block 3, Bo block 4." in reasons, reasons


def test_the_curriculum_need_is_named_for_the_person(clash):
    reasons = _reasons(clash["year"])
    assert "Lee (PGY-2) must take 1 block of ICU." in reasons, reasons
    # Only Lee's need clashes: the others' needs are met by their pins and are not named.
    assert not any(r.startswith(("Ana (PGY-2)", "Bo (PGY-2)")) for r in reasons), reasons
    assert "ICU holds at most 1 residents in any block." in reasons


@pytest.mark.parametrize("relax", ["leave", "pin", "need"])
def test_relaxing_any_named_row_makes_the_program_feasible(clash, relax):
    # The named rows are the conflict, not bystanders: drop any one and a schedule exists.
    if relax == "leave":
        clash["leave"].delete()
    elif relax == "pin":
        Assignment.objects.filter(pk=clash["pins"][0].pk).update(pinned=False)
    else:
        CurriculumRequirement.objects.filter(rotation=clash["icu"]).update(min_blocks=0)
    assert infeasible_groups(problem_load(academic_year=clash["year"])) is None


@pytest.mark.django_db(transaction=True)
def test_a_run_on_the_clash_fails_naming_leave_pins_and_need(clash, redis_conn):
    run = services.generation_run_start(
        academic_year_id=clash["year"].pk, time_limit_seconds=5, workers=1, enqueue=False
    )
    services.generation_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == GenerationRun.Status.FAILED
    assert run.solver_status == "INFEASIBLE"
    assert "Lee is on approved leave for blocks 1-2" in run.error
    assert "Pinned assignments fill ICU: Ana block 3, Bo block 4." in run.error
    assert "Lee (PGY-2) must take 1 block of ICU." in run.error


@pytest.mark.django_db
def test_precheck_says_a_per_block_shortage_once_naming_the_blocks():
    year = AcademicYearFactory()
    for _ in range(13):
        BlockFactory(academic_year=year)
    RotationTemplateFactory(name="ICU", min_people=2, max_people=2, allowed_pgy_levels=[2])
    RotationTemplateFactory(name="Elective", max_people=5, allowed_pgy_levels=[1])
    ResidentYearFactory(person=PersonFactory(name="Ann"), academic_year=year, pgy_level=1)

    reasons = precheck(problem_load(academic_year=year))

    shortage = [r for r in reasons if r.startswith("ICU needs at least 2 residents")]
    assert shortage == [
        "ICU needs at least 2 residents in blocks 1-13, but only 0 (PGY-2, not on leave) can be "
        "there."
    ]
