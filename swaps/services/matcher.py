"""Expiring requests a regeneration orphaned, and the auto-matcher."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Q

from residency.errors import RotaError
from residency.locking import lock_rows, locked_transaction
from residency.models import Person
from swaps.models import SwapRequest
from swaps.selectors import today_local
from swaps.services.common import MATCHER, Kind, Status, _record
from swaps.services.workflow import swap_request_accept

# --- regenerated schedules and the matcher -------------------------------------------------


@locked_transaction
def swap_requests_expire_stale(*, academic_year_id: int | None = None) -> int:
    """Expire open requests whose assignments were deleted (SET_NULL: the schedule was
    regenerated). Generation may call this after its write phase; the matcher always does."""
    # Block requests only: a shift request names no assignment (its own stale check is at
    # execution, "shift_gone").
    stale = SwapRequest.objects.filter(
        status__in=SwapRequest.OPEN_STATUSES, unit=SwapRequest.Unit.BLOCK
    ).filter(Q(offered__isnull=True) | Q(wanted__isnull=True, wanted_version__isnull=False))
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
      giving back X;
    - shifts: A offers shift X for B's shift Y, and B offers Y for A's X (``shift_trades``).
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
    _match_shift_requests(report, academic_year_id=academic_year_id)
    return report


def _match_shift_requests(report: MatchReport, *, academic_year_id: int | None) -> None:
    """Mutually satisfying pending one-to-one shift requests: A offers shift X for B's Y and B
    offers Y for A's X. A's request is accepted on B's behalf through the same accept service
    (same locks, same checks); B's request then expires (its shifts moved)."""
    pending = SwapRequest.objects.filter(
        unit=SwapRequest.Unit.SHIFT,
        kind=Kind.ONE_TO_ONE,
        status=Status.PENDING,
        offered_shift__isnull=False,
        wanted_shift__isnull=False,
    )
    if academic_year_id is not None:
        pending = pending.filter(academic_year_id=academic_year_id)
    pending = list(pending.order_by("created_at", "pk"))
    by_pair = {(s.offered_shift_id, s.wanted_shift_id): s for s in reversed(pending)}
    used: set[int] = set()
    for swap in pending:
        if swap.pk in used:
            continue
        mutual = by_pair.get((swap.wanted_shift_id, swap.offered_shift_id))
        if (
            mutual is None
            or mutual.pk in used
            or mutual.requester_id != swap.counterpart_id
            or mutual.counterpart_id != swap.requester_id
        ):
            continue
        used.update({swap.pk, mutual.pk})
        try:
            result = swap_request_accept(
                swap_request_id=swap.pk,
                person=Person.objects.get(pk=swap.counterpart_id),
                actor_label=MATCHER,
                note=f"Matched with request #{mutual.pk}.",
            )
        except RotaError as error:
            report.failed.append((swap.pk, error.message))
            continue
        if result.status == Status.EXECUTED:
            report.executed.append(swap.pk)
        else:
            report.accepted.append(swap.pk)
