"""Checks that apps depending on residency add to residency's own writes.

Residency imports none of the apps built on it, yet a change to the block schedule can break
their rules: moving someone off Wards leaves them holding ward call (shifts). Such apps register
a guard here (in their AppConfig.ready); every write path of the block schedule (assignment
create/update/delete, bulk moves, swaps, generation's write) calls ``block_changes_check`` with
what each person will hold afterwards, under its locks and before committing. A guard answers
the problems in plain words; any problem refuses the whole change (docs/shifts.md, "The two
layers").
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import NamedTuple

from residency.errors import RuleViolation


class BlockChange(NamedTuple):
    """Over the block ``start_date``..``end_date``, ``person_id`` held ``previous_rotation_id``
    and will hold ``rotation_id`` after the change (None: nothing). Both are given, so a guard
    can judge the change whether it runs before or after the caller's write."""

    person_id: int
    start_date: datetime.date
    end_date: datetime.date
    previous_rotation_id: int | None
    rotation_id: int | None


BlockGuard = Callable[[list[BlockChange]], list[str]]
_guards: dict[str, BlockGuard] = {}


def block_change_guard_register(name: str, guard: BlockGuard) -> None:
    _guards[name] = guard


def block_changes_problems(changes: Iterable[BlockChange]) -> list[str]:
    changes = list(changes)
    if not changes:
        return []
    problems: list[str] = []
    for guard in _guards.values():
        problems.extend(guard(changes))
    return problems


def block_changes_check(changes: Iterable[BlockChange], *, field: str = "rotation") -> None:
    """Raise ``RuleViolation`` naming every problem the registered guards find."""
    problems = block_changes_problems(changes)
    if problems:
        raise RuleViolation(" ".join(problems), field=field)


class UpcomingItem(NamedTuple):
    """One line of "Coming up" on a person's schedule page (a shift, for the shifts app)."""

    when: datetime.datetime | datetime.date
    text: str
    url: str = ""


UpcomingSource = Callable[..., list[UpcomingItem]]
_upcoming_sources: dict[str, UpcomingSource] = {}


def upcoming_source_register(name: str, source: UpcomingSource) -> None:
    """``source(person=..., today=...)`` lists what the person has coming up; apps built on
    residency register one in their AppConfig.ready (residency imports none of them)."""
    _upcoming_sources[name] = source


def upcoming_for_person(*, person, today: datetime.date) -> list[UpcomingItem]:
    items: list[UpcomingItem] = []
    for source in _upcoming_sources.values():
        items.extend(source(person=person, today=today))
    return sorted(items, key=lambda item: str(item.when))
