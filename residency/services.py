"""Every write of the residency domain. Each service is one transaction and raises domain errors
(residency.errors) that the admin, the views and the API turn into messages and status codes."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from residency.errors import ConcurrentEdit, Gone, RuleViolation
from residency.locking import locked_transaction
from residency.models import AcademicYear, Assignment, Block, Person, RotationTemplate
from residency.selectors import placement_problems

# Fields of an Assignment that an edit may change.
ASSIGNMENT_EDITABLE_FIELDS = ("person", "block", "rotation", "role", "notes", "pinned")
# Changing any of these moves the person in the schedule, so the placement rules are re-checked.
PLACEMENT_FIELDS = ("person", "block", "rotation", "role")


def _raise_first(problems: list[tuple[str, str]]) -> None:
    if problems:
        field, message = problems[0]
        raise RuleViolation(message, field=field)


def _lock_block(block: Block) -> None:
    # Serialises placements into one block: two coordinators moving two people into the last
    # free place of a rotation would otherwise both pass the capacity count and overfill it.
    Block.objects.select_for_update(no_key=True).filter(pk=block.pk).exists()


@locked_transaction
def assignment_create(
    *,
    person: Person,
    block: Block,
    rotation: RotationTemplate,
    role: str = Assignment.Role.PRIMARY,
    notes: str = "",
    pinned: bool = False,
    by=None,
) -> Assignment:
    _lock_block(block)
    _raise_first(placement_problems(person=person, block=block, rotation=rotation, role=role))
    assignment = Assignment(
        person=person,
        block=block,
        rotation=rotation,
        role=role,
        notes=notes,
        pinned=pinned,
        updated_by=by,
    )
    assignment.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            assignment.save()
    except IntegrityError as error:
        # The unique constraint is the last word on double booking, whatever raced the check.
        raise RuleViolation(
            f"{person.name} is already booked in block {block.number}.", field="person"
        ) from error
    return assignment


@locked_transaction
def assignment_update(*, assignment_id: int, version: int, by=None, **changes: Any) -> Assignment:
    """Apply ``changes`` to the assignment if it is still at ``version``.

    The write is one conditional UPDATE (``WHERE version = <version read>``) that bumps the
    version, so of two editors who read the same version exactly one wins; the other gets
    ``ConcurrentEdit`` carrying the current row, or ``Gone`` if it was deleted.
    """
    unknown = set(changes) - set(ASSIGNMENT_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    current = _assignment_or_gone(assignment_id)
    if current.version != version:
        raise ConcurrentEdit(current)

    merged = {field: changes.get(field, getattr(current, field)) for field in PLACEMENT_FIELDS}
    if any(merged[field] != getattr(current, field) for field in PLACEMENT_FIELDS):
        _lock_block(merged["block"])
        _raise_first(placement_problems(**merged, ignore_assignment_ids=[assignment_id]))
    if "notes" in changes and len(changes["notes"]) > 2000:
        raise RuleViolation("Notes are limited to 2000 characters.", field="notes")

    values = {
        f"{field}_id" if field in ("person", "block", "rotation") else field: getattr(
            value, "pk", value
        )
        for field, value in changes.items()
    }
    try:
        with transaction.atomic():
            updated = Assignment.objects.filter(pk=assignment_id, version=version).update(
                **values,
                version=F("version") + 1,
                updated_by=by,
                updated_at=timezone.now(),
            )
    except IntegrityError as error:
        raise RuleViolation(
            f"{merged['person'].name} is already booked in block {merged['block'].number}.",
            field="person",
        ) from error
    if updated == 0:
        raise ConcurrentEdit(_assignment_or_gone(assignment_id))
    return Assignment.objects.select_related("person", "block", "rotation").get(pk=assignment_id)


@locked_transaction
def assignment_delete(*, assignment_id: int, version: int) -> None:
    deleted, _ = Assignment.objects.filter(pk=assignment_id, version=version).delete()
    if deleted == 0:
        raise ConcurrentEdit(_assignment_or_gone(assignment_id))


def _assignment_or_gone(assignment_id: int) -> Assignment:
    try:
        return Assignment.objects.select_related("person", "block", "rotation", "updated_by").get(
            pk=assignment_id
        )
    except Assignment.DoesNotExist:
        raise Gone("This assignment no longer exists: someone deleted it.") from None


@transaction.atomic
def blocks_create_for_year(
    *, academic_year: AcademicYear, length_days: int = 28, count: int | None = None
) -> list[Block]:
    """Cut the year into consecutive blocks of ``length_days`` (13 four-week blocks by default).

    The last block absorbs the days left over to the year's end (a 365-day year has one extra
    day after 13 x 28), unless ``count`` stops earlier. Refused if the year already has blocks.
    """
    if length_days < 1:
        raise RuleViolation("A block must be at least one day long.", field="length_days")
    if academic_year.blocks.exists():
        raise RuleViolation(
            f"{academic_year} already has blocks; delete them first to cut the year again."
        )
    blocks: list[Block] = []
    start = academic_year.start_date
    number = 1
    while start <= academic_year.end_date and (count is None or number <= count):
        end = min(start + datetime.timedelta(days=length_days - 1), academic_year.end_date)
        remaining = (academic_year.end_date - end).days
        if count is None and 0 < remaining < length_days:
            end = academic_year.end_date  # fold a short tail into the last block
        blocks.append(
            Block(academic_year=academic_year, number=number, start_date=start, end_date=end)
        )
        start = end + datetime.timedelta(days=1)
        number += 1
    for block in blocks:
        block.full_clean(validate_constraints=False)
    try:
        return Block.objects.bulk_create(blocks)
    except IntegrityError as error:
        raise RuleViolation(f"Could not create the blocks of {academic_year}: {error}") from error
