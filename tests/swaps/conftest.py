"""A small program for swap tests: one academic year (2040-41, far in the future so blocks have
not started), three four-week blocks, two rotations open to PGY-1..3, and helpers to add people
with logins and assignments."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.db import transaction

from residency.models import Assignment, Person
from tests.concurrency import Outcome, join_all, run_in_thread
from tests.factories import (
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)

WAIT = 20  # seconds: an upper bound for events, never a sleep


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every person here has a login; PBKDF2 would spend most of the suite hashing passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Program:
    year: object
    blocks: list
    ward: object
    clinic: object

    def resident(self, name: str, pgy: int = 1) -> Person:
        person = PersonFactory(name=name, with_login=True)
        ResidentYearFactory(person=person, academic_year=self.year, pgy_level=pgy)
        return person

    def faculty(self, name: str) -> Person:
        return PersonFactory(name=name, faculty=True, with_login=True)

    def assign(self, person: Person, block: int, rotation=None, **kwargs) -> Assignment:
        return AssignmentFactory(
            person=person,
            block=self.blocks[block - 1],
            rotation=rotation or self.ward,
            **kwargs,
        )


@pytest.fixture
def program(db) -> Program:
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(3)]
    ward = RotationTemplateFactory(name="Ward", code="WARD")
    clinic = RotationTemplateFactory(name="Clinic", code="CLIN")
    return Program(year=year, blocks=blocks, ward=ward, clinic=clinic)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


@contextmanager
def held_in_transaction(work) -> Iterator[None]:
    """Run ``work`` in a transaction in another thread (its own connection) and keep that
    transaction open, with whatever locks ``work`` took, until the block exits."""
    ready, release = threading.Event(), threading.Event()
    outcome = Outcome()

    def hold() -> None:
        try:
            with transaction.atomic():
                work()
                ready.set()
                assert release.wait(WAIT), "the holder was never released"
        finally:
            ready.set()

    thread = run_in_thread(hold, outcome)
    assert ready.wait(WAIT), "the holder never took its locks"
    try:
        if not thread.is_alive():  # work() failed: report it rather than test nothing
            join_all([thread])
            raise AssertionError(f"the holder failed: {outcome.error!r}")
        yield
    finally:
        release.set()
        join_all([thread])
    assert outcome.error is None, outcome.error


def hold_rows(*assignments: Assignment):
    """Hold FOR UPDATE locks on these assignments in another connection."""
    ids = [a.pk for a in assignments]
    return held_in_transaction(
        lambda: list(Assignment.objects.filter(pk__in=ids).order_by("pk").select_for_update())
    )
