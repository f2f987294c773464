"""The request workflow: create, accept (or take an open offer), decline, cancel, and the
coordinator's reject and approve."""

from __future__ import annotations

import datetime

import django_rq
from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from residency.errors import Busy
from residency.locking import locked_transaction, schedule_lock_shared
from residency.models import Assignment, Person
from swaps.errors import SwapRefused
from swaps.models import SwapEvent, SwapRequest
from swaps.notifications import swap_transition_notify
from swaps.selectors import (
    assignment_is_pointless_trade,
    assignment_label,
    colleague_assignment_label,
    giving_back_for,
    notice_problem,
    swap_exchange_problems,
    today_local,
)
from swaps.services import shift_trades
from swaps.services.common import (
    Kind,
    Status,
    _counterpart_of_wanted,
    _expire_if_stale,
    _lock_assignments,
    _lock_swap,
    _record,
    _refuse_bad_kind,
    _refuse_unless_pending,
    _swap_unlocked,
    _take_schedule_lock,
    logger,
)
from swaps.services.execution import _checked_rows, _execute_locked

_POINTLESS = (
    "That is the same rotation in the same block: the trade would change nothing. "
    "Choose an assignment in another block or on another rotation."
)

# --- create ---------------------------------------------------------------------------------


def _assignment_for_request(assignment_id, field: str) -> Assignment:
    try:
        return Assignment.objects.select_related("person", "block", "rotation").get(
            pk=assignment_id
        )
    except (Assignment.DoesNotExist, ValueError, TypeError):
        raise SwapRefused(
            "That assignment does not exist.", reason="invalid", field=field
        ) from None


@transaction.atomic
def swap_request_create(
    *,
    requester: Person,
    kind: str,
    offered_id: int,
    counterpart: Person | None = None,
    wanted_id: int | None = None,
    message: str = "",
    by=None,
    today: datetime.date | None = None,
) -> SwapRequest:
    """Record a pending request. The rules are checked now (so a doomed request is refused at
    once) and again, under locks, when it executes. The matcher runs after commit."""
    today = today or today_local()
    offered = _assignment_for_request(offered_id, "offered")
    # The year's schedule lock, shared: generation's write phase (exclusive) deletes the rows a
    # request points at. Without it a request could commit a reference to a row generation has
    # just deleted (a foreign key violation at commit, a 500). With it, either the request
    # commits first (and generation's delete nulls its reference) or generation does (and the
    # re-read below finds the row gone); during the write phase the request is refused (503).
    schedule_lock_shared(
        academic_year_id=offered.block.academic_year_id,
        year_label=str(offered.block.academic_year),
    )
    offered = _assignment_for_request(offered_id, "offered")
    if offered.person_id != requester.pk:
        raise SwapRefused(
            "You can only offer your own assignments.", reason="not_allowed", field="offered"
        )
    if kind not in Kind.values:
        raise SwapRefused("Choose a kind of swap.", reason="invalid", field="kind")
    if len(message) > 1000:
        raise SwapRefused(
            "The message is limited to 1000 characters.", reason="invalid", field="message"
        )
    problem = notice_problem(block=offered.block, today=today)
    if problem:
        raise SwapRefused(problem, reason="block_started", field="offered")

    wanted = None
    _refuse_bad_kind(
        kind=kind, counterpart=counterpart, wanted_given=bool(wanted_id), thing="assignment"
    )
    if kind not in (Kind.OPEN, Kind.GIVE_AWAY):  # one-to-one
        wanted = _assignment_for_request(wanted_id, "wanted")
        counterpart = _counterpart_of_wanted(
            wanted=wanted, counterpart=counterpart, thing="assignment"
        )
        if wanted.block.academic_year_id != offered.block.academic_year_id:
            raise SwapRefused(
                "Both assignments must be in the same academic year.",
                reason="invalid",
                field="wanted",
            )
        problem = notice_problem(block=wanted.block, today=today)
        if problem:
            raise SwapRefused(problem, reason="block_started", field="wanted")
        if assignment_is_pointless_trade(offered=offered, wanted=wanted):
            raise SwapRefused(_POINTLESS, reason="invalid", field="wanted")

    if counterpart is not None:
        if counterpart.pk == requester.pk:
            raise SwapRefused(
                "You cannot swap with yourself.", reason="invalid", field="counterpart"
            )
        if counterpart.kind != requester.kind:
            raise SwapRefused(
                "Swaps are between two residents or between two faculty members.",
                reason="invalid",
                field="counterpart",
            )
        problems = swap_exchange_problems(
            requester=requester, counterpart=counterpart, offered=offered, wanted=wanted
        )
        if problems:
            raise SwapRefused(" ".join(problems), reason="ineligible")

    duplicate = SwapRequest.objects.filter(
        requester=requester,
        kind=kind,
        offered=offered,
        counterpart=counterpart,
        wanted=wanted,
        status__in=SwapRequest.OPEN_STATUSES,
    )
    if duplicate.exists():
        raise SwapRefused("You already have an open request for this.", reason="duplicate")

    swap = SwapRequest(
        academic_year_id=offered.block.academic_year_id,
        kind=kind,
        requester=requester,
        counterpart=counterpart,
        offered=offered,
        offered_version=offered.version,
        offered_label=assignment_label(offered),
        wanted=wanted,
        wanted_version=wanted.version if wanted else None,
        wanted_label=colleague_assignment_label(wanted) if wanted else "",
        message=message,
    )
    swap.full_clean()
    swap.save()
    SwapEvent.objects.create(
        swap_request=swap,
        to_status=Status.PENDING,
        actor=by,
        actor_label=requester.name,
        note=message[:500],
    )
    swap_transition_notify(swap=swap, to_status=Status.PENDING, by=by, note=message)
    transaction.on_commit(lambda: _enqueue_matcher(swap_request_id=swap.pk))
    return swap


def _enqueue_matcher(*, swap_request_id: int) -> None:
    """Queue the matcher for this request's year. The request is already committed; if Redis is
    down we only log: the matcher also runs on demand (admin action, `manage.py match_swaps`)."""
    try:
        django_rq.get_queue("default").enqueue(
            "swaps.jobs.match_swaps", swap_request_id=swap_request_id
        )
    except (RedisError, OSError) as error:
        logger.warning(
            "Could not queue the swap matcher for request #%s (%s); run `manage.py match_swaps`.",
            swap_request_id,
            error,
        )


# --- accept, decline, cancel ----------------------------------------------------------------


def swap_request_accept(
    *,
    swap_request_id: int,
    person: Person,
    by=None,
    today: datetime.date | None = None,
    actor_label: str = "",
    note: str = "",
) -> SwapRequest:
    """The named colleague accepts, or ``person`` takes an open offer (giving back their own
    assignment in that block, if they have one). Without ROTA_SWAPS_REQUIRE_APPROVAL the swap
    executes in the same transaction; otherwise it waits, accepted, for a coordinator.
    Shift requests take the same workflow through ``shift_trades`` (their own locks)."""
    if shift_trades.is_shift_request(swap_request_id):
        return shift_trades.shift_request_accept(
            swap_request_id=swap_request_id,
            person=person,
            by=by,
            actor_label=actor_label,
            note=note,
        )
    return _expire_if_stale(
        swap_request_id,
        lambda: _accept(
            swap_request_id=swap_request_id,
            taker=person,
            by=by,
            today=today or today_local(),
            actor_label=actor_label or person.name,
            note=note,
        ),
    )


@locked_transaction
def _accept(*, swap_request_id, taker: Person, by, today, actor_label: str, note: str):
    swap = _swap_unlocked(swap_request_id)
    _take_schedule_lock(swap)
    giving_back = None
    if swap.kind == Kind.OPEN and swap.offered is not None:
        giving_back = giving_back_for(taker=taker, offered=swap.offered)
    locked = _lock_assignments(
        [swap.offered_id, swap.wanted_id, giving_back.pk if giving_back else None]
    )
    swap = _lock_swap(swap_request_id)
    _refuse_unless_pending(swap)

    if swap.kind == Kind.OPEN:
        if taker.pk == swap.requester_id:
            raise SwapRefused("You cannot take your own offer.", reason="not_allowed")
        if taker.kind != swap.requester.kind:
            raise SwapRefused(
                "Open offers are taken by colleagues of the same kind (resident or faculty).",
                reason="ineligible",
            )
        if giving_back is not None:
            giving_back = locked.get(giving_back.pk)
            if giving_back is None or giving_back.person_id != taker.pk:
                raise Busy("Your schedule changed while you took this offer. Try again.")
            offered_now = locked.get(swap.offered_id) if swap.offered_id else None
            if offered_now is not None and assignment_is_pointless_trade(
                offered=offered_now, wanted=giving_back
            ):
                raise SwapRefused(_POINTLESS, reason="invalid")
        swap.counterpart = taker
        swap.wanted = giving_back
        swap.wanted_version = giving_back.version if giving_back else None
        swap.wanted_label = colleague_assignment_label(giving_back) if giving_back else ""
    elif taker.pk != swap.counterpart_id:
        raise SwapRefused(
            f"Only {swap.counterpart.name} can accept this request.", reason="not_allowed"
        )

    if settings.ROTA_SWAPS_REQUIRE_APPROVAL:
        # Checked now so nobody accepts a swap that cannot happen; checked again at execution.
        _checked_rows(swap, locked, today=today)
        _record(swap, Status.ACCEPTED, by=by, actor_label=actor_label, note=note)
        return swap
    _record(swap, Status.ACCEPTED, by=by, actor_label=actor_label, note=note)
    _execute_locked(swap, locked, by=by, actor_label=actor_label, today=today)  # checks first
    return swap


@locked_transaction
def _close(
    *, swap_request_id: int, to_status: str, allowed: tuple, check, by, actor_label: str, note=""
) -> SwapRequest:
    swap = _lock_swap(swap_request_id)
    check(swap)
    if swap.status not in allowed:
        raise SwapRefused(
            f"This request is no longer pending: it was {swap.get_status_display().lower()}.",
            reason="not_pending",
        )
    _record(swap, to_status, by=by, actor_label=actor_label, note=note)
    return swap


def swap_request_decline(*, swap_request_id: int, person: Person, by=None) -> SwapRequest:
    """The named colleague says no."""

    def check(swap: SwapRequest) -> None:
        if swap.kind == Kind.OPEN or swap.counterpart_id != person.pk:
            raise SwapRefused("Only the colleague asked can decline.", reason="not_allowed")

    return _close(
        swap_request_id=swap_request_id,
        to_status=Status.DECLINED,
        allowed=(Status.PENDING,),
        check=check,
        by=by,
        actor_label=person.name,
    )


def swap_request_cancel(*, swap_request_id: int, person: Person, by=None) -> SwapRequest:
    """The requester withdraws a request that nobody has accepted yet."""

    def check(swap: SwapRequest) -> None:
        if swap.requester_id != person.pk:
            raise SwapRefused("Only the requester can cancel.", reason="not_allowed")

    return _close(
        swap_request_id=swap_request_id,
        to_status=Status.CANCELLED,
        allowed=(Status.PENDING,),
        check=check,
        by=by,
        actor_label=person.name,
    )


# --- coordinator actions -------------------------------------------------------------------


def swap_request_reject(*, swap_request_id: int, by, note: str = "") -> SwapRequest:
    """A coordinator declines a request that has not executed."""
    return _close(
        swap_request_id=swap_request_id,
        to_status=Status.DECLINED,
        allowed=SwapRequest.OPEN_STATUSES,
        check=lambda swap: None,
        by=by,
        actor_label="",
        note=note or "Rejected by a coordinator.",
    )


def swap_request_approve(*, swap_request_id: int, by) -> SwapRequest:
    """A coordinator approves an accepted swap; ``swap_request_execute`` then applies it (kept
    apart so that an approved swap refused for a passing reason, such as generation running,
    stays approved and can be executed later)."""
    return _close(
        swap_request_id=swap_request_id,
        to_status=Status.APPROVED,
        allowed=(Status.ACCEPTED,),
        check=lambda swap: None,
        by=by,
        actor_label="",
    )
