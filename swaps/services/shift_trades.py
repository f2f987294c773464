"""Shift trades through the swap workflow (same statuses, approval, rollback window, history):
one-to-one (my shift for yours), give-away to a named colleague, and the open pool (first valid
taker wins); and sick-call coverage, which moves a shift with the same checks.

Lock order (every path here; docs/swaps.md):
1. the academic year's schedule lock, SHARED (as block swaps: refused while generation writes);
2. the people involved (requester, counterpart or taker, the sick person), ``lock_people``,
   primary-key order. Duty hours span a person's rows over four weeks, so two trades that each
   add six hours to R could both pass the 80-hour check alone (write skew); both hold R's row
   here, so the second judges R's hours after the first;
3. the shifts moved, ``SELECT ... FOR UPDATE`` in primary-key order;
4. the request row; then the other open requests touching the moved shifts (to expire them);
5. the open sick-call rows of the moved shifts.
People before shifts is the order of ``shifts.services`` (people, then shift types, then the
shift written), so a trade and a coordinator's shift edit queue on the person instead of
deadlocking. Multi-shift trades are out of scope: a request moves one shift each way.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from residency.history import SOURCE_SWAP, history_context
from residency.locking import lock_people, lock_rows, locked_transaction
from residency.models import Person
from shifts.models import Shift, SickCall
from swaps.errors import RULE_REASONS, STALE_REASONS, SwapRefused
from swaps.models import SwapEvent, SwapRequest, SwapRules
from swaps.notifications import swap_transition_notify
from swaps.services.common import (
    Kind,
    Status,
    _counterpart_of_wanted,
    _expire,
    _lock_swap,
    _record,
    _refuse_bad_kind,
    _refuse_unless_pending,
    _refuse_unless_rollback_allowed,
    _swap_unlocked,
    _take_schedule_lock,
)
from swaps.shift_selectors import (
    give_away_problem,
    shift_label,
    shift_notice_problem,
    shift_trade_problems,
    year_of_shift,
)

T = TypeVar("T")


def is_shift_request(swap_request_id: int) -> bool:
    unit = SwapRequest.objects.filter(pk=swap_request_id).values_list("unit", flat=True).first()
    return unit == SwapRequest.Unit.SHIFT


def _refuse(problems: list[tuple[str, str]]) -> None:
    if problems:
        reason = problems[0][0]
        raise SwapRefused(" ".join(message for _r, message in problems), reason=reason)


def _shift_or_refuse(shift_id, field: str) -> Shift:
    try:
        return Shift.objects.select_related("person", "shift_type").get(pk=shift_id)
    except (Shift.DoesNotExist, ValueError, TypeError):
        raise SwapRefused("That shift does not exist.", reason="invalid", field=field) from None


def _lock_shifts(ids) -> dict[int, Shift]:
    ids = {pk for pk in ids if pk is not None}
    rows = lock_rows(Shift.objects.filter(pk__in=ids).select_related("person", "shift_type"))
    return {row.pk: row for row in rows}


def _after_refusal(swap_request_id: int, call: Callable[[], T]) -> T:
    """Run ``call``. If it refused because a shift is gone or changed, the request can never
    execute: expire it. If a rule refused it (duty hours, eligibility, notice, cap), record the
    reason with its numbers on the request. Each in its own transaction, after the refused one
    rolled back: the refusal itself changed nothing."""
    try:
        return call()
    except SwapRefused as error:
        if error.reason in STALE_REASONS:
            _expire(swap_request_id=swap_request_id, note=error.message)
        elif error.reason in RULE_REASONS:
            _note_refusal(swap_request_id=swap_request_id, note=error.message)
        raise


@locked_transaction
def _note_refusal(*, swap_request_id: int, note: str) -> None:
    swap = _lock_swap(swap_request_id)
    swap.refusal = note[:2000]
    swap.save(update_fields=["refusal", "updated_at"])
    SwapEvent.objects.create(
        swap_request=swap,
        from_status=swap.status,
        to_status=swap.status,
        actor_label="system",
        note=f"Refused: {note}"[:500],
    )


# --- create ---------------------------------------------------------------------------------


@transaction.atomic
def shift_swap_request_create(
    *,
    requester: Person,
    kind: str,
    offered_shift_id: int,
    counterpart: Person | None = None,
    wanted_shift_id: int | None = None,
    message: str = "",
    by=None,
    now: datetime.datetime | None = None,
    sick_call: SickCall | None = None,
) -> SwapRequest:
    """Record a pending shift request after the same checks execution repeats under locks (so a
    doomed request is refused at once). ``sick_call``: a coordinator posts a sick person's
    shift to the pool (no notice period, not counted against their give-away cap)."""
    now = now or timezone.now()
    rules = SwapRules.current()
    offered = _shift_or_refuse(offered_shift_id, "offered")
    if offered.person_id != requester.pk:
        raise SwapRefused(
            "You can only offer your own shifts.", reason="not_allowed", field="offered"
        )
    if kind not in Kind.values:
        raise SwapRefused("Choose a kind of trade.", reason="invalid", field="kind")
    if len(message) > 1000:
        raise SwapRefused(
            "The message is limited to 1000 characters.", reason="invalid", field="message"
        )
    year = year_of_shift(offered)
    if year is None:
        raise SwapRefused(
            "This shift is outside every academic year.", reason="invalid", field="offered"
        )
    if sick_call is None:
        problem = shift_notice_problem(shift=offered, now=now, rules=rules)
        if problem:
            raise SwapRefused(problem[1], reason=problem[0], field="offered")

    wanted = None
    _refuse_bad_kind(
        kind=kind, counterpart=counterpart, wanted_given=bool(wanted_shift_id), thing="shift"
    )
    if kind not in (Kind.OPEN, Kind.GIVE_AWAY):  # one-to-one
        wanted = _shift_or_refuse(wanted_shift_id, "wanted")
        counterpart = _counterpart_of_wanted(wanted=wanted, counterpart=counterpart, thing="shift")
        problem = shift_notice_problem(shift=wanted, now=now, rules=rules)
        if problem:
            raise SwapRefused(problem[1], reason=problem[0], field="wanted")

    if wanted is None and sick_call is None:
        problem = give_away_problem(person=requester, shift=offered, rules=rules)
        if problem:
            raise SwapRefused(problem[1], reason=problem[0], field="offered")
    if counterpart is not None:
        _refuse(
            shift_trade_problems(
                requester=requester,
                counterpart=counterpart,
                offered=offered,
                wanted=wanted,
                rules=rules,
            )
        )

    duplicate = SwapRequest.objects.filter(
        unit=SwapRequest.Unit.SHIFT,
        requester=requester,
        kind=kind,
        offered_shift=offered,
        counterpart=counterpart,
        wanted_shift=wanted,
        status__in=SwapRequest.OPEN_STATUSES,
    )
    if duplicate.exists():
        raise SwapRefused("You already have an open request for this.", reason="duplicate")

    swap = SwapRequest(
        academic_year=year,
        unit=SwapRequest.Unit.SHIFT,
        kind=kind,
        requester=requester,
        counterpart=counterpart,
        offered_shift=offered,
        offered_version=offered.version,
        offered_label=shift_label(offered),
        wanted_shift=wanted,
        wanted_version=wanted.version if wanted else None,
        wanted_label=shift_label(wanted) if wanted else "",
        message=message,
        sick_call=sick_call,
    )
    swap.full_clean()
    swap.save()
    SwapEvent.objects.create(
        swap_request=swap,
        to_status=Status.PENDING,
        actor=by,
        actor_label=requester.name if sick_call is None else "coordinator (sick call)",
        note=message[:500],
    )
    swap_transition_notify(swap=swap, to_status=Status.PENDING, by=by, note=message)
    return swap


# --- checks and the exchange ----------------------------------------------------------------


def _checked_shifts(
    swap: SwapRequest, locked: dict[int, Shift], *, now: datetime.datetime, rules: SwapRules
) -> tuple[Shift, Shift | None]:
    """Re-check, under the locks, everything the trade relies on; return the two shifts."""
    offered = locked.get(swap.offered_shift_id) if swap.offered_shift_id else None
    if offered is None:
        raise SwapRefused(f"{swap.offered_label}: the shift no longer exists.", reason="shift_gone")
    wanted = None
    if swap.wanted_version is not None:
        wanted = locked.get(swap.wanted_shift_id) if swap.wanted_shift_id else None
        if wanted is None:
            raise SwapRefused(
                f"{swap.wanted_label}: the shift no longer exists.", reason="shift_gone"
            )
    sides = [(offered, swap.requester, swap.offered_version)]
    if wanted is not None:
        sides.append((wanted, swap.counterpart, swap.wanted_version))
    for shift, owner, version in sides:
        if shift.person_id != owner.pk or shift.version != version:
            raise SwapRefused(
                f"{owner.name}'s shift changed since the request "
                f"(version {version} -> {shift.version}).",
                reason="shift_changed",
            )
    if swap.sick_call_id is None:  # a sick-call post is urgent: no notice, no cap
        for shift, _owner, _version in sides:
            problem = shift_notice_problem(shift=shift, now=now, rules=rules)
            if problem:
                raise SwapRefused(problem[1], reason=problem[0])
        if wanted is None:
            problem = give_away_problem(
                person=swap.requester, shift=offered, rules=rules, exclude_request_id=swap.pk
            )
            if problem:
                raise SwapRefused(problem[1], reason=problem[0])
    _refuse(
        shift_trade_problems(
            requester=swap.requester,
            counterpart=swap.counterpart,
            offered=offered,
            wanted=wanted,
            rules=rules,
        )
    )
    return offered, wanted


def _move_shifts(*, offered: Shift, wanted: Shift | None, offered_to: int, wanted_to: int, by):
    """Give ``offered`` to ``offered_to`` and ``wanted`` (if any) to ``wanted_to``, bumping the
    versions. The caller holds the people and shift locks and has checked the rules."""
    bump = {"version": F("version") + 1, "updated_by": by, "updated_at": timezone.now()}
    rows = Shift.objects
    try:
        with (
            history_context(source=SOURCE_SWAP, actor="shift trade", by=by),
            transaction.atomic(),
        ):
            overlapping = wanted is not None and (
                offered.starts_at < wanted.ends_at and wanted.starts_at < offered.ends_at
            )
            if overlapping:
                # Two shifts that overlap in time: moving the first person would give the other
                # two overlapping shifts for a moment, and the exclusion constraint is checked
                # row by row. Each person keeps their row and the rows exchange what they hold
                # instead (its own inverse, which the rollback relies on).
                for row, other in ((offered, wanted), (wanted, offered)):
                    rows.filter(pk=row.pk).update(
                        date=other.date,
                        shift_type_id=other.shift_type_id,
                        starts_at=other.starts_at,
                        ends_at=other.ends_at,
                        notes=other.notes,
                        **bump,
                    )
            else:
                rows.filter(pk=offered.pk).update(person_id=offered_to, **bump)
                if wanted is not None:
                    rows.filter(pk=wanted.pk).update(person_id=wanted_to, **bump)
    except IntegrityError as error:
        # The constraints are the last word on overlap and double booking.
        raise SwapRefused(
            "The trade would give someone overlapping shifts.", reason="ineligible"
        ) from error


def _expire_touching_shifts(*, ids: list[int], note: str, exclude_pk: int | None = None) -> None:
    """Every other open request over a moved shift can no longer execute as asked."""
    # Locked after the shifts, like every path here, so a concurrent accept of one of these
    # requests either finishes first or sees it expired; never both.
    others = lock_rows(
        SwapRequest.objects.filter(Q(offered_shift_id__in=ids) | Q(wanted_shift_id__in=ids))
        .filter(status__in=SwapRequest.OPEN_STATUSES)
        .exclude(pk=exclude_pk)
    )
    for other in others:
        _record(other, Status.EXPIRED, by=None, actor_label="system", note=note)


def _resolve_sick_calls(*, shift_id: int, replaced_by: int) -> None:
    # Last in the lock order: the sick call of a shift a pool taker just took is closed, and a
    # coordinator assigning a replacement at the same moment finds the shift moved.
    for call in lock_rows(SickCall.objects.filter(shift_id=shift_id, resolved_at__isnull=True)):
        call.resolved_at = timezone.now()
        call.replaced_by_id = replaced_by
        call.save(update_fields=["resolved_at", "replaced_by"])


def _execute_shift_locked(
    swap: SwapRequest, locked, *, by, actor_label: str, now, rules, note: str = ""
) -> None:
    offered, wanted = _checked_shifts(swap, locked, now=now, rules=rules)
    _move_shifts(
        offered=offered,
        wanted=wanted,
        offered_to=swap.counterpart_id,
        wanted_to=swap.requester_id,
        by=by,
    )
    moved = [s.pk for s in (offered, wanted) if s is not None]
    versions = dict(Shift.objects.filter(pk__in=moved).values_list("pk", "version"))
    swap.offered_version_after = versions[offered.pk]
    swap.wanted_version_after = versions[wanted.pk] if wanted else None
    swap.executed_at = timezone.now()
    swap.refusal = ""
    _record(swap, Status.EXECUTED, by=by, actor_label=actor_label, note=note)
    _expire_touching_shifts(
        ids=moved, note=f"Swap #{swap.pk} moved one of its shifts.", exclude_pk=swap.pk
    )
    _resolve_sick_calls(shift_id=offered.pk, replaced_by=swap.counterpart_id)


def _lock_for(swap: SwapRequest, *, people: list[int]) -> dict[int, Shift]:
    """Steps 1-3 of the lock order (the request row comes next, by the caller)."""
    _take_schedule_lock(swap)
    lock_people(people)
    return _lock_shifts([swap.offered_shift_id, swap.wanted_shift_id])


# --- accept / take, execute, rollback -------------------------------------------------------


def shift_request_accept(
    *,
    swap_request_id: int,
    person: Person,
    by=None,
    now: datetime.datetime | None = None,
    actor_label: str = "",
    note: str = "",
) -> SwapRequest:
    """The named colleague accepts, or ``person`` takes the shift from the pool. Executes at
    once unless the program's rules ask for a coordinator's approval of shift trades."""
    return _after_refusal(
        swap_request_id,
        lambda: _accept_shift(
            swap_request_id=swap_request_id,
            taker=person,
            by=by,
            now=now or timezone.now(),
            actor_label=actor_label or person.name,
            note=note,
        ),
    )


@locked_transaction
def _accept_shift(*, swap_request_id, taker: Person, by, now, actor_label: str, note: str):
    swap = _swap_unlocked(swap_request_id)
    counterpart_id = taker.pk if swap.kind == Kind.OPEN else swap.counterpart_id
    locked = _lock_for(swap, people=[swap.requester_id, counterpart_id])
    swap = _lock_swap(swap_request_id)
    _refuse_unless_pending(swap)
    if swap.kind == Kind.OPEN:
        if taker.pk == swap.requester_id:
            raise SwapRefused("You cannot take your own offer.", reason="not_allowed")
        swap.counterpart = taker
    elif taker.pk != swap.counterpart_id:
        raise SwapRefused(
            f"Only {swap.counterpart.name} can accept this request.", reason="not_allowed"
        )
    rules = SwapRules.current()
    if rules.shift_trades_need_approval:
        # Checked now so nobody accepts a trade that cannot happen; checked again at execution.
        _checked_shifts(swap, locked, now=now, rules=rules)
        _record(swap, Status.ACCEPTED, by=by, actor_label=actor_label, note=note)
        return swap
    _record(swap, Status.ACCEPTED, by=by, actor_label=actor_label, note=note)
    _execute_shift_locked(swap, locked, by=by, actor_label=actor_label, now=now, rules=rules)
    return swap


def shift_request_execute(
    *, swap_request_id: int, by=None, now: datetime.datetime | None = None
) -> SwapRequest:
    """Apply an approved shift trade (or an accepted one when approval is not required)."""
    return _after_refusal(
        swap_request_id,
        lambda: _execute_shift(swap_request_id=swap_request_id, by=by, now=now or timezone.now()),
    )


@locked_transaction
def _execute_shift(*, swap_request_id: int, by, now) -> SwapRequest:
    swap = _swap_unlocked(swap_request_id)
    locked = _lock_for(swap, people=[swap.requester_id, swap.counterpart_id])
    swap = _lock_swap(swap_request_id)
    rules = SwapRules.current()
    executable = swap.status == Status.APPROVED or (
        swap.status == Status.ACCEPTED and not rules.shift_trades_need_approval
    )
    if not executable:
        raise SwapRefused(
            f"Only an approved swap can be executed; this one is "
            f"{swap.get_status_display().lower()}.",
            reason="not_executable",
        )
    _execute_shift_locked(swap, locked, by=by, actor_label="", now=now, rules=rules)
    return swap


@locked_transaction
def shift_request_rollback(*, swap_request_id: int, by, now: datetime.datetime) -> SwapRequest:
    """Undo an executed shift trade within the rollback window, if neither shift changed since.
    The rules are not re-checked: it restores exactly what was."""
    swap = _swap_unlocked(swap_request_id)
    locked = _lock_for(swap, people=[swap.requester_id, swap.counterpart_id])
    swap = _lock_swap(swap_request_id)
    _refuse_unless_rollback_allowed(swap, now=now)
    sides = [(swap.offered_shift_id, swap.offered_label, swap.offered_version_after)]
    if swap.wanted_version_after is not None:
        sides.append((swap.wanted_shift_id, swap.wanted_label, swap.wanted_version_after))
    for pk, label, version_after in sides:
        row = locked.get(pk) if pk else None
        if row is None or row.version != version_after:
            raise SwapRefused(
                f"{label}: the shift changed or was removed after the trade; change it back "
                "by hand.",
                reason="rollback_changed",
            )
    offered = locked[swap.offered_shift_id]
    wanted = locked[swap.wanted_shift_id] if swap.wanted_version_after is not None else None
    _move_shifts(
        offered=offered,
        wanted=wanted,
        offered_to=swap.requester_id,
        wanted_to=swap.counterpart_id,
        by=by,
    )
    _record(swap, Status.ROLLED_BACK, by=by, actor_label="")
    return swap


__all__ = [
    "is_shift_request",
    "shift_request_accept",
    "shift_request_execute",
    "shift_request_rollback",
    "shift_swap_request_create",
]
