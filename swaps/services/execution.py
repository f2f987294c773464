"""Executing and rolling back a block swap: the checks under locks and the exchange itself."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from residency.history import SOURCE_SWAP, history_context
from residency.hooks import BlockChange, block_changes_problems
from residency.locking import lock_rows, locked_transaction
from residency.models import Assignment
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from swaps.selectors import notice_problem, swap_exchange_problems, today_local
from swaps.services import shift_trades
from swaps.services.common import (
    Status,
    _expire_if_stale,
    _lock_assignments,
    _lock_swap,
    _record,
    _refuse_unless_rollback_allowed,
    _swap_unlocked,
    _take_schedule_lock,
)

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


def swap_request_execute(
    *, swap_request_id: int, by=None, today: datetime.date | None = None
) -> SwapRequest:
    """Apply an approved swap (or an accepted one when approval is not required)."""
    if shift_trades.is_shift_request(swap_request_id):
        return shift_trades.shift_request_execute(swap_request_id=swap_request_id, by=by)
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
    if shift_trades.is_shift_request(swap_request_id):
        return shift_trades.shift_request_rollback(
            swap_request_id=swap_request_id, by=by, now=now or timezone.now()
        )
    return _rollback(swap_request_id=swap_request_id, by=by, now=now or timezone.now())


@locked_transaction
def _rollback(*, swap_request_id: int, by, now: datetime.datetime) -> SwapRequest:
    swap = _swap_unlocked(swap_request_id)
    _take_schedule_lock(swap)
    locked = _lock_assignments([swap.offered_id, swap.wanted_id])
    swap = _lock_swap(swap_request_id)
    _refuse_unless_rollback_allowed(swap, now=now)
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
