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
    deleted by a regeneration (they can only expire; the matcher expires them)."""
    return (
        SwapRequest.objects.filter(
            counterpart=person,
            status=SwapRequest.Status.PENDING,
            kind__in=[SwapRequest.Kind.ONE_TO_ONE, SwapRequest.Kind.GIVE_AWAY],
            offered__isnull=False,
        )
        .exclude(wanted__isnull=True, wanted_version__isnull=False)
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
