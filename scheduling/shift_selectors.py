"""Reads for the shift generation pages (docs/scheduling.md, "Shift generation pages"): the
quick period choices of the start form, a shifts run's draft as month calendars with its
changes marked, and the per-person fairness and requests table from the run's report.

The calendar reuses the shifts app's month calendar (``shifts.selectors.month_calendar``: the
same days, types, holidays and coverage rules) and lays the run's ``ShiftChange`` rows over it.
A fixed number of queries whatever the period holds."""

from __future__ import annotations

import calendar
import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from residency.models import AcademicYear, Block
from scheduling.models import GenerationRun, ShiftChange
from shifts.models import Shift, ShiftRequest, ShiftType
from shifts.selectors import month_calendar

DAY = datetime.timedelta(days=1)
Kind = ShiftChange.Kind

# What a shift in the draft calendar is, relative to the shifts the run read.
KEPT, NEW, REMOVED = "kept", "new", "removed"


# -- the start form's quick choices ------------------------------------------------------------


@dataclass(frozen=True)
class PeriodChoice:
    label: str
    start: datetime.date
    end: datetime.date
    near: bool = True  # shown first; the other blocks of the year are folded away


def _month_of(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    first = day.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def shift_period_choices(*, year: AcademicYear | None, today: datetime.date) -> list[PeriodChoice]:
    """This month, next month and every block of ``year``, each clipped to the year (a run's
    period must lie inside it); choices entirely outside the year are left out."""
    if year is None:
        return []
    this_first, this_last = _month_of(today)
    next_first, next_last = _month_of(this_last + DAY)
    candidates = [
        PeriodChoice(f"This month ({this_first:%B %Y})", this_first, this_last),
        PeriodChoice(f"Next month ({next_first:%B %Y})", next_first, next_last),
    ]
    blocks = list(Block.objects.filter(academic_year=year).order_by("number"))
    # Near: the block under way (or the year's first, before it starts) and the one after.
    current = next((i for i, b in enumerate(blocks) if b.end_date >= today), len(blocks))
    candidates += [
        PeriodChoice(
            f"Block {b.number} ({b.start_date:%-d %b} - {b.end_date:%-d %b})",
            b.start_date,
            b.end_date,
            near=current <= i <= current + 1,
        )
        for i, b in enumerate(blocks)
    ]
    if not (this_first <= year.end_date and next_last >= year.start_date):
        # Neither month touches the year (it lies ahead or behind): offer its first month.
        first, last = _month_of(year.start_date)
        candidates.insert(0, PeriodChoice(f"First month ({first:%B %Y})", first, last))
    choices = []
    for choice in candidates:
        start, end = max(choice.start, year.start_date), min(choice.end, year.end_date)
        if start <= end:
            choices.append(PeriodChoice(choice.label, start, end, choice.near))
    return choices


def shift_period_default(*, year: AcademicYear | None, today: datetime.date) -> PeriodChoice | None:
    """The period the form starts with: next month when it touches the year, else the year's
    first month (each clipped to the year)."""
    choices = shift_period_choices(year=year, today=today)
    for choice in choices:
        if choice.label.startswith(("Next month", "First month")):
            return choice
    return choices[0] if choices else None


# -- the draft as month calendars --------------------------------------------------------------


@dataclass
class DraftEntry:
    person_id: int
    name: str
    state: str  # KEPT, NEW or REMOVED
    stale: bool = False  # named by a refused publish (changed since the snapshot)


@dataclass
class DraftCell:
    shift_type: ShiftType
    entries: list[DraftEntry]
    needed: int
    maximum: int | None
    # Who holds the shift once the draft is applied (removed ones do not), counted before any
    # person filter hides entries: coverage is the cell's, not the filtered view's.
    holders: int = 0

    @property
    def missing(self) -> int:
        return max(0, self.needed - self.holders)

    @property
    def over(self) -> bool:
        return self.maximum is not None and self.holders > self.maximum

    @property
    def changed(self) -> bool:
        return any(e.state != KEPT for e in self.entries)


@dataclass
class DraftDay:
    day: datetime.date
    holiday: str | None
    cells: list[DraftCell]

    @property
    def weekend(self) -> bool:
        return self.day.weekday() >= 5

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.cells)

    @property
    def has_entries(self) -> bool:
        return any(c.entries for c in self.cells)


@dataclass
class DraftMonth:
    first: datetime.date
    days: list[DraftDay]


@dataclass
class DraftCalendar:
    state: str  # "draft", "published" or "not published" (discarded, superseded)
    types: list[ShiftType]  # the columns shown (one when filtered by type)
    all_types: list[ShiftType]
    months: list[DraftMonth]
    people: list[tuple[int, str]]  # everyone in the calendar, for the person filter
    type_filter: int | None = None
    person_filter: int | None = None
    counts: dict[str, int] = field(default_factory=dict)


def _calendar_state(run: GenerationRun) -> str:
    if run.status == GenerationRun.Status.SUCCEEDED:
        return "published"
    if run.status == GenerationRun.Status.READY:
        return "draft"
    return "not published"


def shift_draft_calendar(
    *,
    run: GenerationRun,
    type_id: int | None = None,
    person_id: int | None = None,
    stale: set[tuple[int, str]] = frozenset(),
) -> DraftCalendar:
    """The run's period, one month at a time, days down and shift types across (the shifts
    calendar's layout). A draft shows the shifts as they are with the run's changes laid over
    them: added shifts ``new``, shifts it removes ``removed`` (still there until published). A
    published run shows the shifts as they are now, its additions marked ``new`` and what it
    removed listed ``removed``. ``stale``: (person_id, ISO date) pairs a refused publish named.
    Coverage counts the draft's holders (removed ones do not count)."""
    state = _calendar_state(run)
    types, days = month_calendar(start=run.start_date, end=run.end_date)
    changes = list(ShiftChange.objects.filter(run=run).select_related("person"))
    removes = {c.shift_id for c in changes if c.kind == Kind.REMOVE}
    adds = {(c.person_id, c.date, c.shift_type_id): c for c in changes if c.kind == Kind.ADD}
    by_cell: dict[tuple[datetime.date, int], list[ShiftChange]] = defaultdict(list)
    for change in changes:
        by_cell[change.date, change.shift_type_id].append(change)

    people: dict[int, str] = {}
    counts = {KEPT: 0, NEW: 0, REMOVED: 0}
    months: list[DraftMonth] = []
    for day in days:
        cells = []
        for cell in day.cells:
            type_pk = cell.shift_type.pk
            entries, present = [], set()
            for shift in cell.shifts:
                key = (shift.person_id, shift.date, type_pk)
                present.add(key)
                if state == "published":
                    what = NEW if key in adds else KEPT
                else:
                    what = REMOVED if shift.pk in removes else KEPT
                entries.append(DraftEntry(shift.person_id, shift.person.name, what))
            for change in by_cell.get((day.day, type_pk), []):
                key = (change.person_id, change.date, type_pk)
                if change.kind == Kind.ADD and state != "published" and key not in present:
                    entries.append(DraftEntry(change.person_id, change.person.name, NEW))
                elif change.kind == Kind.REMOVE and state == "published" and key not in present:
                    entries.append(DraftEntry(change.person_id, change.person.name, REMOVED))
            for entry in entries:
                entry.stale = (entry.person_id, day.day.isoformat()) in stale
                people[entry.person_id] = entry.name
                counts[entry.state] += 1
            entries.sort(key=lambda e: (e.state == REMOVED, e.name))
            cells.append(
                DraftCell(
                    shift_type=cell.shift_type,
                    entries=entries,
                    needed=cell.needed,
                    maximum=cell.maximum,
                    holders=sum(1 for e in entries if e.state != REMOVED),
                )
            )
        draft_day = DraftDay(day=day.day, holiday=day.holiday, cells=cells)
        if not months or months[-1].first != day.day.replace(day=1):
            months.append(DraftMonth(first=day.day.replace(day=1), days=[]))
        months[-1].days.append(draft_day)

    # Filters only hide: coverage above was counted on everything.
    shown_types = types
    if type_id is not None and any(t.pk == type_id for t in types):
        shown_types = [t for t in types if t.pk == type_id]
        for month in months:
            for draft_day in month.days:
                draft_day.cells = [c for c in draft_day.cells if c.shift_type.pk == type_id]
    else:
        type_id = None
    if person_id is not None and person_id in people:
        for month in months:
            for draft_day in month.days:
                for cell in draft_day.cells:
                    cell.entries = [e for e in cell.entries if e.person_id == person_id]
    else:
        person_id = None
    return DraftCalendar(
        state=state,
        types=shown_types,
        all_types=types,
        months=months,
        people=sorted(people.items(), key=lambda item: item[1]),
        type_filter=type_id,
        person_filter=person_id,
        counts=counts,
    )


# -- fairness and requests -----------------------------------------------------------------


def _draft_rows(
    run: GenerationRun, person_ids: list[int], type_ids: list[int]
) -> set[tuple[int, datetime.date, int]]:
    """(person, date, type) of the period as the run leaves it: the shifts now, with a draft's
    changes applied (a published run's are already in them)."""
    shifts = Shift.objects.filter(
        person_id__in=person_ids,
        shift_type_id__in=type_ids,
        date__range=(run.start_date, run.end_date),
    ).values_list("pk", "person_id", "date", "shift_type_id")
    if run.status == GenerationRun.Status.SUCCEEDED:
        return {(p, d, t) for _, p, d, t in shifts}
    changes = list(ShiftChange.objects.filter(run=run))
    removed = {c.shift_id for c in changes if c.kind == Kind.REMOVE}
    rows = {(p, d, t) for pk, p, d, t in shifts if pk not in removed}
    rows |= {(c.person_id, c.date, c.shift_type_id) for c in changes if c.kind == Kind.ADD}
    return rows


def _request_text(request: ShiftRequest) -> str:
    what = request.shift_type.name if request.shift_type_id else "the whole day"
    verb = "on" if request.kind == ShiftRequest.Kind.ON else "off"
    priority = ShiftRequest.Priority(request.priority).label.lower()
    return f"{request.date:%a %-d %b}: {verb} {what} ({priority})"


def _unhonoured_requests(run: GenerationRun, person_ids: list[int]) -> dict[int, list[str]]:
    """Per person, the requests in the period the roster does not meet, judged as the report
    judges them (scheduling/shift_problem/report.py): an "off" request for a whole day is met
    when the person has no shift of a generated (active) type that day."""
    type_ids = list(ShiftType.objects.filter(active=True).values_list("pk", flat=True))
    rows = _draft_rows(run, person_ids, type_ids)
    days = {(p, d) for p, d, _ in rows}
    unmet: dict[int, list[str]] = defaultdict(list)
    requests = ShiftRequest.objects.filter(
        person_id__in=person_ids, date__range=(run.start_date, run.end_date)
    ).select_related("shift_type")
    for request in requests.order_by("date", "pk"):
        if request.shift_type_id is None:
            worked = (request.person_id, request.date) in days
        else:
            worked = (request.person_id, request.date, request.shift_type_id) in rows
        if worked != (request.kind == ShiftRequest.Kind.ON):
            unmet[request.person_id].append(_request_text(request))
    return unmet


@dataclass
class FairnessRow:
    person_id: int | None
    name: str
    cohort: str | None
    shifts: list[Any]  # one count per type column; None when the report does not say
    points: Any
    points_year_to_date: Any
    weekend_holiday_shifts: Any
    weekend_holiday_points: Any
    requests: Any
    requests_honoured: Any
    unhonoured: list[str]
    changes: Any
    highest: bool = False  # most period points in its cohort
    lowest: bool = False


@dataclass
class FairnessGroup:
    cohort: str | None
    rows: list[FairnessRow]
    spread: dict[str, Any] | None  # the report's cohort entry (points min/max/spread, year)


def shift_run_fairness(*, run: GenerationRun) -> dict[str, Any] | None:
    """The per-person table under the draft, from ``run.report`` (written by
    ``shift_roster_report``): None when the run has no report yet. Keys the report lacks come
    out as None (the page shows "-"), so an older or partial report still renders."""
    report = run.report or {}
    people = report.get("people")
    if not isinstance(people, list) or not people:
        return None
    codes: list[str] = []
    for entry in people:
        for code in entry.get("shifts") or {}:
            if code not in codes:
                codes.append(code)
    named = {t.code: t for t in ShiftType.objects.filter(code__in=codes)}
    codes.sort(key=lambda c: (named[c].start_time, c) if c in named else (datetime.time.max, c))
    person_ids = [e["person"] for e in people if isinstance(e.get("person"), int)]
    unhonoured = _unhonoured_requests(run, person_ids) if run.start_date else {}
    spreads = {c.get("cohort"): c for c in report.get("cohorts") or [] if isinstance(c, dict)}

    rows = [
        FairnessRow(
            person_id=entry.get("person"),
            name=entry.get("name") or "-",
            cohort=entry.get("cohort"),
            shifts=[
                (entry.get("shifts") or {}).get(code, 0) if "shifts" in entry else None
                for code in codes
            ],
            points=entry.get("points"),
            points_year_to_date=entry.get("points_year_to_date"),
            weekend_holiday_shifts=entry.get("weekend_holiday_shifts"),
            weekend_holiday_points=entry.get("weekend_holiday_points"),
            requests=entry.get("requests"),
            requests_honoured=entry.get("requests_honoured"),
            unhonoured=unhonoured.get(entry.get("person"), []),
            changes=entry.get("changes"),
        )
        for entry in people
    ]
    rows.sort(key=lambda r: (r.cohort is None, str(r.cohort or ""), r.name))
    groups = []
    for cohort, members in groupby(rows, key=lambda r: r.cohort):
        members = list(members)
        points = [r.points for r in members if isinstance(r.points, int | float)]
        if len(members) > 1 and points and max(points) != min(points):
            for row in members:
                row.highest = row.points == max(points)
                row.lowest = row.points == min(points)
        groups.append(FairnessGroup(cohort=cohort, rows=members, spread=spreads.get(cohort)))
    return {
        "types": [(code, named[code].name if code in named else code) for code in codes],
        "groups": groups,
        "cohorts": [c for c in report.get("cohorts") or [] if isinstance(c, dict)],
        "requests": report.get("requests"),
        "requests_honoured": report.get("requests_honoured"),
        "changes": report.get("changes"),
        "columns": len(codes) + 7,
    }
