"""Reads and rules of shift trades, shared by the services (under locks), the trade builder, the
open pool and the sick-call page, so that what a page offers is exactly what execution accepts.

Every check returns ``(reason, message)`` pairs; the reason is a ``SwapRefused`` reason
(``ineligible``, ``duty_hours``, ``too_late``, ``cap``) and the message carries the numbers.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from residency.models import AcademicYear, Block, Person, ResidentYear
from shifts.formatting import fmt_day
from shifts.models import Shift, ShiftType, SickCall
from shifts.selectors import shift_eligibility_problems
from shifts.services import new_duty_hour_violations
from swaps.models import SwapRequest, SwapRules

Problem = tuple[str, str]
SHIFT_RELATED = (
    "requester",
    "counterpart",
    "academic_year",
    "offered_shift__person",
    "offered_shift__shift_type",
    "wanted_shift__person",
    "wanted_shift__shift_type",
)


def shift_label(shift: Shift) -> str:
    start = timezone.localtime(shift.starts_at)
    return (
        f"{shift.person.name}: {shift.shift_type.name} on {fmt_day(shift.date)} "
        f"{start:%H:%M} ({shift.shift_type.length_hours:g} h)"
    )


def year_of_shift(shift: Shift) -> AcademicYear | None:
    return AcademicYear.objects.filter(start_date__lte=shift.date, end_date__gte=shift.date).first()


def block_of_shift(shift: Shift) -> Block | None:
    return Block.objects.filter(start_date__lte=shift.date, end_date__gte=shift.date).first()


def shift_notice_problem(
    *, shift: Shift, now: datetime.datetime, rules: SwapRules
) -> Problem | None:
    """A shift starting within the program's notice period can no longer be traded."""
    hours = rules.shift_notice_hours
    if shift.starts_at <= now + datetime.timedelta(hours=hours):
        start = timezone.localtime(shift.starts_at)
        return (
            "too_late",
            f"{shift.shift_type.name} on {fmt_day(shift.date)} starts {start:%d %b %H:%M}, "
            f"inside the {hours}-hour notice period for shift trades.",
        )
    return None


def pgy_level(*, person: Person, day: datetime.date) -> int | None:
    return (
        ResidentYear.objects.filter(
            person=person, academic_year__start_date__lte=day, academic_year__end_date__gte=day
        )
        .values_list("pgy_level", flat=True)
        .first()
    )


def shift_move_problems(
    *, person: Person, shift_in: Shift, shift_out: Shift | None, ignore_ids: list[int]
) -> list[Problem]:
    """Everything an edit checks when ``person`` takes ``shift_in`` (giving up ``shift_out``, if
    any): eligibility (kind, PGY, rotation pool), approved absences, overlap with their other
    shifts (``ignore_ids`` are the shifts this change moves), and every duty-hour rule through
    the shifts engine. The coverage count is unchanged by a trade (the shift keeps its type and
    date), so it is not re-judged here."""
    problems: list[Problem] = [
        ("ineligible", message)
        for _field, message in shift_eligibility_problems(
            person=person, shift_type=shift_in.shift_type, day=shift_in.date
        )
    ]
    overlapping = (
        Shift.objects.filter(
            person=person, starts_at__lt=shift_in.ends_at, ends_at__gt=shift_in.starts_at
        )
        .exclude(pk__in=ignore_ids)
        .select_related("shift_type")
        .first()
    )
    if overlapping is not None:
        problems.append(
            (
                "ineligible",
                f"{person.name} already has {overlapping.shift_type.name} on "
                f"{fmt_day(overlapping.date)}, which overlaps {shift_in.shift_type.name} on "
                f"{fmt_day(shift_in.date)}.",
            )
        )
    if problems:
        return problems  # the duty-hour engine is the expensive part: only when it matters
    violations = new_duty_hour_violations(
        person_id=person.pk,
        day=shift_in.date,
        add=[(shift_in.shift_type, shift_in.date)],
        remove_shift_ids=[shift_out.pk] if shift_out is not None else [],
    )
    return [("duty_hours", f"{person.name}: {p.message}") for p in violations]


def shift_trade_problems(
    *,
    requester: Person,
    counterpart: Person,
    offered: Shift,
    wanted: Shift | None,
    rules: SwapRules,
) -> list[Problem]:
    """Every rule the trade breaks: ``counterpart`` takes ``offered`` (giving ``wanted``, if
    any, to ``requester``). Both people are judged, each with both moved shifts ignored."""
    if counterpart.pk == requester.pk:
        return [("invalid", "You cannot trade with yourself.")]
    if counterpart.kind != requester.kind:
        return [("ineligible", "Shift trades are between two residents or two faculty members.")]
    problems: list[Problem] = []
    if not rules.pgy_levels_may_cross and requester.kind == Person.Kind.RESIDENT:
        mine = pgy_level(person=requester, day=offered.date)
        theirs = pgy_level(person=counterpart, day=offered.date)
        if mine != theirs:
            problems.append(
                (
                    "ineligible",
                    f"The program allows shift trades only within one PGY level; "
                    f"{requester.name} is PGY-{mine}, {counterpart.name} is PGY-{theirs}.",
                )
            )
    ignore = [s.pk for s in (offered, wanted) if s is not None]
    problems += shift_move_problems(
        person=counterpart, shift_in=offered, shift_out=wanted, ignore_ids=ignore
    )
    if wanted is not None:
        problems += shift_move_problems(
            person=requester, shift_in=wanted, shift_out=offered, ignore_ids=ignore
        )
    return problems


def give_away_problem(
    *, person: Person, shift: Shift, rules: SwapRules, exclude_request_id: int | None = None
) -> Problem | None:
    """The program's cap on shifts one person gives away (nothing back) per block. Posts made by
    a coordinator for a sick call do not count."""
    cap = rules.give_away_cap_per_block
    if cap is None:
        return None
    block = block_of_shift(shift)
    if block is None:
        return None
    given = (
        SwapRequest.objects.filter(
            unit=SwapRequest.Unit.SHIFT,
            requester=person,
            status__in=[*SwapRequest.OPEN_STATUSES, SwapRequest.Status.EXECUTED],
            kind__in=[SwapRequest.Kind.GIVE_AWAY, SwapRequest.Kind.OPEN],
            wanted_shift__isnull=True,
            offered_shift__date__range=(block.start_date, block.end_date),
        )
        .exclude(pk=exclude_request_id)
        .filter(sick_call__isnull=True)
        .count()
    )
    if given >= cap:
        return (
            "cap",
            f"{person.name} already gives away {given} shift(s) in block {block.number}; "
            f"the program allows {cap} per block.",
        )
    return None


# --- What pages offer -----------------------------------------------------------------------


def tradeable_shifts(*, person: Person, now: datetime.datetime | None = None) -> QuerySet[Shift]:
    """``person``'s shifts that may still be offered (outside the notice period)."""
    now = now or timezone.now()
    rules = SwapRules.current()
    first = now + datetime.timedelta(hours=rules.shift_notice_hours)
    return (
        Shift.objects.filter(person=person, starts_at__gt=first)
        .select_related("person", "shift_type")
        .order_by("starts_at")
    )


@dataclass(frozen=True)
class TradeOption:
    """One legal trade for a chosen shift: ``colleague`` takes ``gives`` and, one-to-one, hands
    over ``gets`` (None: a give-away)."""

    colleague: Person
    gives: Shift
    gets: Shift | None


def shift_trade_options(
    *, shift: Shift, now: datetime.datetime | None = None, limit: int = 60
) -> list[TradeOption]:
    """The trades the services would accept right now for ``shift``: give-aways to each free,
    eligible colleague, and one-to-one trades for colleagues' shifts (within four weeks either
    side) where both sides pass every rule. Bounded by ``limit`` options."""
    now = now or timezone.now()
    rules = SwapRules.current()
    owner = shift.person
    if shift_notice_problem(shift=shift, now=now, rules=rules):
        return []
    colleagues = list(
        Person.objects.filter(kind=owner.kind, active=True).exclude(pk=owner.pk).order_by("name")
    )
    options: list[TradeOption] = []
    if give_away_problem(person=owner, shift=shift, rules=rules) is None:
        for colleague in colleagues:
            if not shift_trade_problems(
                requester=owner, counterpart=colleague, offered=shift, wanted=None, rules=rules
            ):
                options.append(TradeOption(colleague=colleague, gives=shift, gets=None))
    first = now + datetime.timedelta(hours=rules.shift_notice_hours)
    window = datetime.timedelta(days=28)
    theirs = (
        Shift.objects.filter(
            person__in=colleagues,
            starts_at__gt=first,
            date__range=(shift.date - window, shift.date + window),
        )
        .select_related("person", "shift_type")
        .order_by("starts_at")
    )
    for other in theirs:
        if len(options) >= limit:
            break
        if not shift_trade_problems(
            requester=owner, counterpart=other.person, offered=shift, wanted=other, rules=rules
        ):
            options.append(TradeOption(colleague=other.person, gives=shift, gets=other))
    return options[:limit]


def open_shift_offers(
    *, person: Person | None = None, now: datetime.datetime | None = None
) -> list[SwapRequest]:
    """Pending open shift offers (the pool); with ``person``: only those they could take now
    (same rules as execution)."""
    now = now or timezone.now()
    rules = SwapRules.current()
    offers = (
        SwapRequest.objects.filter(
            unit=SwapRequest.Unit.SHIFT,
            kind=SwapRequest.Kind.OPEN,
            status=SwapRequest.Status.PENDING,
            offered_shift__isnull=False,
        )
        .select_related(*SHIFT_RELATED)
        .order_by("offered_shift__starts_at", "pk")
    )
    if person is None:
        return list(offers)
    result = []
    for offer in offers.filter(requester__kind=person.kind).exclude(requester=person):
        shift = offer.offered_shift
        if shift.person_id != offer.requester_id or shift.version != offer.offered_version:
            continue
        if offer.sick_call_id is None and shift_notice_problem(shift=shift, now=now, rules=rules):
            continue
        if shift_trade_problems(
            requester=offer.requester, counterpart=person, offered=shift, wanted=None, rules=rules
        ):
            continue
        result.append(offer)
    return result


# --- Sick calls -----------------------------------------------------------------------------


def open_sick_calls() -> QuerySet[SickCall]:
    return (
        SickCall.objects.filter(resolved_at__isnull=True)
        .select_related("shift__shift_type", "shift__person", "person")
        .order_by("shift__starts_at", "pk")
    )


def uncovered_shift_ids(*, start: datetime.date, end: datetime.date) -> set[int]:
    return set(
        SickCall.objects.filter(
            resolved_at__isnull=True, shift__date__range=(start, end)
        ).values_list("shift_id", flat=True)
    )


@dataclass(frozen=True)
class Replacement:
    person: Person
    problems: list[str]
    post_call: bool
    backup: bool
    burden: int

    @property
    def compliant(self) -> bool:
        return not self.problems


def sick_call_replacements(*, sick_call: SickCall) -> list[Replacement]:
    """Colleagues who could cover the shift, ranked: compliant after taking it first, then not
    post-call, then whoever holds backup (home) call that day, then fewest burden points this
    academic year, then name. The problems of the others are listed with their numbers."""
    shift = sick_call.shift
    staffed = shift.shift_type.staffed_by
    kind = Person.Kind.FACULTY if staffed == ShiftType.StaffedBy.FACULTY else Person.Kind.RESIDENT
    people = list(
        Person.objects.filter(kind=kind, active=True)
        .exclude(pk=sick_call.person_id)
        .order_by("name")
    )
    year = year_of_shift(shift)
    year_range = (year.start_date, year.end_date) if year else (shift.date, shift.date)
    burden = dict(
        Shift.objects.filter(person__in=people, date__range=year_range)
        .values("person")
        .annotate(points=Sum("shift_type__burden_points"))
        .values_list("person", "points")
    )
    backup = set(
        Shift.objects.filter(
            person__in=people, date=shift.date, shift_type__kind=ShiftType.Kind.HOME_CALL
        ).values_list("person_id", flat=True)
    )
    # Post-call: a shift of theirs imposing rest has ended less than that rest before this one.
    post_call = set()
    for other in Shift.objects.filter(
        person__in=people,
        ends_at__lte=shift.starts_at,
        ends_at__gt=shift.starts_at - datetime.timedelta(hours=48),
        shift_type__rest_after_hours__gt=0,
    ).select_related("shift_type"):
        rest = datetime.timedelta(hours=float(other.shift_type.rest_after_hours))
        if other.ends_at + rest > shift.starts_at:
            post_call.add(other.person_id)
    result = [
        Replacement(
            person=person,
            problems=[
                message
                for _reason, message in shift_move_problems(
                    person=person, shift_in=shift, shift_out=None, ignore_ids=[shift.pk]
                )
            ],
            post_call=person.pk in post_call,
            backup=person.pk in backup,
            burden=burden.get(person.pk) or 0,
        )
        for person in people
    ]
    result.sort(key=lambda r: (not r.compliant, r.post_call, not r.backup, r.burden, r.person.name))
    return result


def shift_requests_for(*, person: Person) -> QuerySet[SwapRequest]:
    """Shift requests ``person`` made or received (any status), newest first."""
    return (
        SwapRequest.objects.filter(unit=SwapRequest.Unit.SHIFT)
        .filter(Q(requester=person) | Q(counterpart=person))
        .select_related(*SHIFT_RELATED)[:50]
    )
