"""Residents' wishes for the coming year (docs/scheduling.md, "Preferences"): writes.

A resident enters, before the coordinator's deadline, up to three ranked rotation wishes per
block and vacation requests (an Absence in status "requested", which the coordinator approves
or denies as usual). Generation weighs both (scheduling/solver.py, ``_wish_terms``).

Kept apart from scheduling/services.py (the generation run's lifecycle) by concern.
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from residency.errors import RuleViolation
from residency.locking import lock_rows, locked_transaction
from residency.models import Absence, AcademicYear, Block, Person, ResidentYear, RotationTemplate
from scheduling.models import PreferenceWindow, RotationWish


def preference_window_set(
    *, academic_year_id: int, deadline: datetime.datetime, note: str = ""
) -> PreferenceWindow:
    window, _ = PreferenceWindow.objects.update_or_create(
        academic_year_id=academic_year_id, defaults={"deadline": deadline, "note": note}
    )
    return window


def _open_window(*, academic_year: AcademicYear) -> PreferenceWindow:
    window = PreferenceWindow.objects.filter(academic_year=academic_year).first()
    if window is None:
        raise RuleViolation(f"Wishes for {academic_year} are not open.")
    if timezone.now() > window.deadline:
        raise RuleViolation(
            f"The deadline for wishes for {academic_year} has passed "
            f"({timezone.localtime(window.deadline):%Y-%m-%d %H:%M})."
        )
    return window


@locked_transaction
def rotation_wish_add(
    *, person: Person, block_id: int, rotation_id: int, rank: int
) -> RotationWish:
    block = Block.objects.select_related("academic_year").filter(pk=block_id).first()
    if block is None:
        raise RuleViolation("No such block.", "block")
    rotation = RotationTemplate.objects.filter(pk=rotation_id, active=True).first()
    if rotation is None:
        raise RuleViolation("No such rotation.", "rotation")
    if not 1 <= rank <= RotationWish.MAX_RANK:
        raise RuleViolation(f"Rank a wish 1 to {RotationWish.MAX_RANK}.", "rank")
    pgy = (
        ResidentYear.objects.filter(person=person, academic_year=block.academic_year)
        .values_list("pgy_level", flat=True)
        .first()
    )
    if pgy is None:
        raise RuleViolation(f"You are not a resident in {block.academic_year}.", "block")
    if (
        rotation.staffed_by != RotationTemplate.StaffedBy.RESIDENTS
        or rotation.kind == RotationTemplate.Kind.LEAVE
        or pgy not in (rotation.allowed_pgy_levels or [])
    ):
        raise RuleViolation(f"{rotation.name} is not open to PGY-{pgy} residents.", "rotation")
    # The person row: two wishes sent at once (two tabs) are judged one after the other, so
    # the second sees the first's rank rather than failing on the unique index.
    lock_rows(Person.objects.filter(pk=person.pk))
    _open_window(academic_year=block.academic_year)
    taken = RotationWish.objects.filter(person=person, block=block)
    if taken.filter(rank=rank).exists():
        raise RuleViolation(
            f"You already have a choice #{rank} for block {block.number}; remove it first.",
            "rank",
        )
    if taken.filter(rotation=rotation).exists():
        raise RuleViolation(
            f"You already wish for {rotation.name} in block {block.number}.", "rotation"
        )
    try:
        with transaction.atomic():
            return RotationWish.objects.create(
                person=person, block=block, rotation=rotation, rank=rank
            )
    except IntegrityError:  # the unique indexes: the database's last word
        raise RuleViolation("That wish collides with one you already have.", "rank") from None


def rotation_wish_remove(*, person: Person, wish_id: int) -> None:
    wish = (
        RotationWish.objects.select_related("block__academic_year")
        .filter(pk=wish_id, person=person)
        .first()
    )
    if wish is None:
        return  # already gone (another tab): nothing to do
    _open_window(academic_year=wish.block.academic_year)
    wish.delete()


def vacation_request_add(
    *, person: Person, academic_year: AcademicYear, start_date: datetime.date,
    end_date: datetime.date, note: str = "",
) -> Absence:  # fmt: skip
    """A requested (not yet approved) vacation: generation keeps the blocks it touches free of
    heavy rotations where it can; the coordinator approves or denies it as any absence."""
    if end_date < start_date:
        raise RuleViolation("The end date must not be before the start date.", "end_date")
    if start_date < academic_year.start_date or end_date > academic_year.end_date:
        raise RuleViolation(f"Pick dates inside {academic_year}.", "start_date")
    if not ResidentYear.objects.filter(person=person, academic_year=academic_year).exists():
        raise RuleViolation(f"You are not a resident in {academic_year}.")
    _open_window(academic_year=academic_year)
    return Absence.objects.create(
        person=person,
        start_date=start_date,
        end_date=end_date,
        kind=Absence.Kind.VACATION,
        status=Absence.Status.REQUESTED,
        note=note,
    )
