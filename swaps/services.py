"""Every write of the swaps app. Each public service is one transaction (the stale-request
expiry after a refusal is a second, separate one) and raises ``SwapRefused`` (or another
``RotaError``) with a reason; nothing changes when it raises.

Locking (docs/swaps.md): a service that executes or rolls back a swap takes, in this order,
1. the academic year's schedule lock in SHARED mode (refused at once while generation writes),
2. every assignment involved, ``SELECT ... FOR UPDATE`` in primary-key order,
3. the swap request row,
4. the other open requests touching the moved assignments (to expire them), in pk order.
Assignments before requests: the expiry step (4) never waits for a request row whose holder is
itself waiting for our assignments, so two swaps over the same rows queue instead of deadlocking.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from redis.exceptions import RedisError

from residency.errors import Busy, Gone, RotaError
from residency.history import SOURCE_SWAP, history_context
from residency.hooks import BlockChange, block_changes_problems
from residency.locking import lock_rows, locked_transaction, schedule_lock_shared
from residency.models import Assignment, Person
from swaps.errors import STALE_REASONS, SwapRefused
from swaps.models import SwapEvent, SwapRequest
from swaps.notifications import swap_transition_notify
from swaps.selectors import (
    assignment_label,
    colleague_assignment_label,
    giving_back_for,
    notice_problem,
    swap_exchange_problems,
    today_local,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
Status = SwapRequest.Status
Kind = SwapRequest.Kind
MATCHER = "auto-matcher"


# --- small helpers -------------------------------------------------------------------------


def _actor_label(by) -> str:
    if by is None:
        return ""
    person = Person.objects.filter(user=by).first()
    return person.name if person else f"coordinator {by.get_username()}"


def _record(swap: SwapRequest, to_status: str, *, by, actor_label: str, note: str = "") -> None:
    """Move ``swap`` to ``to_status`` (the caller holds its row lock), log the transition and
    notify the people concerned (same transaction)."""
    from_status = swap.status
    swap.status = to_status
    with history_context(source=SOURCE_SWAP, actor=f"swap #{swap.pk}", by=by):
        swap.save()
    SwapEvent.objects.create(
        swap_request=swap,
        from_status=from_status,
        to_status=to_status,
        actor=by,
        actor_label=actor_label or _actor_label(by),
        note=note[:500],
    )
    swap_transition_notify(swap=swap, to_status=to_status, by=by, note=note)


def _swap_unlocked(swap_request_id: int) -> SwapRequest:
    try:
        return SwapRequest.objects.select_related("academic_year", "offered").get(
            pk=swap_request_id
        )
    except SwapRequest.DoesNotExist:
        raise Gone("This swap request no longer exists.") from None


def _lock_swap(swap_request_id: int) -> SwapRequest:
    # Serialises every action on one request (accept, decline, cancel, the matcher): the loser
    # of two takers of one open offer waits here and then sees that it was taken.
    return (
        SwapRequest.objects.select_for_update(of=("self",))
        .select_related("requester", "counterpart", "academic_year")
        .get(pk=swap_request_id)
    )


def _lock_assignments(ids) -> dict[int, Assignment]:
    ids = {pk for pk in ids if pk is not None}
    rows = lock_rows(
        Assignment.objects.filter(pk__in=ids).select_related("person", "block", "rotation")
    )
    return {row.pk: row for row in rows}


def _take_schedule_lock(swap: SwapRequest) -> None:
    schedule_lock_shared(
        academic_year_id=swap.academic_year_id, year_label=swap.academic_year.label
    )


def _refuse_unless_pending(swap: SwapRequest) -> None:
    if swap.status == Status.PENDING:
        return
    if swap.kind == Kind.OPEN and swap.status in (
        Status.ACCEPTED,
        Status.APPROVED,
        Status.EXECUTED,
    ):
        raise SwapRefused("This offer has already been taken.", reason="already_taken")
    opposite = _opposite_executed(swap) if swap.status == Status.EXPIRED else None
    if opposite is not None:
        raise SwapRefused(
            "This request is no longer pending: the exchange it asked for has already been "
            f"made, by request #{opposite.pk}.",
            reason="not_pending",
        )
    raise SwapRefused(
        f"This request is no longer pending: it was {swap.get_status_display().lower()}.",
        reason="not_pending",
    )


def _opposite_executed(swap: SwapRequest) -> SwapRequest | None:
    """The executed request that made the very exchange ``swap`` asks for (two colleagues asked
    each other for the same exchange; executing one expires the other), or None."""
    if swap.counterpart_id is None or swap.wanted_id is None:
        return None
    return SwapRequest.objects.filter(
        status__in=[Status.EXECUTED],
        requester_id=swap.counterpart_id,
        counterpart_id=swap.requester_id,
        offered_id=swap.wanted_id,
        wanted_id=swap.offered_id,
    ).first()


def _expire_if_stale(swap_request_id: int, call: Callable[[], T]) -> T:
    """Run ``call``; if it refused because an assignment is gone or changed, the request can
    never execute, so mark it expired (in its own transaction) before re-raising."""
    try:
        return call()
    except SwapRefused as error:
        if error.reason in STALE_REASONS:
            _expire(swap_request_id=swap_request_id, note=error.message)
        raise


@locked_transaction
def _expire(*, swap_request_id: int, note: str) -> None:
    swap = _lock_swap(swap_request_id)
    if swap.is_open:
        _record(swap, Status.EXPIRED, by=None, actor_label="system", note=note)


# --- checks and the exchange itself ---------------------------------------------------------


def _checked_rows(
    swap: SwapRequest, locked: dict[int, Assignment], *, today: datetime.date
) -> tuple[Assignment, Assignment | None]:
    """Re-check, under the locks, everything the exchange relies on; return the two rows."""
    offered = locked.get(swap.offered_id) if swap.offered_id else None
    if offered is None:
        raise SwapRefused(
            f"{swap.offered_label}: the assignment no longer exists (the schedule was "
            "regenerated).",
            reason="assignment_gone",
        )
    wanted = None
    if swap.wanted_version is not None:  # something comes back: it must still be there
        wanted = locked.get(swap.wanted_id) if swap.wanted_id else None
        if wanted is None:
            raise SwapRefused(
                f"{swap.wanted_label}: the assignment no longer exists (the schedule was "
                "regenerated).",
                reason="assignment_gone",
            )
    sides = [(offered, swap.requester, swap.offered_version)]
    if wanted is not None:
        sides.append((wanted, swap.counterpart, swap.wanted_version))
    for assignment, owner, version in sides:
        if assignment.person_id != owner.pk or assignment.version != version:
            raise SwapRefused(
                f"{owner.name}'s assignment changed since the request "
                f"(version {version} -> {assignment.version}).",
                reason="assignment_changed",
            )
    for assignment, _owner, _version in sides:
        problem = notice_problem(block=assignment.block, today=today)
        if problem:
            raise SwapRefused(problem, reason="block_started")
    problems = swap_exchange_problems(
        requester=swap.requester, counterpart=swap.counterpart, offered=offered, wanted=wanted
    )
    if problems:
        raise SwapRefused(" ".join(problems), reason="ineligible")
    return offered, wanted


def _exchange(
    *, offered: Assignment, wanted: Assignment | None, offered_to: int, wanted_to: int, by
) -> None:
    """Give ``offered`` to person ``offered_to`` and ``wanted`` (if any) to ``wanted_to``,
    bumping both versions. The caller holds both row locks and has checked the rules."""
    bump = {"version": F("version") + 1, "updated_by": by, "updated_at": timezone.now()}
    rows = Assignment.objects
    try:
        with transaction.atomic():
            if wanted is not None and wanted.block_id == offered.block_id:
                # Same block: exchanging the persons would break unique(person, block) at the
                # first UPDATE (PostgreSQL checks a non-deferrable unique constraint row by row,
                # and that constraint is residency's). So each person keeps their row in the
                # block and the two rows exchange what they hold instead; this is its own
                # inverse, which the rollback relies on.
                rows.filter(pk=offered.pk).update(
                    rotation_id=wanted.rotation_id,
                    role=wanted.role,
                    notes=wanted.notes,
                    pinned=wanted.pinned,
                    **bump,
                )
                rows.filter(pk=wanted.pk).update(
                    rotation_id=offered.rotation_id,
                    role=offered.role,
                    notes=offered.notes,
                    pinned=offered.pinned,
                    **bump,
                )
            else:
                rows.filter(pk=offered.pk).update(person_id=offered_to, **bump)
                if wanted is not None:
                    rows.filter(pk=wanted.pk).update(person_id=wanted_to, **bump)
    except IntegrityError as error:
        # unique(person, block) is the last word on double booking, whatever raced the checks.
        raise SwapRefused(
            "The swap would book someone twice in one block.", reason="ineligible"
        ) from error


def _execute_locked(swap: SwapRequest, locked, *, by, actor_label: str, today, note="") -> None:
    offered, wanted = _checked_rows(swap, locked, today=today)
    # The daily layer (residency.hooks): shifts the people hold must still be theirs to hold.
    problems = block_changes_problems(
        _swap_block_changes(
            offered=offered,
            wanted=wanted,
            requester_id=swap.requester_id,
            counterpart_id=swap.counterpart_id,
        )
    )
    if problems:
        raise SwapRefused(" ".join(problems), reason="ineligible")
    with history_context(source=SOURCE_SWAP, actor=f"swap #{swap.pk}", by=by):
        _exchange(
            offered=offered,
            wanted=wanted,
            offered_to=swap.counterpart_id,
            wanted_to=swap.requester_id,
            by=by,
        )
    moved = [a.pk for a in (offered, wanted) if a is not None]
    versions = dict(Assignment.objects.filter(pk__in=moved).values_list("pk", "version"))
    swap.offered_version_after = versions[offered.pk]
    swap.wanted_version_after = versions[wanted.pk] if wanted else None
    swap.executed_at = timezone.now()
    _record(swap, Status.EXECUTED, by=by, actor_label=actor_label, note=note)
    _expire_touching(swap, ids=list(versions))


def _swap_block_changes(
    *, offered: Assignment, wanted: Assignment | None, requester_id: int, counterpart_id: int
) -> list[BlockChange]:
    """What the two people hold in the swapped blocks afterwards (see ``_exchange``)."""
    ob = offered.block
    if wanted is not None and wanted.block_id == offered.block_id:
        start, end = ob.start_date, ob.end_date
        return [
            BlockChange(requester_id, start, end, offered.rotation_id, wanted.rotation_id),
            BlockChange(counterpart_id, start, end, wanted.rotation_id, offered.rotation_id),
        ]
    changes = [
        BlockChange(counterpart_id, ob.start_date, ob.end_date, None, offered.rotation_id),
        BlockChange(requester_id, ob.start_date, ob.end_date, offered.rotation_id, None),
    ]
    if wanted is not None:
        wb = wanted.block
        changes += [
            BlockChange(requester_id, wb.start_date, wb.end_date, None, wanted.rotation_id),
            BlockChange(counterpart_id, wb.start_date, wb.end_date, wanted.rotation_id, None),
        ]
    return changes


def _is_opposite(request: SwapRequest, executed: SwapRequest) -> bool:
    return (
        request.requester_id == executed.counterpart_id
        and request.counterpart_id == executed.requester_id
        and request.offered_id == executed.wanted_id
        and request.wanted_id == executed.offered_id
    )


def _expire_touching(swap: SwapRequest, *, ids: list[int]) -> None:
    """Every other open request over a moved assignment can no longer execute as asked."""
    # Locked (after the assignments, like every swap path) so a concurrent accept of one of
    # these requests either finishes first or sees it expired; never both.
    others = lock_rows(
        SwapRequest.objects.filter(Q(offered_id__in=ids) | Q(wanted_id__in=ids))
        .filter(status__in=SwapRequest.OPEN_STATUSES)
        .exclude(pk=swap.pk)
    )
    for other in others:
        _record(
            other,
            Status.EXPIRED,
            by=None,
            actor_label="system",
            note=(
                f"Swap #{swap.pk} already made the exchange this request asked for."
                if _is_opposite(other, swap)
                else f"Swap #{swap.pk} moved one of its assignments."
            ),
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
    if kind == Kind.OPEN:
        if counterpart is not None or wanted_id:
            raise SwapRefused(
                "An open offer names no colleague and no assignment: anyone eligible may take it.",
                reason="invalid",
                field="counterpart",
            )
    elif kind == Kind.GIVE_AWAY:
        if counterpart is None:
            raise SwapRefused(
                "Name the colleague you give it to.", reason="invalid", field="counterpart"
            )
        if wanted_id:
            raise SwapRefused(
                "A give-away asks for nothing in return.", reason="invalid", field="wanted"
            )
    else:
        if not wanted_id:
            raise SwapRefused(
                "Choose the assignment you want in exchange.", reason="invalid", field="wanted"
            )
        wanted = _assignment_for_request(wanted_id, "wanted")
        if counterpart is not None and counterpart.pk != wanted.person_id:
            raise SwapRefused(
                f"That assignment is {wanted.person.name}'s, not {counterpart.name}'s.",
                reason="invalid",
                field="wanted",
            )
        counterpart = wanted.person
        if wanted.block.academic_year_id != offered.block.academic_year_id:
            raise SwapRefused(
                "Both assignments must be in the same academic year.",
                reason="invalid",
                field="wanted",
            )
        problem = notice_problem(block=wanted.block, today=today)
        if problem:
            raise SwapRefused(problem, reason="block_started", field="wanted")

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
    executes in the same transaction; otherwise it waits, accepted, for a coordinator."""
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


def swap_request_execute(
    *, swap_request_id: int, by=None, today: datetime.date | None = None
) -> SwapRequest:
    """Apply an approved swap (or an accepted one when approval is not required)."""
    return _expire_if_stale(
        swap_request_id,
        lambda: _execute(swap_request_id=swap_request_id, by=by, today=today or today_local()),
    )


@locked_transaction
def _execute(*, swap_request_id: int, by, today) -> SwapRequest:
    swap = _swap_unlocked(swap_request_id)
    _take_schedule_lock(swap)
    locked = _lock_assignments([swap.offered_id, swap.wanted_id])
    swap = _lock_swap(swap_request_id)
    executable = swap.status == Status.APPROVED or (
        swap.status == Status.ACCEPTED and not settings.ROTA_SWAPS_REQUIRE_APPROVAL
    )
    if not executable:
        raise SwapRefused(
            f"Only an approved swap can be executed; this one is "
            f"{swap.get_status_display().lower()}.",
            reason="not_executable",
        )
    _execute_locked(swap, locked, by=by, actor_label="", today=today)
    return swap


def swap_request_rollback(
    *, swap_request_id: int, by, now: datetime.datetime | None = None
) -> SwapRequest:
    """Undo an executed swap within ROTA_SWAP_ROLLBACK_HOURS, if neither assignment changed
    since (otherwise undoing it would overwrite someone's later edit)."""
    return _rollback(swap_request_id=swap_request_id, by=by, now=now or timezone.now())


@locked_transaction
def _rollback(*, swap_request_id: int, by, now: datetime.datetime) -> SwapRequest:
    swap = _swap_unlocked(swap_request_id)
    _take_schedule_lock(swap)
    locked = _lock_assignments([swap.offered_id, swap.wanted_id])
    swap = _lock_swap(swap_request_id)
    if swap.status != Status.EXECUTED:
        raise SwapRefused(
            f"Only an executed swap can be rolled back; this one is "
            f"{swap.get_status_display().lower()}.",
            reason="not_executed",
        )
    hours = settings.ROTA_SWAP_ROLLBACK_HOURS
    if now - swap.executed_at > datetime.timedelta(hours=hours):
        raise SwapRefused(
            f"Swap #{swap.pk} executed at {timezone.localtime(swap.executed_at):%Y-%m-%d %H:%M}; "
            f"it can only be rolled back within {hours} hours.",
            reason="rollback_window",
        )
    sides = [(swap.offered_id, swap.offered_label, swap.offered_version_after)]
    if swap.wanted_version_after is not None:
        sides.append((swap.wanted_id, swap.wanted_label, swap.wanted_version_after))
    for pk, label, version_after in sides:
        row = locked.get(pk) if pk else None
        if row is None:
            raise SwapRefused(
                f"{label}: the assignment no longer exists; it cannot be rolled back.",
                reason="rollback_changed",
            )
        if row.version != version_after:
            raise SwapRefused(
                f"{label}: the assignment changed after the swap (version {version_after} -> "
                f"{row.version}); change it back by hand.",
                reason="rollback_changed",
            )
    offered = locked[swap.offered_id]
    wanted = locked[swap.wanted_id] if swap.wanted_version_after is not None else None
    # The placement rules are not re-checked: a rollback restores exactly the rows as they were.
    # Double booking stays impossible (the unique constraint) and is refused with a message.
    # Shifts added since may depend on the swapped rotations: the daily layer judges it.
    same_block = wanted is not None and wanted.block_id == offered.block_id
    problems = block_changes_problems(
        _swap_block_changes(
            offered=offered,
            wanted=wanted,
            requester_id=swap.requester_id if same_block else swap.counterpart_id,
            counterpart_id=swap.counterpart_id if same_block else swap.requester_id,
        )
    )
    if problems:
        raise SwapRefused(" ".join(problems), reason="rollback_changed")
    with history_context(source=SOURCE_SWAP, actor=f"swap #{swap.pk} (rolled back)", by=by):
        _exchange(
            offered=offered,
            wanted=wanted,
            offered_to=swap.requester_id,
            wanted_to=swap.counterpart_id,
            by=by,
        )
    _record(swap, Status.ROLLED_BACK, by=by, actor_label="")
    return swap


# --- regenerated schedules and the matcher -------------------------------------------------


@locked_transaction
def swap_requests_expire_stale(*, academic_year_id: int | None = None) -> int:
    """Expire open requests whose assignments were deleted (SET_NULL: the schedule was
    regenerated). Generation may call this after its write phase; the matcher always does."""
    stale = SwapRequest.objects.filter(status__in=SwapRequest.OPEN_STATUSES).filter(
        Q(offered__isnull=True) | Q(wanted__isnull=True, wanted_version__isnull=False)
    )
    if academic_year_id is not None:
        stale = stale.filter(academic_year_id=academic_year_id)
    # Locked so an accept racing the expiry either executes first (and the row is no longer
    # open when we look) or finds the request expired: it is never both executed and expired.
    rows = lock_rows(stale)
    for swap in rows:
        _record(
            swap,
            Status.EXPIRED,
            by=None,
            actor_label="system",
            note="The assignment no longer exists (the schedule was regenerated).",
        )
    return len(rows)


def swap_requests_expire_for_assignments(*, notes: dict[int, str]) -> int:
    """Expire the open requests over these assignments (id -> why, shown to both people), in
    the caller's transaction. Generation's publish calls it for the rows it changes or removes:
    it holds the year's schedule lock exclusively and those rows' locks, so no swap over them is
    executing; the requests are locked after the assignments, as in every swap path, so an
    accept waiting on one of them then finds it expired."""
    if not notes:
        return 0
    ids = list(notes)
    rows = lock_rows(
        SwapRequest.objects.filter(Q(offered_id__in=ids) | Q(wanted_id__in=ids)).filter(
            status__in=SwapRequest.OPEN_STATUSES
        )
    )
    for swap in rows:
        why = notes.get(swap.offered_id) or notes.get(swap.wanted_id) or ""
        _record(swap, Status.EXPIRED, by=None, actor_label="system", note=why)
    return len(rows)


@dataclass
class MatchReport:
    expired: int = 0
    executed: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)  # waiting for a coordinator's approval
    failed: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.executed)} executed", f"{len(self.accepted)} awaiting approval"]
        parts.append(f"{len(self.failed)} refused")
        parts.append(f"{self.expired} expired")
        text = "Swap matcher: " + ", ".join(parts) + "."
        if self.failed:
            text += " " + " ".join(f"#{pk}: {message}" for pk, message in self.failed)
        return text

    def as_dict(self) -> dict:
        return {
            "expired": self.expired,
            "executed": self.executed,
            "accepted": self.accepted,
            "failed": [list(item) for item in self.failed],
        }


def swap_requests_match(
    *, academic_year_id: int | None = None, today: datetime.date | None = None
) -> MatchReport:
    """Find pending requests that satisfy each other and execute them through the same accept
    service a person uses (so a match is exactly as race-safe as a manual accept):
    - A offers X for B's Y, and B offers Y for A's X: A's request is accepted on B's behalf;
    - A offers X for B's Y, and B has an open offer of Y in the same block: A takes the offer,
      giving back X.
    Each match is its own transaction; a refusal is reported and the matcher moves on."""
    today = today or today_local()
    report = MatchReport(expired=swap_requests_expire_stale(academic_year_id=academic_year_id))
    pending = SwapRequest.objects.filter(
        status=Status.PENDING, offered__isnull=False
    ).select_related("offered", "wanted")
    if academic_year_id is not None:
        pending = pending.filter(academic_year_id=academic_year_id)
    pending = list(pending.order_by("created_at", "pk"))
    by_offered: dict[int, list[SwapRequest]] = {}
    for swap in pending:
        by_offered.setdefault(swap.offered_id, []).append(swap)

    used: set[int] = set()
    for swap in pending:
        if swap.kind != Kind.ONE_TO_ONE or swap.pk in used or swap.wanted_id is None:
            continue
        candidates = [other for other in by_offered.get(swap.wanted_id, []) if other.pk not in used]
        mutual = next(
            (
                other
                for other in candidates
                if other.kind == Kind.ONE_TO_ONE
                and other.wanted_id == swap.offered_id
                and other.requester_id == swap.counterpart_id
                and other.counterpart_id == swap.requester_id
            ),
            None,
        )
        open_offer = next(
            (
                other
                for other in candidates
                if other.kind == Kind.OPEN
                and other.requester_id == swap.counterpart_id
                and other.offered.block_id == swap.offered.block_id
            ),
            None,
        )
        if mutual is not None:
            execute_id, partner_id, taker_id = swap.pk, mutual.pk, swap.counterpart_id
        elif open_offer is not None:
            execute_id, partner_id, taker_id = open_offer.pk, swap.pk, swap.requester_id
        else:
            continue
        used.update({execute_id, partner_id})
        try:
            result = swap_request_accept(
                swap_request_id=execute_id,
                person=Person.objects.get(pk=taker_id),
                today=today,
                actor_label=MATCHER,
                note=f"Matched with request #{partner_id}.",
            )
        except RotaError as error:
            report.failed.append((execute_id, error.message))
            continue
        if result.status == Status.EXECUTED:
            report.executed.append(execute_id)
        else:
            report.accepted.append(execute_id)
    return report
