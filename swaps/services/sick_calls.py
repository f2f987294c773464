"""Sick calls: a coordinator marks someone out for a shift (or a day); the shift is uncovered
until a replacement is assigned (one click, through the same checks and locks as a shift trade)
or posted to the open pool. Split from ``shift_trades``, whose exchange and locks it reuses."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction

from residency.errors import Gone
from residency.locking import lock_people, locked_transaction, schedule_lock_shared
from residency.models import Person
from shifts.models import Shift, SickCall
from swaps.errors import SwapRefused
from swaps.models import SwapRequest, SwapRules
from swaps.services.common import Kind
from swaps.services.shift_trades import (
    _expire_touching_shifts,
    _lock_shifts,
    _move_shifts,
    _refuse,
    _resolve_sick_calls,
    shift_swap_request_create,
)
from swaps.shift_selectors import shift_trade_problems, year_of_shift


@transaction.atomic
def shift_sick_call_report(*, shift_id: int, by, note: str = "") -> SickCall:
    """A coordinator marks the shift's holder out: the shift is uncovered until replaced."""
    try:
        shift = Shift.objects.select_related("person").get(pk=shift_id)
    except (Shift.DoesNotExist, ValueError, TypeError):
        raise Gone("This shift no longer exists.") from None
    try:
        with transaction.atomic():
            return SickCall.objects.create(
                shift=shift, person=shift.person, note=note[:300], reported_by=by
            )
    except IntegrityError:
        raise SwapRefused("This shift is already marked uncovered.", reason="duplicate") from None


@transaction.atomic
def shift_sick_call_report_day(
    *, person: Person, day: datetime.date, by, note: str = ""
) -> list[SickCall]:
    """Mark ``person`` out for every shift they hold starting on ``day`` (already uncovered
    ones are left as they are)."""
    calls = []
    for shift_id in Shift.objects.filter(person=person, date=day).values_list("pk", flat=True):
        if not SickCall.objects.filter(shift_id=shift_id, resolved_at__isnull=True).exists():
            calls.append(shift_sick_call_report(shift_id=shift_id, by=by, note=note))
    return calls


def _sick_call_or_gone(sick_call_id: int) -> SickCall:
    try:
        return SickCall.objects.select_related("shift__shift_type", "person").get(pk=sick_call_id)
    except (SickCall.DoesNotExist, ValueError, TypeError):
        raise Gone("This sick call no longer exists.") from None


@locked_transaction
def shift_sick_call_assign(*, sick_call_id: int, person: Person, by) -> SickCall:
    """The coordinator's one click: ``person`` covers the uncovered shift, after the same checks
    a trade makes (eligibility, absences, overlap, rest, every duty-hour rule), in the same lock
    order. A pool taker racing this click: whoever holds the locks first wins, the other finds
    the shift moved (or the offer expired) and is refused."""
    call = _sick_call_or_gone(sick_call_id)
    year = year_of_shift(call.shift)
    if year is not None:
        schedule_lock_shared(academic_year_id=year.pk, year_label=year.label)
    lock_people([call.person_id, person.pk])
    locked = _lock_shifts([call.shift_id])
    shift = locked.get(call.shift_id)
    if shift is None:
        raise Gone("This shift no longer exists.")
    if shift.person_id != call.person_id:
        raise SwapRefused(f"{shift.person.name} already covers this shift.", reason="already_taken")
    _refuse(
        shift_trade_problems(
            requester=call.person,
            counterpart=person,
            offered=shift,
            wanted=None,
            rules=SwapRules(pgy_levels_may_cross=True),  # a coordinator's choice, not a trade
        )
    )
    _move_shifts(offered=shift, wanted=None, offered_to=person.pk, wanted_to=0, by=by)
    _expire_touching_shifts(
        ids=[shift.pk], note=f"Covered by {person.name} (sick call #{call.pk})."
    )
    _resolve_sick_calls(shift_id=shift.pk, replaced_by=person.pk)
    call.refresh_from_db()
    return call


@transaction.atomic
def shift_sick_call_post(*, sick_call_id: int, by, bonus_note: str = "") -> SwapRequest:
    """Post the uncovered shift to the open pool (with a bonus note): the first eligible taker
    covers it, through the same take service."""
    call = _sick_call_or_gone(sick_call_id)
    if not call.is_open:
        raise SwapRefused("This sick call was already resolved.", reason="not_pending")
    if call.pool_requests.filter(status__in=SwapRequest.OPEN_STATUSES).exists():
        raise SwapRefused("This shift is already in the open pool.", reason="duplicate")
    swap = shift_swap_request_create(
        requester=call.person,
        kind=Kind.OPEN,
        offered_shift_id=call.shift_id,
        message=bonus_note or "Sick call: please cover.",
        by=by,
        sick_call=call,
    )
    return swap


__all__ = [
    "shift_sick_call_assign",
    "shift_sick_call_post",
    "shift_sick_call_report",
    "shift_sick_call_report_day",
]
