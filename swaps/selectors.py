"""Reads of the swaps app, and the swap rules shared by the services, the pages and the matcher
(so that the marketplace shows exactly the offers that execution would accept)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from residency.models import Assignment, Block, Person, RotationTemplate
from residency.selectors import placement_problems
from swaps.models import SwapEvent, SwapRequest

SWAP_RELATED = (
    "requester",
    "counterpart",
    "academic_year",
    "offered__person",
    "offered__block",
    "offered__rotation",
    "wanted__person",
    "wanted__block",
    "wanted__rotation",
)


def today_local() -> datetime.date:
    return timezone.localdate()


def assignment_label(assignment: Assignment) -> str:
    block = assignment.block
    return (
        f"{assignment.person.name}: {assignment.rotation.name} ({assignment.rotation.code}), "
        f"block {block.number} ({block.start_date:%d %b} - {block.end_date:%d %b %Y})"
    )


def colleague_assignment_label(assignment: Assignment) -> str:
    """A colleague's assignment as the swap builder shows it: a leave block reads
    "unavailable" (that someone is away is the schedule's business; why is not)."""
    if assignment.rotation.kind != RotationTemplate.Kind.LEAVE:
        return assignment_label(assignment)
    block = assignment.block
    return (
        f"{assignment.person.name}: unavailable, "
        f"block {block.number} ({block.start_date:%d %b} - {block.end_date:%d %b %Y})"
    )


def notice_problem(*, block: Block, today: datetime.date) -> str | None:
    """Why ``block`` is too close (or already started) to be swapped, or None."""
    notice_days = settings.ROTA_SWAP_NOTICE_DAYS
    if block.start_date <= today:
        return f"Block {block.number} started on {block.start_date}; it can no longer be swapped."
    if (block.start_date - today).days <= notice_days:
        return (
            f"Block {block.number} starts on {block.start_date}, inside the {notice_days}-day "
            "notice period for swaps."
        )
    return None


def swap_exchange_problems(
    *,
    requester: Person,
    counterpart: Person,
    offered: Assignment,
    wanted: Assignment | None,
) -> list[str]:
    """Every placement rule the exchange would break: ``counterpart`` receives ``offered`` and
    ``requester`` receives ``wanted`` (if any). Both rows are ignored when counting bookings and
    capacity, because both are being replaced by this exchange."""
    ignore = [a.pk for a in (offered, wanted) if a is not None]
    moves = [(counterpart, offered)] + ([(requester, wanted)] if wanted is not None else [])
    problems: list[str] = []
    for person, assignment in moves:
        problems.extend(
            message
            for _field, message in placement_problems(
                person=person,
                block=assignment.block,
                rotation=assignment.rotation,
                role=assignment.role,
                ignore_assignment_ids=ignore,
            )
        )
    return problems


def giving_back_for(*, taker: Person, offered: Assignment) -> Assignment | None:
    """What the taker of an open offer gives back: their own assignment in the offered block, if
    they have one (they cannot hold two in one block); nothing if they are free then."""
    return (
        Assignment.objects.filter(person=taker, block_id=offered.block_id)
        .select_related("person", "block", "rotation")
        .first()
    )


def swap_requests_inbox(*, person: Person) -> QuerySet[SwapRequest]:
    """Pending requests addressed to ``person`` by name, without those whose assignments were
    deleted by a regeneration (they can only expire; the matcher expires them). Shift requests
    likewise without those whose shifts were deleted."""
    blocks = Q(unit=SwapRequest.Unit.BLOCK, offered__isnull=False) & ~Q(
        wanted__isnull=True, wanted_version__isnull=False
    )
    shifts = Q(unit=SwapRequest.Unit.SHIFT, offered_shift__isnull=False) & ~Q(
        wanted_shift__isnull=True, wanted_version__isnull=False
    )
    return (
        SwapRequest.objects.filter(
            counterpart=person,
            status=SwapRequest.Status.PENDING,
            kind__in=[SwapRequest.Kind.ONE_TO_ONE, SwapRequest.Kind.GIVE_AWAY],
        )
        .filter(blocks | shifts)
        .select_related(*SWAP_RELATED)
    )


def _with_last_note(requests: QuerySet[SwapRequest]) -> QuerySet[SwapRequest]:
    """Each request's latest event note as ``last_note`` (why it expired, for instance), in the
    same query."""
    latest = SwapEvent.objects.filter(swap_request=OuterRef("pk")).order_by("-at", "-pk")
    return requests.annotate(last_note=Subquery(latest.values("note")[:1]))


def swap_requests_outgoing(*, person: Person, limit: int = 50) -> QuerySet[SwapRequest]:
    return _with_last_note(
        SwapRequest.objects.filter(requester=person).select_related(*SWAP_RELATED)
    )[:limit]


def swap_requests_answered(*, person: Person, limit: int = 20) -> QuerySet[SwapRequest]:
    """Requests addressed to ``person`` (or open offers they took) that are no longer pending."""
    return _with_last_note(
        SwapRequest.objects.filter(counterpart=person)
        .exclude(status=SwapRequest.Status.PENDING)
        .select_related(*SWAP_RELATED)
    )[:limit]


def swap_request_visible_to(*, person: Person) -> QuerySet[SwapRequest]:
    """Requests ``person`` may see: their own, those addressed to them, and open offers among
    their own kind (resident or faculty; in any status, so that a late taker hears "already
    taken" rather than "not found"). Anything else is answered 404."""
    return SwapRequest.objects.filter(
        Q(requester=person)
        | Q(counterpart=person)
        | Q(kind=SwapRequest.Kind.OPEN, requester__kind=person.kind)
    ).select_related(*SWAP_RELATED)


@dataclass(frozen=True)
class MarketplaceOffer:
    offer: SwapRequest
    giving_back: Assignment | None


def marketplace_offers(
    *, person: Person, today: datetime.date | None = None
) -> list[MarketplaceOffer]:
    """Pending open offers ``person`` could take right now: same kind of person, block not
    started or inside the notice period, assignment unchanged since offered, and every placement
    rule satisfied for both sides (the same check execution repeats under locks)."""
    today = today or today_local()
    first_day = today + datetime.timedelta(days=settings.ROTA_SWAP_NOTICE_DAYS + 1)
    offers = (
        SwapRequest.objects.filter(
            kind=SwapRequest.Kind.OPEN,
            status=SwapRequest.Status.PENDING,
            requester__kind=person.kind,
            offered__isnull=False,
            offered__block__start_date__gte=first_day,
        )
        .exclude(requester=person)
        .select_related(*SWAP_RELATED)
        .order_by("offered__block__start_date", "pk")
    )
    eligible: list[MarketplaceOffer] = []
    for offer in offers:
        offered = offer.offered
        if offered.person_id != offer.requester_id or offered.version != offer.offered_version:
            continue  # changed since it was offered: execution would refuse it
        back = giving_back_for(taker=person, offered=offered)
        if assignment_is_pointless_trade(offered=offered, wanted=back):
            continue
        if swap_exchange_problems(
            requester=offer.requester, counterpart=person, offered=offered, wanted=back
        ):
            continue
        eligible.append(MarketplaceOffer(offer=offer, giving_back=back))
    return eligible


def offerable_assignments(*, person: Person, today: datetime.date | None = None):
    """``person``'s assignments that may still be offered (not started, outside the notice)."""
    today = today or today_local()
    first_day = today + datetime.timedelta(days=settings.ROTA_SWAP_NOTICE_DAYS + 1)
    return (
        Assignment.objects.filter(person=person, block__start_date__gte=first_day)
        .select_related("person", "block", "rotation")
        .order_by("block__start_date")
    )


def wantable_assignments(*, person: Person, today: datetime.date | None = None):
    """Colleagues' assignments ``person`` may ask for: same kind, active, not started."""
    today = today or today_local()
    first_day = today + datetime.timedelta(days=settings.ROTA_SWAP_NOTICE_DAYS + 1)
    return (
        Assignment.objects.filter(
            person__kind=person.kind, person__active=True, block__start_date__gte=first_day
        )
        .exclude(person=person)
        .select_related("person", "block", "rotation")
        .order_by("block__start_date", "person__name")
    )


# --- The swap builder (issue 11): only what would be accepted right now ------------------------
# The builder lists, for one offered assignment, every counterpart that the create service (and
# later the execution) would accept. Each candidate is judged by ``swap_exchange_problems``, the
# function execution uses; a bulk pre-filter only drops candidates that would certainly be
# double-booked (the same rule, read once for everyone instead of once per candidate), so the
# page stays fast in a fully staffed year without judging anything differently.


def assignment_is_pointless_trade(*, offered: Assignment, wanted: Assignment | None) -> bool:
    """Trading a rotation for the same rotation in the same block (same role) changes nothing."""
    return (
        wanted is not None
        and wanted.block_id == offered.block_id
        and wanted.rotation_id == offered.rotation_id
        and wanted.role == offered.role
    )


def rotation_label_for(*, assignment: Assignment, viewer: Person) -> str:
    """A rotation as ``viewer`` may see it: a colleague's leave is only "Unavailable" (why they
    are away is theirs to tell)."""
    if (
        assignment.rotation.kind == RotationTemplate.Kind.LEAVE
        and assignment.person_id != viewer.pk
    ):
        return "Unavailable"
    return f"{assignment.rotation.name} ({assignment.rotation.code})"


def block_label(block: Block) -> str:
    return f"block {block.number} ({block.start_date:%-d %b} to {block.end_date:%-d %b %Y})"


@dataclass(frozen=True)
class SwapOption:
    """One legal choice: give ``offered`` to ``counterpart`` and get ``wanted`` (or nothing)."""

    counterpart: Person
    wanted: Assignment | None
    you_get: str


@dataclass(frozen=True)
class SwapOptions:
    options: list[SwapOption]
    why_none: str = ""  # when ``options`` is empty: why, in words, and what to try instead


def _booked(person_ids, block_ids) -> set[tuple[int, int]]:
    return set(
        Assignment.objects.filter(person_id__in=person_ids, block_id__in=block_ids).values_list(
            "person_id", "block_id"
        )
    )


def swap_one_to_one_options(
    *, person: Person, offered: Assignment, today: datetime.date | None = None
) -> SwapOptions:
    """Colleagues' assignments ``person`` could get for ``offered`` right now."""
    candidates = [
        w
        for w in wantable_assignments(person=person, today=today).filter(
            block__academic_year_id=offered.block.academic_year_id
        )
        if not assignment_is_pointless_trade(offered=offered, wanted=w)
    ]
    booked = _booked(
        {w.person_id for w in candidates} | {person.pk},
        {w.block_id for w in candidates} | {offered.block_id},
    )
    options = []
    for wanted in candidates:
        if wanted.block_id != offered.block_id and (
            (wanted.person_id, offered.block_id) in booked or (person.pk, wanted.block_id) in booked
        ):
            continue  # someone would hold two assignments in one block
        if swap_exchange_problems(
            requester=person, counterpart=wanted.person, offered=offered, wanted=wanted
        ):
            continue
        options.append(
            SwapOption(
                counterpart=wanted.person,
                wanted=wanted,
                you_get=f"{rotation_label_for(assignment=wanted, viewer=person)}, "
                f"{block_label(wanted.block)}",
            )
        )
    why = ""
    if not options:
        why = (
            f"Nobody could take {offered.rotation.name} in block {offered.block.number} for one "
            "of their assignments right now: in a block where everyone is booked, a trade is "
            "only possible with someone in the same block whose rotation you may take and who "
            "may take yours (PGY level, absences, capacity). Try an open offer: it stays on the "
            "marketplace until someone can take it."
        )
    return SwapOptions(options=options, why_none=why)


def swap_give_away_options(*, person: Person, offered: Assignment) -> SwapOptions:
    """Colleagues who could be given ``offered`` right now (they must be free in its block),
    or why there are none."""
    colleagues = list(
        Person.objects.filter(kind=person.kind, active=True).exclude(pk=person.pk).order_by("name")
    )
    booked = _booked([c.pk for c in colleagues], [offered.block_id])
    free = [c for c in colleagues if (c.pk, offered.block_id) not in booked]
    options, reasons = [], []
    for colleague in free:
        problems = swap_exchange_problems(
            requester=person, counterpart=colleague, offered=offered, wanted=None
        )
        if problems:
            reasons.append(problems[0])
            continue
        options.append(SwapOption(counterpart=colleague, wanted=None, you_get="nothing"))
    why = ""
    if not options:
        kind = "residents" if person.is_resident else "faculty members"
        if not colleagues:
            why = f"There are no other {kind} to give it to."
        elif not free:
            why = (
                f"All {len(colleagues)} other {kind} are already booked in block "
                f"{offered.block.number}, and nobody can hold two assignments in one block. "
                "A give-away only works with someone who is free then. Offer a one-to-one swap "
                "or an open offer instead."
            )
        else:
            why = (
                f"{len(free)} {kind} are free in block {offered.block.number}, but none may take "
                f"{offered.rotation.name}: " + " ".join(sorted(set(reasons))[:3])
            )
    return SwapOptions(options=options, why_none=why)
