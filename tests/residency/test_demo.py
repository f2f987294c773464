import datetime
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from residency import selectors
from residency.demo import DEMO_PASSWORD, demo_program_seed
from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 11, 24)
MODELS = (AcademicYear, Block, Person, ResidentYear, RotationTemplate, Assignment, Absence)


def counts():
    from django.contrib.auth.models import User

    return {model.__name__: model.objects.count() for model in (*MODELS, User)}


def test_seed_demo_twice_creates_nothing_new(capsys):
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    out = capsys.readouterr().out
    assert "already complete, nothing changed" in out
    assert "http://127.0.0.1:8000/" in out and "coordinator" in out


def test_seed_demo_keeps_an_edited_schedule():
    summary = demo_program_seed(today=TODAY)
    edited = Assignment.objects.filter(block__academic_year=summary.year).first()
    Assignment.objects.filter(pk=edited.pk).update(notes="edited", version=5)
    again = demo_program_seed(today=TODAY)
    assert not any(again.created.values())
    edited.refresh_from_db()
    assert (edited.notes, edited.version) == ("edited", 5)


def test_demo_program_shape():
    summary = demo_program_seed(today=TODAY)
    year = summary.year
    assert (year.label, year.start_date, year.end_date) == (
        "2026-27",
        datetime.date(2026, 7, 1),
        datetime.date(2027, 6, 30),
    )
    assert year.blocks.count() == 13
    levels = Counter(
        ResidentYear.objects.filter(academic_year=year).values_list("pgy_level", flat=True)
    )
    assert levels == {1: 6, 2: 6, 3: 6}
    assert Person.objects.filter(kind=Person.Kind.FACULTY).count() == 12
    assert RotationTemplate.objects.count() == 10
    # Demo logins work and are linked.
    user = authenticate(username="coordinator", password=DEMO_PASSWORD)
    assert user is not None and selectors.is_coordinator(user)
    resident = authenticate(username="resident", password=DEMO_PASSWORD)
    assert resident.person.kind == Person.Kind.RESIDENT


def test_demo_schedule_obeys_the_placement_rules():
    year = demo_program_seed(today=TODAY).year
    blocks = list(year.blocks.order_by("number"))
    residents = Person.objects.filter(kind=Person.Kind.RESIDENT)
    assignments = list(
        Assignment.objects.filter(block__academic_year=year).select_related(
            "person", "block", "rotation"
        )
    )
    # Every resident exactly once in every block (the unique constraint makes "at most" certain).
    booked = Counter((a.person_id, a.block_id) for a in assignments if a.person.is_resident)
    assert set(booked) == {(r.pk, b.pk) for r in residents for b in blocks}

    # Each assignment passes the same checks a coordinator's edit would.
    for a in assignments:
        problems = selectors.placement_problems(
            person=a.person,
            block=a.block,
            rotation=a.rotation,
            role=a.role,
            ignore_assignment_ids=[a.pk],
        )
        assert problems == [], (a, problems)

    # Capacity minimums, and supervision where a rotation asks for it.
    for block in blocks:
        here = [a for a in assignments if a.block_id == block.pk]
        for rotation in RotationTemplate.objects.all():
            staff = [
                a
                for a in here
                if a.rotation_id == rotation.pk
                and selectors.counts_toward_capacity(person=a.person, rotation=rotation)
            ]
            assert rotation.min_people <= len(staff) <= rotation.max_people, (block, rotation)
            if rotation.supervision_ratio and staff:
                supervisors = [
                    a
                    for a in here
                    if a.rotation_id == rotation.pk and a.role == Assignment.Role.SUPERVISING
                ]
                assert len(supervisors) * rotation.supervision_ratio >= len(staff)


def test_approved_absences_put_residents_on_leave():
    year = demo_program_seed(today=TODAY).year
    leave = {
        (a.person.name, a.block.number)
        for a in Assignment.objects.filter(
            block__academic_year=year, rotation__kind=RotationTemplate.Kind.LEAVE
        ).select_related("person", "block")
    }
    assert leave == {
        ("Grace Kim", 4),
        ("Olivia Rossi", 7),
        ("Olivia Rossi", 8),
        ("Jamal Wright", 11),
    }
    # A conference week (under half a block) leaves the person on their rotation.
    chloe = Assignment.objects.get(
        person__name="Chloe Nguyen", block__academic_year=year, block__number=2
    )
    assert chloe.rotation.kind != RotationTemplate.Kind.LEAVE
