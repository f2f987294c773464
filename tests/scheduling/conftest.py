from __future__ import annotations

import threading
from dataclasses import dataclass

import django_rq
import pytest
from rq import SimpleWorker

from residency.models import Assignment, Person
from scheduling import services, shift_runs
from scheduling.synthetic import synthetic_program_create
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)
from tests.scheduling import shift_standin
from tests.scheduling.shift_ward import Ward, ward_create


@pytest.fixture
def program_s(db):
    """The synthetic S program (18 residents, 12 faculty, 10 rotations, 13 blocks)."""
    return synthetic_program_create(size="S", seed=1)


@pytest.fixture
def run_worker(redis_conn):
    """Run a real rq worker in burst mode in this (main) thread: it works off every queued job
    (SimpleWorker: in-process, so test hooks apply) and returns when the queue is empty."""

    def work() -> None:
        queue = django_rq.get_queue("default")
        SimpleWorker([queue], connection=queue.connection).work(burst=True)

    return work


@pytest.fixture(autouse=True)
def _clear_hooks():
    yield
    services.hooks.after_progress_write = None
    services.hooks.in_write_phase = None
    services.hooks.in_publish = None
    services.hooks.on_solution = None


@dataclass
class Tiny:
    """Three blocks; Wards takes exactly one PGY-1 per block; Ann and Ben are PGY-1, Cal PGY-2.
    Ann is on Wards all year; Ann then gets approved leave for block 2, so any run must change
    exactly two rows: Ann's block 2 (Wards -> Leave) and Ben's (-> Wards, nobody else may)."""

    year: object
    blocks: list
    wards: object
    elective: object
    clinic: object
    leave: object
    ann: Person
    ben: Person
    cal: Person

    def row(self, person: Person, number: int) -> Assignment:
        return Assignment.objects.select_related("rotation").get(
            person=person, block=self.blocks[number - 1]
        )

    def rows(self) -> list[tuple]:
        """Everything a write could touch, per row: compare before/after to prove untouched."""
        return sorted(
            Assignment.objects.filter(block__academic_year=self.year).values_list(
                "pk", "person_id", "block_id", "rotation_id", "role", "version", "notes",
                "updated_by_id", "updated_at", "generation_run_id",
            )
        )  # fmt: skip


@pytest.fixture
def tiny(db) -> Tiny:
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(3)]
    wards = RotationTemplateFactory(
        name="Wards", code="WARD", kind="inpatient", min_people=1, max_people=1,
        allowed_pgy_levels=[1],
    )  # fmt: skip
    elective = RotationTemplateFactory(name="Elective", code="ELEC", allowed_pgy_levels=[1, 2])
    clinic = RotationTemplateFactory(
        name="Clinic", code="CLIN", kind="clinic", allowed_pgy_levels=[1, 2]
    )
    leave = RotationTemplateFactory(name="Leave", code="LEAVE", kind="leave")
    people = []
    for name, pgy in (("Ann", 1), ("Ben", 1), ("Cal", 2)):
        person = PersonFactory(name=name, with_login=True)
        ResidentYearFactory(person=person, academic_year=year, pgy_level=pgy)
        people.append(person)
    ann, ben, cal = people
    for block in blocks:
        AssignmentFactory(person=ann, block=block, rotation=wards)
        AssignmentFactory(person=ben, block=block, rotation=elective)
        AssignmentFactory(person=cal, block=block, rotation=clinic)
    AbsenceFactory(person=ann, start_date=blocks[1].start_date, end_date=blocks[1].end_date)
    return Tiny(year, blocks, wards, elective, clinic, leave, ann, ben, cal)


@pytest.fixture
def held_solve():
    """Hold the next solve at its first solution (its snapshot has been read) until released.
    Only the first solve is held (an automatic run that solves again is not)."""
    read, release = threading.Event(), threading.Event()

    def hold(run_id: int) -> None:
        if read.is_set():
            return
        read.set()
        assert release.wait(60), "the held solve was never released"

    services.hooks.on_solution = hold
    yield read, release
    release.set()


@pytest.fixture
def standin(monkeypatch):
    """The shift-run machinery with the stand-in reader (tests/scheduling/shift_standin.py)
    instead of scheduling/shift_problem.py. The files that test it use it for every test
    (``pytestmark = pytest.mark.usefixtures("standin")``)."""
    monkeypatch.setattr(shift_runs, "_reader", lambda: shift_standin)
    yield shift_standin
    shift_standin.override.clear()


@pytest.fixture
def ward(db) -> Ward:
    """A week of night call for the stand-in shift-run tests (tests/scheduling/shift_ward.py).
    test_shift_runs_real.py has its own, read by the real reader."""
    return ward_create()
