"""Every write of the residency domain. Each service is one transaction and raises domain errors
(residency.errors) that the admin, the views and the API turn into messages and status codes."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from residency.errors import ConcurrentEdit, Gone, RuleViolation
from residency.history import SOURCE_BULK_MOVE, history_context
from residency.hooks import BlockChange, block_changes_check
from residency.locking import lock_rows, locked_transaction, schedule_lock_shared
from residency.models import (
    AcademicYear,
    Assignment,
    Block,
    Person,
    RotationTemplate,
    VersionedModel,
)
from residency.notifications import assignment_change_notify, schedule_changes_notify
from residency.selectors import counts_toward_capacity, placement_problems

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
    # What the daily layer holds for the person in the block must still hold (residency.hooks).
    block_changes_check(
        [BlockChange(person.pk, block.start_date, block.end_date, None, rotation.pk)]
    )
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
    assignment_change_notify(before=None, after=assignment, by=by)
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
    if any(merged[field] != getattr(current, field) for field in PLACEMENT_FIELDS):
        # After the row's UPDATE (its lock), like every path: block, assignments, then people
        # (residency.hooks guards lock the people). A refusal rolls the UPDATE back.
        block_changes_check(_assignment_moves(current, merged))
    after = Assignment.objects.select_related("person", "block", "rotation").get(pk=assignment_id)
    assignment_change_notify(before=current, after=after, by=by)
    return after


def _assignment_moves(current: Assignment, merged: dict[str, Any]) -> list[BlockChange]:
    """What each person holds in the blocks an edit touches, afterwards."""
    block, person = merged["block"], merged["person"]
    same_place = person.pk == current.person_id and block.pk == current.block_id
    previous = current.rotation_id if same_place else None
    changes = [
        BlockChange(person.pk, block.start_date, block.end_date, previous, merged["rotation"].pk)
    ]
    if not same_place:
        old = current.block
        changes.append(
            BlockChange(current.person_id, old.start_date, old.end_date, current.rotation_id, None)
        )
    return changes


@locked_transaction
def assignment_delete(*, assignment_id: int, version: int, by=None) -> None:
    # Lock the row at the version read, then delete it: Django's delete collector SELECTs the
    # rows first (swap requests point at assignments with SET_NULL) and deletes them by primary
    # key, so ``filter(version=...).delete()`` alone would also delete an edit committed in
    # between. FOR UPDATE re-checks the version after waiting.
    row = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("block")
        .filter(pk=assignment_id, version=version)
        .first()
    )
    if row is None:
        raise ConcurrentEdit(_assignment_or_gone(assignment_id))
    block_changes_check(
        [
            BlockChange(
                row.person_id, row.block.start_date, row.block.end_date, row.rotation_id, None
            )
        ]
    )
    Assignment.objects.filter(pk=assignment_id).delete()
    assignment_change_notify(before=row, after=None, by=by)


def _assignment_or_gone(assignment_id: int) -> Assignment:
    try:
        return Assignment.objects.select_related("person", "block", "rotation", "updated_by").get(
            pk=assignment_id
        )
    except Assignment.DoesNotExist:
        raise Gone("This assignment no longer exists: someone deleted it.") from None


# --- Every other versioned model (issue 14) ----------------------------------------------------


@locked_transaction
def versioned_update(*, instance: VersionedModel, version: int, fields: list[str]) -> int:
    """Write ``fields`` of ``instance`` (already validated) if the row is still at ``version``.

    The edit service of every ``VersionedModel``: one conditional UPDATE that bumps the version,
    as ``assignment_update`` does for assignments, so of two editors who read the same version
    exactly one wins; the other gets ``ConcurrentEdit`` carrying the row as it is now (``Gone``
    if it was deleted). Only ``fields`` are written: columns the editor never saw (a year's
    generation fence) keep whatever another writer put there. Returns the new version.
    """
    model = type(instance)
    values = {model._meta.get_field(name).attname: None for name in fields}
    values = {attname: getattr(instance, attname) for attname in values}
    try:
        with transaction.atomic():
            written = model.objects.filter(pk=instance.pk, version=version).update(
                **values, version=F("version") + 1
            )
    except IntegrityError as error:
        raise RuleViolation(f"Not saved: {error}") from error
    if written == 0:
        raise ConcurrentEdit(versioned_current(model=model, pk=instance.pk))
    instance.version = version + 1
    return instance.version


@locked_transaction
def versioned_delete(*, instance: VersionedModel, version: int) -> None:
    """Delete the row (and what cascades from it) only if it is still at ``version``: a
    coordinator who confirmed the deletion of what they saw never deletes a newer edit."""
    model = type(instance)
    deleted, _ = model.objects.filter(pk=instance.pk, version=version).delete()
    if deleted == 0:
        raise ConcurrentEdit(versioned_current(model=model, pk=instance.pk))


def versioned_current(*, model: type[VersionedModel], pk: Any) -> VersionedModel:
    """The row as it is now, or ``Gone``."""
    current = model.objects.filter(pk=pk).first()
    if current is None:
        raise Gone(f"This {model._meta.verbose_name} no longer exists: someone deleted it.")
    return current


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


# --- Bulk reassignment (issue 3) ----------------------------------------------------------------


@locked_transaction
def assignments_bulk_reassign(
    *,
    block: Block,
    from_rotation: RotationTemplate,
    to_rotation: RotationTemplate,
    by=None,
    after_each_write: Callable[[Assignment], None] | None = None,
) -> list[Assignment]:
    """Move everyone on ``from_rotation`` in ``block`` to ``to_rotation``: all of them or none.

    Pessimistic, because it reads several rows, decides, and writes them all: under the lock the
    set of people cannot change and no single edit can slip in between the check and the write.
    ``after_each_write`` is called inside the transaction after each row is written (tests use it
    to hold the transaction open half-way; it must not touch the database).
    """
    if from_rotation.pk == to_rotation.pk:
        raise RuleViolation("Choose a different rotation to move people to.", field="to_rotation")
    with history_context(source=SOURCE_BULK_MOVE, by=by):
        return _bulk_reassign(
            block=block,
            from_rotation=from_rotation,
            to_rotation=to_rotation,
            by=by,
            after_each_write=after_each_write,
        )


def _bulk_reassign(*, block, from_rotation, to_rotation, by, after_each_write) -> list[Assignment]:
    # Generation's write phase replaces the year's rows; a bulk move must not interleave with it.
    schedule_lock_shared(
        academic_year_id=block.academic_year_id, year_label=str(block.academic_year)
    )
    # Same order as assignment_create/update (block, then assignment rows): a concurrent single
    # edit placing someone into ``to_rotation`` queues behind us instead of overfilling it.
    _lock_block(block)
    moving = lock_rows(
        Assignment.objects.filter(block=block, rotation=from_rotation).select_related("person")
    )
    if not moving:
        raise RuleViolation(
            f"Nobody is on {from_rotation.name} in block {block.number}; nothing to move.",
            field="from_rotation",
        )
    moving_ids = [a.pk for a in moving]
    for assignment in moving:
        problems = placement_problems(
            person=assignment.person,
            block=block,
            rotation=to_rotation,
            role=assignment.role,
            ignore_assignment_ids=moving_ids,
        )
        if problems:
            raise RuleViolation(f"Nobody was moved: {problems[0][1]}", field="to_rotation")
    block_changes_check(
        BlockChange(a.person_id, block.start_date, block.end_date, a.rotation_id, to_rotation.pk)
        for a in moving
    )
    # placement_problems counts one newcomer at a time; the group must also fit as a whole.
    newcomers = sum(counts_toward_capacity(person=a.person, rotation=to_rotation) for a in moving)
    if newcomers:
        kind = (
            Person.Kind.RESIDENT
            if to_rotation.staffed_by == RotationTemplate.StaffedBy.RESIDENTS
            else Person.Kind.FACULTY
        )
        taken = Assignment.objects.filter(
            block=block, rotation=to_rotation, person__kind=kind
        ).count()
        if taken + newcomers > to_rotation.max_people:
            raise RuleViolation(
                f"Nobody was moved: {to_rotation.name} has {to_rotation.max_people - taken} "
                f"free place(s) in block {block.number}, and {newcomers} people would move.",
                field="to_rotation",
            )

    now = timezone.now()
    for assignment in moving:
        # Row by row (a rotation holds a handful of people in a block), each a compare-and-swap
        # like every other edit. The rows are locked, so the version cannot have moved since we
        # read it; a miss would be a locking bug, not a conflict to report.
        written = Assignment.objects.filter(pk=assignment.pk, version=assignment.version).update(
            rotation_id=to_rotation.pk, version=F("version") + 1, updated_by=by, updated_at=now
        )
        if written != 1:
            raise AssertionError(f"locked assignment {assignment.pk} changed under its lock")
        if after_each_write is not None:
            after_each_write(assignment)
    schedule_changes_notify(
        before={(a.person_id, block.pk): from_rotation.pk for a in moving},
        after={(a.person_id, block.pk): to_rotation.pk for a in moving},
        what="A coordinator's bulk move",
    )
    return list(
        Assignment.objects.filter(pk__in=moving_ids)
        .select_related("person", "block", "rotation")
        .order_by("person__name")
    )


# --- Calendar feed tokens (issue 11) ------------------------------------------------------------


def calendar_token_regenerate(*, person: Person) -> str:
    """Give ``person`` a new random calendar feed token, which revokes the old feed URL.

    One UPDATE: two concurrent regenerations each write their own token and the last one wins,
    which is what either user asked for (the old URL stops working)."""
    token = secrets.token_urlsafe(32)
    Person.objects.filter(pk=person.pk).update(calendar_token=token)
    person.calendar_token = token
    return token
