"""Issue 14 (defect 8), swaps: two opposite requests, and the swap builder's leave blocks."""

from __future__ import annotations

import pytest
from django.test import Client

from residency.models import RotationTemplate
from swaps import services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from tests.concurrency import Outcome, join_all, run_in_thread, wait_for_lock_waiters
from tests.factories import RotationTemplateFactory
from tests.swaps.conftest import hold_rows

Status = SwapRequest.Status


def _opposite_requests(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    ann_block2 = program.assign(ann, 2, program.ward)
    bob_block2 = program.assign(bob, 2, program.clinic)
    # Ann asks for Bob's clinic block, and Bob asks for Ann's ward block: the same exchange.
    ann_asks = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=ann_block2.pk, wanted_id=bob_block2.pk
    )
    bob_asks = services.swap_request_create(
        requester=bob, kind="one_to_one", offered_id=bob_block2.pk, wanted_id=ann_block2.pk
    )
    return ann, bob, ann_block2, bob_block2, ann_asks, bob_asks


@pytest.mark.django_db(transaction=True)
def test_both_opposite_requests_accepted_at_once_the_loser_hears_it_happened(program, settings):
    """Ann accepts Bob's request while Bob accepts Ann's: one executes, and the other is told
    the exchange it asked for has been made, not merely "it was expired"."""
    settings.ROTA_LOCK_TIMEOUT_MS = 15000
    ann, bob, ann_block2, bob_block2, ann_asks, bob_asks = _opposite_requests(program)
    outcomes = {"ann": Outcome(), "bob": Outcome()}
    with hold_rows(ann_block2, bob_block2):
        threads = [
            run_in_thread(
                lambda: services.swap_request_accept(swap_request_id=bob_asks.pk, person=ann),
                outcomes["ann"],
            ),
            run_in_thread(
                lambda: services.swap_request_accept(swap_request_id=ann_asks.pk, person=bob),
                outcomes["bob"],
            ),
        ]
        wait_for_lock_waiters(2)
    join_all(threads)

    winners = [name for name, o in outcomes.items() if o.error is None]
    losers = [name for name, o in outcomes.items() if o.error is not None]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    error = outcomes[losers[0]].error
    assert isinstance(error, SwapRefused), error
    assert "the exchange it asked for has already been made" in error.message
    assert "expired" not in error.message
    # Exchanged once (in one block, the two rows exchange what they hold).
    ann_block2.refresh_from_db()
    bob_block2.refresh_from_db()
    assert (ann_block2.rotation, bob_block2.rotation) == (program.clinic, program.ward)
    assert SwapRequest.objects.filter(status=Status.EXECUTED).count() == 1


@pytest.mark.django_db
def test_expiry_note_of_the_opposite_request_says_the_exchange_was_made(program):
    ann, bob, _a, _b, ann_asks, bob_asks = _opposite_requests(program)
    services.swap_request_accept(swap_request_id=ann_asks.pk, person=bob)
    expired = SwapRequest.objects.get(pk=bob_asks.pk)
    assert expired.status == Status.EXPIRED
    assert "already made the exchange this request asked for" in expired.events.last().note
    with pytest.raises(SwapRefused) as refused:
        services.swap_request_accept(swap_request_id=bob_asks.pk, person=ann)
    assert "has already been made" in refused.value.message


@pytest.mark.django_db
def test_swap_builder_shows_a_colleagues_leave_as_unavailable(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    program.assign(ann, 2)
    parental = RotationTemplateFactory(
        name="Parental leave", code="PARENTAL", kind=RotationTemplate.Kind.LEAVE
    )
    program.assign(bob, 2, parental)
    client = Client()
    client.force_login(ann.user)
    html = client.get("/swaps/new/").content.decode()
    assert "Bob: unavailable, block 2" in html
    assert "Parental" not in html and "PARENTAL" not in html
