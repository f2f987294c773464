"""Every write of the daily layer. Each service is one transaction and raises domain errors
(residency.errors, shifts.errors) that the admin, the pages and the API turn into messages and
status codes.

Lock order, everywhere in this app (and in residency's block-edit guard): the Person rows in
primary-key order (``lock_people``), then the ShiftType rows in primary-key order, then shifts.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

import holidays as holidays_package
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from residency.errors import ConcurrentEdit, Gone, RuleViolation
from residency.hooks import BlockChange
from residency.locking import lock_people, locked_transaction
from residency.models import Person
from residency.selectors import is_coordinator
from shifts import dutyhours as dutyhours_module
from shifts import selectors
from shifts.dutyhours import DutyHourProblem, PersonWork
from shifts.errors import DutyHourViolation
from shifts.formatting import fmt_day
from shifts.models import DutyHourOverride, DutyHourSettings, Holiday, Shift, ShiftType, shift_times

SHIFT_EDITABLE_FIELDS = ("person", "date", "shift_type", "notes", "pinned")
PLACEMENT_FIELDS = ("person", "date", "shift_type")


def _raise_first(problems: list[tuple[str, str]]) -> None:
    if problems:
        field, message = problems[0]
        raise RuleViolation(message, field=field)


def lock_shift_types(type_ids: Iterable[int]) -> None:
    # Coverage maximum spans rows (every shift of a type on a date): two coordinators filling the
    # last slot would both count one free place and both insert. The type row is the owner of
    # that count; holding it (no-key, so inserting shifts that reference it is not blocked)
    # serialises additions of that type.
    ids = sorted(set(type_ids))
    list(
        ShiftType.objects.filter(pk__in=ids)
        .order_by("pk")
        .select_for_update(no_key=True, of=("self",))
        .values_list("pk", flat=True)
    )


def _placement_problems(
    *, person: Person, shift_type: ShiftType, day: datetime.date, ignore_shift_id: int | None
) -> list[tuple[str, str]]:
    """Eligibility, absence, overlap and coverage maximum (duty hours are judged separately,
    because a coordinator may override them and nothing else)."""
    problems = selectors.shift_eligibility_problems(person=person, shift_type=shift_type, day=day)
    starts_at, ends_at = shift_times(date=day, shift_type=shift_type)
    overlapping = (
        Shift.objects.filter(person=person, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .exclude(pk=ignore_shift_id)
        .select_related("shift_type")
        .first()
    )
    if overlapping is not None:
        problems.append(
            (
                "date",
                f"{person.name} already has {overlapping.shift_type.name} on "
                f"{fmt_day(overlapping.date)}, which overlaps this shift.",
            )
        )
    rule = selectors.coverage_rule_for(shift_type=shift_type, day=day)
    if rule is not None:
        taken = (
            Shift.objects.filter(shift_type=shift_type, date=day)
            .exclude(pk=ignore_shift_id)
            .count()
        )
        if taken >= rule.max_people:
            problems.append(
                (
                    "shift_type",
                    f"{shift_type.name} on {fmt_day(day)} is full "
                    f"({taken} of {rule.max_people} places taken).",
                )
            )
    return problems


def new_duty_hour_violations(
    *,
    person_id: int,
    day: datetime.date,
    add: list[tuple[ShiftType, datetime.date]],
    remove_shift_ids: Iterable[int] = (),
) -> list[DutyHourProblem]:
    """The duty-hour violations a change would create or make worse for one person: the rules
    as they would be after the change, minus those already broken in exactly the same way
    before it (an earlier override does not block every later edit of that month)."""
    remove = list(remove_shift_ids)
    end = max(d for _, d in add) + datetime.timedelta(days=2) if add else day
    start = min([day, *(d for _, d in add)]) - datetime.timedelta(days=1)
    before, after = selectors.duty_hour_problems_of_change(
        person_id=person_id,
        start=start,
        end=end,
        without_shift_ids=remove,
        with_shifts=[selectors.shift_type_work(t, d) for t, d in add],
    )
    known = {p.message for p in before if p.is_violation}
    return [p for p in after if p.is_violation and p.message not in known]


def _judge_duty_hours(
    problems: list[DutyHourProblem], *, by, override_reason: str
) -> list[DutyHourProblem]:
    """Refuse with the numbers, unless a coordinator gave a written reason."""
    if not problems:
        return []
    if override_reason.strip() and by is not None and is_coordinator(by):
        return problems
    raise DutyHourViolation(problems)


def _record_override(
    *, shift: Shift, problems: list[DutyHourProblem], reason: str, by
) -> DutyHourOverride | None:
    if not problems:
        return None
    return DutyHourOverride.objects.create(
        shift=shift,
        person_id=shift.person_id,
        date=shift.date,
        shift_type_id=shift.shift_type_id,
        reason=reason.strip()[:2000],
        problems="\n".join(p.message for p in problems),
        created_by=by,
    )


@locked_transaction
def shift_create(
    *,
    person: Person,
    shift_type: ShiftType,
    date: datetime.date,
    notes: str = "",
    pinned: bool = False,
    by=None,
    override_reason: str = "",
) -> Shift:
    """Give ``person`` a shift, after every rule; duty-hour rules may be overridden by a
    coordinator with a written reason (recorded)."""
    # Write skew: duty hours span the person's rows over four weeks, so two additions for one
    # person (a coordinator's call on the 3rd, a swap's shift on the 5th) could each pass alone
    # and together break the 80-hour rule. Serialise on the person row, then check.
    lock_people([person.pk])
    lock_shift_types([shift_type.pk])
    _raise_first(
        _placement_problems(person=person, shift_type=shift_type, day=date, ignore_shift_id=None)
    )
    if len(notes) > 2000:
        raise RuleViolation("Notes are limited to 2000 characters.", field="notes")
    problems = _judge_duty_hours(
        new_duty_hour_violations(person_id=person.pk, day=date, add=[(shift_type, date)]),
        by=by,
        override_reason=override_reason,
    )
    shift = Shift(
        person=person,
        shift_type=shift_type,
        date=date,
        notes=notes,
        pinned=pinned,
        updated_by=by,
    )
    try:
        with transaction.atomic():
            shift.save()
    except IntegrityError as error:
        # The constraints are the last word on double booking and overlap.
        raise RuleViolation(
            f"{person.name} already has a shift overlapping {shift_type.name} on {fmt_day(date)}.",
            field="date",
        ) from error
    _record_override(shift=shift, problems=problems, reason=override_reason, by=by)
    return shift


@locked_transaction
def shift_update(
    *, shift_id: int, version: int, by=None, override_reason: str = "", **changes: Any
) -> Shift:
    """Apply ``changes`` if the shift is still at ``version`` (one conditional UPDATE that bumps
    it, as ``assignment_update``): of two editors who read one version exactly one wins, the
    other gets ``ConcurrentEdit`` with the current row, or ``Gone``."""
    unknown = set(changes) - set(SHIFT_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    current = _shift_or_gone(shift_id)
    if current.version != version:
        raise ConcurrentEdit(current)
    merged = {f: changes.get(f, getattr(current, f)) for f in PLACEMENT_FIELDS}
    problems: list[DutyHourProblem] = []
    moved = any(merged[f] != getattr(current, f) for f in PLACEMENT_FIELDS)
    if moved:
        # Same order as shift_create (people, then types): see the write-skew note there.
        lock_people([current.person_id, merged["person"].pk])
        lock_shift_types([current.shift_type_id, merged["shift_type"].pk])
        current = _shift_or_gone(shift_id)
        if current.version != version:
            raise ConcurrentEdit(current)
        _raise_first(
            _placement_problems(
                person=merged["person"],
                shift_type=merged["shift_type"],
                day=merged["date"],
                ignore_shift_id=shift_id,
            )
        )
        problems = _judge_duty_hours(
            new_duty_hour_violations(
                person_id=merged["person"].pk,
                day=merged["date"],
                add=[(merged["shift_type"], merged["date"])],
                remove_shift_ids=[shift_id],
            ),
            by=by,
            override_reason=override_reason,
        )
    if len(changes.get("notes", "")) > 2000:
        raise RuleViolation("Notes are limited to 2000 characters.", field="notes")
    values = {
        f"{name}_id" if name in ("person", "shift_type") else name: getattr(value, "pk", value)
        for name, value in changes.items()
    }
    starts_at, ends_at = shift_times(date=merged["date"], shift_type=merged["shift_type"])
    try:
        with transaction.atomic():
            updated = Shift.objects.filter(pk=shift_id, version=version).update(
                **values,
                starts_at=starts_at,
                ends_at=ends_at,
                version=F("version") + 1,
                updated_by=by,
                updated_at=timezone.now(),
            )
    except IntegrityError as error:
        raise RuleViolation(
            f"{merged['person'].name} already has a shift overlapping "
            f"{merged['shift_type'].name} on {fmt_day(merged['date'])}.",
            field="date",
        ) from error
    if updated == 0:
        raise ConcurrentEdit(_shift_or_gone(shift_id))
    shift = _shift_or_gone(shift_id)
    _record_override(shift=shift, problems=problems, reason=override_reason, by=by)
    return shift


@locked_transaction
def shift_delete(*, shift_id: int, version: int) -> None:
    """Remove the shift if it is still at ``version``. Removing work never breaks a duty-hour
    rule; a slot left below its coverage minimum shows as uncovered on the calendar."""
    # Lock the row at the version read, then delete it. A bare ``filter(version=...).delete()``
    # is not conditional here: Django's collector first SELECTs the rows (overrides point at
    # shifts with SET_NULL) and then deletes them by primary key, so an edit committed between
    # the two would be deleted anyway. FOR UPDATE re-checks the version after waiting.
    if not Shift.objects.select_for_update().filter(pk=shift_id, version=version).exists():
        raise ConcurrentEdit(_shift_or_gone(shift_id))
    Shift.objects.filter(pk=shift_id).delete()


def _shift_or_gone(shift_id: int) -> Shift:
    try:
        return Shift.objects.select_related("person", "shift_type", "updated_by").get(pk=shift_id)
    except Shift.DoesNotExist:
        raise Gone("This shift no longer exists: someone deleted it.") from None


@transaction.atomic
def holidays_seed(*, year: int) -> list[Holiday]:
    """Add the program country's public holidays of ``year`` (from the ``holidays`` package) to
    the holiday list; dates already listed (perhaps renamed by hand) are kept as they are."""
    settings_row = DutyHourSettings.objects.filter(pk=1).first() or DutyHourSettings()
    try:
        calendar = holidays_package.country_holidays(
            settings_row.holiday_country,
            subdiv=settings_row.holiday_subdivision or None,
            years=year,
        )
    except NotImplementedError as error:
        raise RuleViolation(
            f"No holiday calendar for country {settings_row.holiday_country!r}.",
            field="holiday_country",
        ) from error
    existing = set(Holiday.objects.filter(date__year=year).values_list("date", flat=True))
    new = [
        Holiday(date=day, name=str(name)[:120])
        for day, name in sorted(calendar.items())
        if day not in existing
    ]
    return Holiday.objects.bulk_create(new)


# --- The two layers (block schedule -> shifts) --------------------------------------------------


def block_changes_guard(changes: list[BlockChange]) -> list[str]:
    """What a change to the block schedule would break in the daily layer, in plain words: shifts
    the person could no longer hold (their type is taken by people on given rotations), and
    duty-hour rules their new rotation's usual hours would break together with their shifts.

    Registered with residency.hooks (shifts/apps.py), so every write of the block schedule calls
    it under its locks. Refuse, not flag: the block change is refused naming the shifts; the
    coordinator moves or removes those shifts first (docs/shifts.md).
    """
    by_person: dict[int, list[BlockChange]] = {}
    for change in changes:
        by_person.setdefault(change.person_id, []).append(change)
    if not by_person:
        return []
    # Write skew with shift_create: a shift added for this person while their rotation changes
    # (the coordinator's ward call vs the swap that moves them off Wards) would each pass alone.
    # Both serialise on the person row, taken BEFORE reading their shifts; whichever comes
    # second reads what the first committed and is judged on it.
    lock_people(by_person)
    first = min(c.start_date for c in changes)
    last = max(c.end_date for c in changes)
    limits = selectors.duty_hour_limits_get()
    reach = datetime.timedelta(days=limits.averaging_days + 2)
    # Only people with shifts near the change can break a rule of the daily layer.
    involved = set(
        Shift.objects.filter(
            person_id__in=list(by_person), date__range=(first - reach, last + reach)
        ).values_list("person_id", flat=True)
    )
    problems: list[str] = []
    for person_id in sorted(involved):
        problems.extend(_person_block_problems(person_id, by_person[person_id], limits))
    return problems


def _person_block_problems(person_id: int, changes: list[BlockChange], limits) -> list[str]:
    from residency.models import RotationTemplate

    problems: list[str] = []
    rotation_names = dict(RotationTemplate.objects.values_list("pk", "name"))
    for change in changes:
        shifts = Shift.objects.filter(
            person_id=person_id, date__range=(change.start_date, change.end_date)
        ).select_related("person", "shift_type")
        for shift in shifts:
            pool = list(shift.shift_type.eligible_rotations.values_list("pk", flat=True))
            if pool and change.rotation_id not in pool:
                now = rotation_names.get(change.rotation_id, "no rotation")
                names = " or ".join(rotation_names[pk] for pk in pool)
                problems.append(
                    f"{shift.person.name} holds {shift.shift_type.name} on {fmt_day(shift.date)}, "
                    f"taken by people on {names}, and would be on {now}: move or remove that "
                    "shift first."
                )
    if problems or not Person.objects.filter(pk=person_id, kind=Person.Kind.RESIDENT).exists():
        return problems
    # Duty hours with the new rotations' usual hours (residents only).
    start = min(c.start_date for c in changes)
    end = max(c.end_date for c in changes)
    lo, hi = selectors.duty_hour_horizon(limits=limits, start=start, end=end)
    work = selectors.person_work_load(person_ids=[person_id], start=lo, end=hi).get(person_id)
    if work is None:
        return []
    blocks = (
        selectors.blocks_touching(start=start, end=end)
        if limits.averaging == dutyhours_module.BLOCKS
        else []
    )
    # Judged from the changes themselves (previous vs new rotation in each changed range), not
    # from the database, so it does not matter whether the caller has written yet.
    patterns = selectors.work_patterns_by_rotation()

    def with_rotations(field: str) -> PersonWork:
        pattern = [
            iv
            for iv in work.pattern
            if not any(c.start_date <= iv[0].date() <= c.end_date for c in changes)
        ]
        for change in changes:
            pattern.extend(
                selectors.pattern_intervals(
                    week=patterns.get(getattr(change, field), {}),
                    start=max(change.start_date, lo),
                    end=min(change.end_date, hi),
                )
            )
        return PersonWork(work.person_id, work.name, work.shifts, pattern, work.absent_days)

    before, after = (
        dutyhours_module.duty_hour_problems(
            work=with_rotations(field), limits=limits, start=start, end=end, blocks=blocks
        )
        for field in ("previous_rotation_id", "rotation_id")
    )
    known = {p.message for p in before if p.is_violation}
    return [
        f"With that rotation's usual hours and the shifts already held: {p.message}"
        for p in after
        if p.is_violation and p.message not in known
    ]
