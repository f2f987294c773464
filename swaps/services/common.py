"""Helpers shared by every swap service: recording a status change, reading and locking the
request, the assignments and the year's schedule lock, and expiring a request that can never
execute. See ``swaps.services`` for the lock order."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.utils import timezone

from residency.errors import Gone
from residency.history import SOURCE_SWAP, history_context
from residency.locking import lock_rows, locked_transaction, schedule_lock_shared
from residency.models import Assignment, Person
from swaps.errors import STALE_REASONS, SwapRefused
from swaps.models import SwapEvent, SwapRequest
from swaps.notifications import swap_transition_notify

logger = logging.getLogger("swaps.services")
T = TypeVar("T")
Status = SwapRequest.Status
Kind = SwapRequest.Kind
MATCHER = "auto-matcher"

# --- small helpers -------------------------------------------------------------------------


def _actor_label(by) -> str:
    if by is None:
        return ""
    person = Person.objects.filter(user=by).first()
    # A display name, not a username, wherever a person is named on a page.
    return person.name if person else f"coordinator {by.get_full_name() or by.get_username()}"


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


def _refuse_bad_kind(*, kind: str, counterpart, wanted_given: bool, thing: str) -> None:
    """The shape every request kind must have, for block swaps (``thing`` "assignment") and
    shift trades ("shift") alike: an open offer names nobody, a give-away names a colleague and
    asks nothing back, an exchange names what it wants."""
    if kind == Kind.OPEN:
        if counterpart is not None or wanted_given:
            raise SwapRefused(
                f"An open offer names no colleague and no {thing}: anyone eligible may take it.",
                reason="invalid",
                field="counterpart",
            )
    elif kind == Kind.GIVE_AWAY:
        if counterpart is None:
            raise SwapRefused(
                "Name the colleague you give it to.", reason="invalid", field="counterpart"
            )
        if wanted_given:
            raise SwapRefused(
                "A give-away asks for nothing in return.", reason="invalid", field="wanted"
            )
    elif not wanted_given:
        raise SwapRefused(
            f"Choose the {thing} you want in exchange.", reason="invalid", field="wanted"
        )


def _counterpart_of_wanted(*, wanted, counterpart, thing: str) -> Person:
    """The owner of the wanted row is the counterpart; a named colleague must be that owner."""
    if counterpart is not None and counterpart.pk != wanted.person_id:
        raise SwapRefused(
            f"That {thing} is {wanted.person.name}'s, not {counterpart.name}'s.",
            reason="invalid",
            field="wanted",
        )
    return wanted.person


def _refuse_unless_rollback_allowed(swap: SwapRequest, *, now: datetime.datetime) -> None:
    """Only an executed swap, and only within ROTA_SWAP_ROLLBACK_HOURS of its execution."""
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
