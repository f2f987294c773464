"""Who hears about a swap request's transitions (issue 10), written in the same transaction as
the transition (residency.notifications is the outbox)."""

from __future__ import annotations

from django.conf import settings

from residency.models import Person
from residency.notifications import Kind, notify_coordinators, notify_people
from swaps.models import SwapRequest

Status = SwapRequest.Status

KINDS = {
    Status.PENDING: Kind.SWAP_REQUESTED,
    Status.ACCEPTED: Kind.SWAP_ACCEPTED,
    Status.DECLINED: Kind.SWAP_DECLINED,
    Status.CANCELLED: Kind.SWAP_CANCELLED,
    Status.EXPIRED: Kind.SWAP_EXPIRED,
    Status.APPROVED: Kind.SWAP_APPROVED,
    Status.EXECUTED: Kind.SWAP_EXECUTED,
    Status.ROLLED_BACK: Kind.SWAP_ROLLED_BACK,
}


def _describe(swap: SwapRequest) -> str:
    text = f"{swap.requester.name} offers {swap.offered_label}"
    if swap.wanted_label:
        text += f" for {swap.wanted_label}"
    if swap.counterpart_id:
        text += f" ({swap.get_kind_display().lower()} with {swap.counterpart.name})"
    return text + "."


def swap_transition_notify(*, swap: SwapRequest, to_status: str, by, note: str = "") -> None:
    """The requester and the colleague hear about every transition, except the one who made
    it; a new request goes to the colleague asked (an open offer to nobody in particular)."""
    actor_ids = set()
    if by is not None and getattr(by, "pk", None):
        actor_ids = set(Person.objects.filter(user_id=by.pk).values_list("pk", flat=True))
    if to_status == Status.PENDING:
        people = [swap.counterpart]
    else:
        people = [swap.requester, swap.counterpart]
    people = [p for p in people if p is not None and p.pk not in actor_ids]
    label = Status(to_status).label.lower()
    subject = (
        f"Swap request #{swap.pk} from {swap.requester.name}"
        if to_status == Status.PENDING
        else f"Swap #{swap.pk} {label}"
    )
    body = _describe(swap)
    if to_status != Status.PENDING:
        body = f"Swap #{swap.pk} was {label}. {body}"
    if note:
        body += f"\n\n{note}"  # the reason (an expiry, a coordinator's note, the message)
    notify_people(
        people=people, kind=KINDS[to_status], subject=subject, body=body, url=f"/swaps/{swap.pk}/"
    )
    if to_status == Status.ACCEPTED and settings.ROTA_SWAPS_REQUIRE_APPROVAL:
        notify_coordinators(
            kind=Kind.SWAP_AWAITING_APPROVAL,
            subject=f"Swap #{swap.pk} awaits approval",
            body=f"{body}\n\nApprove or reject it in the admin.",
            url=f"/admin/swaps/swaprequest/{swap.pk}/change/",
        )
