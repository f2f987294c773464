"""The year grid (issue 11): people down the side, blocks across, with capacity per block.

A fixed number of queries (blocks, rotations, people, PGY levels, assignments, absences) whatever
the number of people or blocks: everything is fetched in bulk and laid out in Python. The rules
it marks (unavailability, capacity) come from residency.selectors, so the grid judges a
placement the way every write path does.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from residency.models import (
    PGY_MAX,
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    RotationTemplate,
)
from residency.selectors import (
    block_containing,
    counts_toward_capacity,
    is_unavailable_for_block,
    pgy_levels_for_year,
    visible_absences,
)


@dataclass(frozen=True, slots=True)
class GridAssignment:
    """The columns of an assignment the grid shows. A plain object, not a model instance: the
    largest program's year is thousands of rows, and building models dominated the render."""

    pk: int
    person_id: int
    block_id: int
    rotation: RotationTemplate
    role: str
    pinned: bool

    @property
    def rotation_id(self) -> int:
        return self.rotation.pk

    def get_role_display(self) -> str:
        return Assignment.Role(self.role).label


@dataclass
class GridCell:
    block: Block
    assignment: GridAssignment | None
    absences: list[Absence]  # approved or requested absences touching the block
    unavailable: bool  # approved absences cover more than half of the block
    dimmed: bool = False  # not the rotation the grid is filtered on
    is_current: bool = False  # the block today falls in

    @property
    def css(self) -> str:
        """The cell's classes: its rotation's colour and the markers."""
        classes = ["cell"]
        if self.assignment is not None:
            classes.append(f"rot-{self.assignment.rotation_id}")
            if self.assignment.pinned:
                classes.append("pinned")
        else:
            classes.append("empty")
        if self.unavailable:
            classes.append("away")
        elif self.absences:
            classes.append("away-part")
        if self.dimmed:
            classes.append("dim")
        if self.is_current:
            classes.append("current-block")
        return " ".join(classes)

    @property
    def title(self) -> str:
        """The cell's tooltip: the rotation in words, the role, the pin and the absences."""
        parts = []
        if self.assignment is not None:
            a = self.assignment
            parts.append(a.rotation.name)
            if a.role != Assignment.Role.PRIMARY:
                parts.append(a.get_role_display())
            if a.pinned:
                parts.append("Pinned (kept by generation)")
        else:
            parts.append("Not assigned")
        if self.absences:
            parts.append(self.absence_text)
        return f"Block {self.block.number}: " + ", ".join(parts)

    @property
    def absence_text(self) -> str:
        """What the grid says about the absences (kinds are not shown: leave is private)."""
        return "; ".join(
            f"Away {a.start_date:%d %b} to {a.end_date:%d %b}"
            + ("" if a.status == Absence.Status.APPROVED else " (requested)")
            for a in self.absences
        )


@dataclass
class GridRow:
    person: Person
    pgy_level: int | None
    cells: list[GridCell]
    html: str = ""  # the rendered row, filled by residency.grid_html for the page


@dataclass
class GridGroup:
    label: str
    rows: list[GridRow]


@dataclass
class CapacityCell:
    count: int
    rotation: RotationTemplate

    @property
    def css(self) -> str:
        return "under" if self.under else "over" if self.over else ""

    @property
    def title(self) -> str:
        r = self.rotation
        state = " (short)" if self.under else " (too many)" if self.over else ""
        return f"{r.name}: {self.count} people (needs {r.min_people} to {r.max_people}){state}"

    @property
    def under(self) -> bool:
        return self.count < self.rotation.min_people

    @property
    def over(self) -> bool:
        return self.count > self.rotation.max_people


@dataclass
class CapacityRow:
    rotation: RotationTemplate
    cells: list[CapacityCell]


@dataclass
class YearGrid:
    academic_year: AcademicYear
    blocks: list[Block]
    current_block: Block | None
    groups: list[GridGroup]
    rotations: list[RotationTemplate]  # every rotation used in the year or active (the legend)
    capacity: list[CapacityRow]
    people_shown: int


def year_grid(
    *,
    academic_year: AcademicYear,
    kind: str = "",
    pgy_level: int | None = None,
    rotation_id: int | None = None,
    search: str = "",
    today: datetime.date | None = None,
    include_requested_absences: bool = True,
) -> YearGrid:
    """The year's grid, optionally filtered (kind of person, PGY level, a rotation, a name).

    The filters choose the rows shown; the capacity footer always counts everyone, since capacity
    is a property of the whole program. Leave that is only requested is shown when
    ``include_requested_absences`` (coordinators); colleagues see approved absences only, and never
    their kind. Six queries."""
    blocks = list(academic_year.blocks.order_by("number"))
    rotations = {r.pk: r for r in RotationTemplate.objects.all()}
    assignments = [
        GridAssignment(pk, person_id, block_id, rotations[rotation_id], role, pinned)
        for pk, person_id, block_id, rotation_id, role, pinned in Assignment.objects.filter(
            block__academic_year=academic_year
        ).values_list("id", "person_id", "block_id", "rotation_id", "role", "pinned")
    ]
    pgy = pgy_levels_for_year(academic_year=academic_year)
    everyone = {
        p.pk: p
        for p in Person.objects.filter(
            Q(active=True)
            | Q(
                pk__in=Assignment.objects.filter(block__academic_year=academic_year).values(
                    "person"
                )
            )
        )
        .only("id", "name", "kind", "active", "user_id")
        .order_by("name")
    }
    people = [
        p
        for p in everyone.values()
        if _grid_row_wanted(p, pgy.get(p.pk), kind=kind, pgy_level=pgy_level, search=search)
    ]
    # Each absence against the blocks it touches: (person, block) -> absences.
    absent: dict[tuple[int, int], list[Absence]] = defaultdict(list)
    for absence in visible_absences(
        people=[p.pk for p in people],
        start=academic_year.start_date,
        end=academic_year.end_date,
    ):
        if absence.status != Absence.Status.APPROVED and not include_requested_absences:
            continue
        for block in blocks:
            if absence.start_date <= block.end_date and absence.end_date >= block.start_date:
                absent[(absence.person_id, block.pk)].append(absence)

    by_cell: dict[tuple[int, int], GridAssignment] = {}
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for a in assignments:
        by_cell[(a.person_id, a.block_id)] = a
        if counts_toward_capacity(person=everyone[a.person_id], rotation=a.rotation):
            counts[(a.rotation_id, a.block_id)] += 1

    current = block_containing(blocks, today or timezone.localdate())
    groups: dict[str, GridGroup] = {}
    for person in sorted(people, key=lambda p: _grid_group_key(p, pgy.get(p.pk))):
        if rotation_id is not None and not any(
            by_cell.get((person.pk, b.pk)) is not None
            and by_cell[(person.pk, b.pk)].rotation_id == rotation_id
            for b in blocks
        ):
            continue
        cells = []
        for block in blocks:
            assignment = by_cell.get((person.pk, block.pk))
            touching = absent.get((person.pk, block.pk), [])
            cells.append(
                GridCell(
                    block=block,
                    assignment=assignment,
                    absences=touching,
                    unavailable=bool(touching)
                    and is_unavailable_for_block(block=block, absences=touching),
                    dimmed=rotation_id is not None
                    and (assignment is None or assignment.rotation_id != rotation_id),
                    is_current=current is not None and block.pk == current.pk,
                )
            )
        label = _grid_group_label(person, pgy.get(person.pk))
        groups.setdefault(label, GridGroup(label, [])).rows.append(
            GridRow(person=person, pgy_level=pgy.get(person.pk), cells=cells)
        )

    used = {a.rotation_id for a in assignments}
    legend = sorted(
        (r for r in rotations.values() if r.pk in used or r.active), key=lambda r: r.name
    )
    capacity = [
        CapacityRow(
            rotation=r,
            cells=[CapacityCell(count=counts[(r.pk, b.pk)], rotation=r) for b in blocks],
        )
        for r in legend
        if r.kind != RotationTemplate.Kind.LEAVE
    ]
    return YearGrid(
        academic_year=academic_year,
        blocks=blocks,
        current_block=current,
        groups=list(groups.values()),
        rotations=legend,
        capacity=capacity,
        people_shown=sum(len(g.rows) for g in groups.values()),
    )


def _grid_row_wanted(
    person: Person, pgy: int | None, *, kind: str, pgy_level: int | None, search: str
) -> bool:
    if kind and person.kind != kind:
        return False
    if pgy_level is not None and (not person.is_resident or pgy != pgy_level):
        return False
    return not search or search.casefold() in person.name.casefold()


def _grid_group_key(person: Person, pgy: int | None) -> tuple:
    if person.is_resident:
        return (0, pgy if pgy is not None else PGY_MAX + 1, person.name)
    return (1, 0, person.name)


def _grid_group_label(person: Person, pgy: int | None) -> str:
    if not person.is_resident:
        return "Faculty"
    return f"PGY-{pgy} residents" if pgy is not None else "Residents without a PGY level this year"
