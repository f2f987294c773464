"""Shift requests (docs/shifts.md, "Requests"): residents and faculty ask, before the deadline
the coordinator sets for a period, for days off, to be spared a shift, or to be given one; call
and shift generation weighs them by priority (``shifts.models.REQUEST_WEIGHTS``) and reports per
person which were honoured (``shift_requests_honoured``).

Writes, the reads generation uses and the pure "was it honoured" rule live here together, by
concern, as ``scheduling/preference_services.py`` does for the block wishes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from residency.errors import Conflict, RuleViolation
from residency.locking import lock_people, locked_transaction
from residency.models import Person
from shifts.formatting import fmt_day
from shifts.models import REQUEST_WEIGHTS, ShiftRequest, ShiftRequestPeriod, ShiftType

# A person's requests per period: enough for a month's days off and wishes, few enough that
# requests stay wishes rather than a second schedule the generator must follow.
MAX_REQUESTS_PER_PERIOD = 10
MAX_NOTE_LENGTH = 300

STAFFED_BY_FOR_KIND = {
    Person.Kind.RESIDENT: ShiftType.StaffedBy.RESIDENTS,
    Person.Kind.FACULTY: ShiftType.StaffedBy.FACULTY,
}


# -- periods (coordinators) ---------------------------------------------------------------------


def shift_request_period_create(
    *, start_date: datetime.date, end_date: datetime.date, deadline: datetime.datetime,
    note: str = "",
) -> ShiftRequestPeriod:  # fmt: skip
    """Open ``start_date``..``end_date`` (inclusive) for requests until ``deadline``."""
    if end_date < start_date:
        raise RuleViolation("The end date must not be before the start date.", "end_date")
    if len(note) > 300:
        raise RuleViolation("The note is limited to 300 characters.", "note")
    try:
        with transaction.atomic():
            return ShiftRequestPeriod.objects.create(
                start_date=start_date, end_date=end_date, deadline=deadline, note=note
            )
    except IntegrityError:  # the exclusion constraint: the database's last word
        raise RuleViolation("This period overlaps another request period.", "start_date") from None


def _period_locked(day: datetime.date) -> ShiftRequestPeriod | None:
    """The period holding ``day``, locked ``FOR SHARE`` until the transaction ends.

    The lock closes the race between a coordinator moving the deadline (or the dates, or
    deleting the period) and a request being written: the coordinator's UPDATE/DELETE waits for
    requests already past this check, and a request arriving after the change waits for it and
    then reads the new row (READ COMMITTED re-checks the WHERE on the updated version). So no
    request is ever written under a deadline that had already been moved before it. SHARE, not
    UPDATE: requests of many people in one period do not queue behind each other."""
    periods = list(
        ShiftRequestPeriod.objects.raw(
            "SELECT * FROM shifts_shiftrequestperiod WHERE start_date <= %s AND end_date >= %s "
            "FOR SHARE",
            [day, day],
        )
    )
    return periods[0] if periods else None


def _open_period(day: datetime.date) -> ShiftRequestPeriod:
    period = _period_locked(day)
    if period is None:
        raise RuleViolation(f"Requests are not being collected for {fmt_day(day)}.", "date")
    if timezone.now() > period.deadline:
        raise Conflict(
            f"The deadline for requests for {fmt_day(period.start_date)} to "
            f"{fmt_day(period.end_date)} has passed "
            f"({timezone.localtime(period.deadline):%Y-%m-%d %H:%M}): requests for these days "
            "can no longer be added or removed. Ask the coordinator."
        )
    return period


# -- requests (the person themselves) -----------------------------------------------------------


@locked_transaction
def shift_request_create(
    *, person: Person, date: datetime.date, kind: str, shift_type: ShiftType | None = None,
    priority: int = ShiftRequest.Priority.MEDIUM, note: str = "",
) -> ShiftRequest:  # fmt: skip
    """``person`` asks about ``date``: ``kind`` "off" (not ``shift_type``; no shift at all that
    day when it is None) or "on" (``shift_type`` that day). Refused outside an open period,
    after its deadline, beyond ``MAX_REQUESTS_PER_PERIOD``, or when it contradicts a request the
    person already has that day."""
    if kind not in ShiftRequest.Kind.values:
        raise RuleViolation('Choose "on" (give me this shift) or "off".', "kind")
    if kind == ShiftRequest.Kind.ON and shift_type is None:
        raise RuleViolation("Name the shift you would like to be given.", "shift_type")
    if isinstance(priority, bool) or priority not in ShiftRequest.Priority.values:
        raise RuleViolation("Priority is 1 (high), 2 (medium) or 3 (low).", "priority")
    if len(note) > MAX_NOTE_LENGTH:
        raise RuleViolation(f"The note is limited to {MAX_NOTE_LENGTH} characters.", "note")
    if not person.active:
        raise RuleViolation("Your record in the program is inactive: ask the coordinator.")
    if shift_type is not None and (
        not shift_type.active or shift_type.staffed_by != STAFFED_BY_FOR_KIND.get(person.kind)
    ):
        takers = "residents" if person.kind == Person.Kind.RESIDENT else "faculty"
        raise RuleViolation(f"{shift_type.name} is not a shift {takers} take.", "shift_type")
    # The person row, FOR NO KEY UPDATE: two requests of one person sent at once (two tabs, a
    # double click, the API) are judged one after the other, so both cannot pass the count
    # below with one place left, nor both pass the contradiction check. The period lock
    # (_period_locked) comes second, in the same order as in shift_request_delete.
    lock_people([person.pk])
    period = _open_period(date)
    mine = ShiftRequest.objects.filter(person=person)
    count = mine.filter(date__range=(period.start_date, period.end_date)).count()
    if count >= MAX_REQUESTS_PER_PERIOD:
        raise RuleViolation(
            f"You already have {count} requests for {fmt_day(period.start_date)} to "
            f"{fmt_day(period.end_date)}, the most one person may make. Remove one first."
        )
    _refuse_contradiction(mine.filter(date=date), kind=kind, shift_type=shift_type, day=date)
    try:
        with transaction.atomic():
            return ShiftRequest.objects.create(
                person=person, date=date, shift_type=shift_type, kind=kind,
                priority=priority, note=note,
            )  # fmt: skip
    except IntegrityError:  # the unique indexes: the database's last word on duplicates
        raise RuleViolation("You already have this request for this day.", "date") from None


def _refuse_contradiction(
    same_day, *, kind: str, shift_type: ShiftType | None, day: datetime.date
) -> None:
    """Refuse a request that cannot hold together with one the person already has that day."""
    for other in same_day.select_related("shift_type"):
        duplicate = other.kind == kind and other.shift_type_id == getattr(shift_type, "pk", None)
        if duplicate:
            raise RuleViolation("You already have this request for this day.", "date")
        if other.kind == kind:
            continue
        on, off = (other, None) if other.kind == ShiftRequest.Kind.ON else (None, other)
        on_type = on.shift_type_id if on else getattr(shift_type, "pk", None)
        off_type = off.shift_type_id if off else getattr(shift_type, "pk", None)
        if off_type is None or off_type == on_type:
            raise RuleViolation(
                f"This contradicts your request “{describe(other)}” for {fmt_day(day)}: "
                "remove that one first.",
                "kind",
            )


@locked_transaction
def shift_request_delete(*, person: Person, request_id: int) -> bool:
    """Withdraw one of ``person``'s requests while its period is open. False if it is not
    there (already withdrawn in another tab, or not theirs): nothing to do."""
    lock_people([person.pk])
    request = ShiftRequest.objects.filter(pk=request_id, person=person).first()
    if request is None:
        return False
    _open_period(request.date)
    request.delete()
    return True


def describe(request: ShiftRequest) -> str:
    """A request in words: "day off", "not Night float", "Night float"."""
    if request.kind == ShiftRequest.Kind.OFF:
        return "day off" if request.shift_type_id is None else f"not {request.shift_type.name}"
    return request.shift_type.name


# -- reads --------------------------------------------------------------------------------------


def shift_requests_for(*, start: datetime.date, end: datetime.date) -> list[ShiftRequest]:
    """Every request for a day in ``start``..``end`` (inclusive), with person and shift type:
    what generation weighs (scheduling/shift_problem.py). Whatever the period's deadline: after
    it the requests are final, before it generation uses the requests made so far."""
    return list(
        ShiftRequest.objects.filter(date__range=(start, end))
        .select_related("person", "shift_type")
        .order_by("date", "person_id", "pk")
    )


def shift_request_periods_current(
    *, today: datetime.date | None = None
) -> list[ShiftRequestPeriod]:
    """Periods not yet over (open or closed for requests), soonest first: the requests page."""
    today = today or timezone.localdate()
    return list(ShiftRequestPeriod.objects.filter(end_date__gte=today).order_by("start_date"))


def shift_requests_of(
    *, person: Person, periods: Iterable[ShiftRequestPeriod]
) -> dict[int, list[ShiftRequest]]:
    """The person's requests in each period (by period id), by date. One query."""
    periods = list(periods)
    found: dict[int, list[ShiftRequest]] = {period.pk: [] for period in periods}
    if not periods:
        return found
    start = min(period.start_date for period in periods)
    end = max(period.end_date for period in periods)
    for request in (
        ShiftRequest.objects.filter(person=person, date__range=(start, end))
        .select_related("shift_type")
        .order_by("date", "pk")
    ):
        for period in periods:
            if period.start_date <= request.date <= period.end_date:
                found[period.pk].append(request)
    return found


# -- honoured or not (pure) ---------------------------------------------------------------------

Row = tuple[int, datetime.date, int]  # (person_id, date, shift_type_id) of a proposed shift


def shift_requests_honoured(
    *, requests: Iterable[ShiftRequest], rows: Iterable[Row]
) -> list[tuple[ShiftRequest, bool]]:
    """For each request (in order), whether the roster ``rows`` honours it: "off" with no type,
    the person has no shift that day; "off" a type, not that type that day; "on", that type
    that day. Pure: reads only ``person_id``, ``date``, ``shift_type_id`` and ``kind``."""
    worked: set[Row] = set()
    working_days: set[tuple[int, datetime.date]] = set()
    for person_id, day, type_id in rows:
        worked.add((person_id, day, type_id))
        working_days.add((person_id, day))
    outcomes = []
    for request in requests:
        if request.kind == ShiftRequest.Kind.ON:
            honoured = (request.person_id, request.date, request.shift_type_id) in worked
        elif request.shift_type_id is None:
            honoured = (request.person_id, request.date) not in working_days
        else:
            honoured = (request.person_id, request.date, request.shift_type_id) not in worked
        outcomes.append((request, honoured))
    return outcomes


@dataclass
class RequestTally:
    """One person's requests against a roster: how many, how many honoured, and the same
    weighted by priority (REQUEST_WEIGHTS)."""

    asked: int = 0
    honoured: int = 0
    weight_asked: int = 0
    weight_honoured: int = 0

    @property
    def share(self) -> float:
        """The weighted share honoured, 1.0 when nothing was asked."""
        return self.weight_honoured / self.weight_asked if self.weight_asked else 1.0


def shift_requests_tally(
    *, outcomes: Iterable[tuple[ShiftRequest, bool]]
) -> dict[int, RequestTally]:
    """``shift_requests_honoured``'s answer per person id."""
    tallies: dict[int, RequestTally] = {}
    for request, honoured in outcomes:
        tally = tallies.setdefault(request.person_id, RequestTally())
        weight = REQUEST_WEIGHTS[request.priority]
        tally.asked += 1
        tally.weight_asked += weight
        if honoured:
            tally.honoured += 1
            tally.weight_honoured += weight
    return tallies
