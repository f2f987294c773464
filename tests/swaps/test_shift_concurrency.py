"""Shift trades racing on real PostgreSQL with real threads (each closes its connection).

Each test forces the overlap: this connection holds a Person row every contender must lock
(``lock_people``) until all of them wait on it (``wait_for_lock_waiters``), then commits and
lets them go together. The opposite-trades test releases its pairs with a Barrier, fifty times,
and watches for deadlocks surfacing."""

import itertools

import pytest
from django.db import transaction

from residency.errors import RotaError
from residency.locking import lock_people
from shifts.models import Shift, SickCall
from swaps import services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from tests.concurrency import (
    Outcome,
    join_all,
    run_concurrently,
    run_in_thread,
    wait_for_lock_waiters,
)
from tests.swaps.conftest import fresh
from tests.swaps.shift_support import DAY, MONDAY, day_type, heavy_month, make_program, shift

pytestmark = pytest.mark.django_db(transaction=True)
Status = SwapRequest.Status
SATURDAY = MONDAY + 5 * DAY


@pytest.fixture
def program(db):
    return make_program()


@pytest.fixture(autouse=True)
def _patient_locks(settings):
    # Contenders queue behind the held row until all wait; on a loaded machine that can take
    # longer than the production lock timeout, which would turn into Busy.
    settings.ROTA_LOCK_TIMEOUT_MS = 30_000


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def lock_errors(monkeypatch):
    """SQLSTATEs locked_transaction saw (retried deadlocks included)."""
    from residency import locking

    seen = []
    original = locking._sqlstate

    def spy(error):
        state = original(error)
        seen.append(state)
        return state

    monkeypatch.setattr(locking, "_sqlstate", spy)
    return seen


def release_together(person_ids, *funcs):
    """Run ``funcs`` in threads while this connection holds the people's rows; once every
    thread waits on them, commit (releasing them together) and collect the outcomes."""
    outcomes = [Outcome() for _ in funcs]
    with transaction.atomic():
        lock_people(person_ids)
        threads = [run_in_thread(f, o) for f, o in zip(funcs, outcomes, strict=True)]
        wait_for_lock_waiters(len(funcs))
    join_all(threads)
    return outcomes


def take(offer, person):
    return lambda: services.swap_request_accept(swap_request_id=offer.pk, person=person)


def no_shift_held_twice_and_no_overlap():
    rows = list(Shift.objects.values_list("person_id", "starts_at", "ends_at"))
    by_person = {}
    for person_id, start, end in rows:
        by_person.setdefault(person_id, []).append((start, end))
    for spans in by_person.values():
        spans.sort()
        for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
            assert e1 <= s2, "a person holds overlapping shifts"


def test_ten_residents_take_the_same_open_shift(program):
    owner = program.resident("Owner")
    takers = [program.resident(f"Taker {n}") for n in range(10)]
    offered = shift(owner, day_type("D8", 8))
    offer = services.shift_swap_request_create(
        requester=owner, kind="open", offered_shift_id=offered.pk
    )

    # Every taker locks the owner's row first (lowest pk): all ten queue on it.
    outcomes = release_together([owner.pk], *(take(offer, t) for t in takers))

    winners = [o for o in outcomes if o.error is None]
    losers = [o.error for o in outcomes if o.error is not None]
    assert len(winners) == 1 and len(losers) == 9
    assert all(isinstance(e, SwapRefused) and e.reason == "already_taken" for e in losers)
    assert all(e.status_code == 409 and "already been taken" in e.message for e in losers)
    offer = fresh(offer)
    offered = fresh(offered)
    assert offer.status == Status.EXECUTED and offer.counterpart in takers
    assert (offered.person, offered.version) == (offer.counterpart, 2)  # moved exactly once
    assert Shift.objects.count() == 1


@pytest.mark.parametrize(("hours", "executed"), [(6, 1), (2, 2)])
def test_write_skew_two_trades_adding_hours_to_one_resident(program, hours, executed):
    """Rita works 77.5 h/week averaged over four weeks (310 h in 28 days). Two colleagues give
    her a Saturday and a Sunday shift at once. With 6 h each: 79.0 alone, 80.5 together (limit
    80), so exactly one executes. With 2 h each: 78.0 and 78.5, so both execute.
    (The issue's "76 h + 6 h" would already break the rule alone; the figures here keep its
    intent: each trade passes alone, the pair does not.)"""
    rita = program.resident("Rita")
    xav, yan = program.resident("Xav"), program.resident("Yan")
    heavy_month(rita)
    first = shift(xav, day_type("SA", hours), SATURDAY)
    second = shift(yan, day_type("SU", hours), SATURDAY + DAY)
    gifts = [
        services.shift_swap_request_create(
            requester=giver, kind="give_away", offered_shift_id=s.pk, counterpart=rita
        )
        for giver, s in ((xav, first), (yan, second))
    ]

    outcomes = release_together([rita.pk], *(take(g, rita) for g in gifts))

    done = [o for o in outcomes if o.error is None]
    assert len(done) == executed
    assert Shift.objects.filter(person=rita, pk__in=[first.pk, second.pk]).count() == executed
    if executed == 1:
        (refused,) = [o.error for o in outcomes if o.error is not None]
        assert isinstance(refused, SwapRefused) and refused.reason == "duty_hours"
        assert "80.5" in refused.message
        loser = next(g for g in gifts if fresh(g).status != Status.EXECUTED)
        loser = fresh(loser)
        assert loser.status == Status.PENDING and "80.5" in loser.refusal


def test_opposite_trades_fifty_times_no_deadlock_and_consistent(program, lock_errors):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    t = day_type("D8", 8)
    a_shift, b_shift = shift(ann, t, MONDAY), shift(bob, t, MONDAY + DAY)
    for _ in range(50):
        holder = {s.pk: s.person for s in Shift.objects.select_related("person")}
        one, two = holder[a_shift.pk], holder[b_shift.pk]
        forth = services.shift_swap_request_create(
            requester=one,
            kind="one_to_one",
            offered_shift_id=a_shift.pk,
            wanted_shift_id=b_shift.pk,
        )
        back = services.shift_swap_request_create(
            requester=two,
            kind="one_to_one",
            offered_shift_id=b_shift.pk,
            wanted_shift_id=a_shift.pk,
        )
        outcomes = run_concurrently(take(forth, two), take(back, one))
        errors = [o.error for o in outcomes if o.error is not None]
        assert len(errors) == 1, errors  # one executes; the other finds the shifts moved
        # Expired by the winner, or found moved if it looked before the winner committed.
        assert isinstance(errors[0], SwapRefused)
        assert errors[0].reason in ("not_pending", "shift_changed")
        statuses = sorted(fresh(r).status for r in (forth, back))
        assert statuses == [Status.EXECUTED, Status.EXPIRED]
        # Every shift held by exactly one person; each person still holds one.
        assert sorted(Shift.objects.values_list("person_id", flat=True)) == sorted([ann.pk, bob.pk])
    # Both lock both people in pk order first: they queue, never deadlock (not even retried).
    assert "40P01" not in lock_errors
    assert Shift.objects.count() == 2
    no_shift_held_twice_and_no_overlap()


def test_sick_call_assignment_races_a_pool_take(program):
    sick, cover, taker = (program.resident(n) for n in ("Sick", "Cover", "Taker"))
    uncovered = shift(sick, day_type("C", 8))
    call = services.shift_sick_call_report(shift_id=uncovered.pk, by=None)
    offer = services.shift_sick_call_post(sick_call_id=call.pk, by=None, bonus_note="Pizza")

    outcomes = release_together(
        [sick.pk],
        lambda: services.shift_sick_call_assign(sick_call_id=call.pk, person=cover, by=None),
        take(offer, taker),
    )

    errors = [o.error for o in outcomes if o.error is not None]
    assert len(errors) == 1 and isinstance(errors[0], RotaError)
    uncovered = fresh(uncovered)
    assert uncovered.person in (cover, taker) and uncovered.version == 2
    call = SickCall.objects.get(pk=call.pk)
    assert (call.is_open, call.replaced_by) == (False, uncovered.person)
    if uncovered.person == cover:
        assert fresh(offer).status == Status.EXPIRED
    else:
        assert fresh(offer).status == Status.EXECUTED
        assert errors[0].reason == "already_taken"


def test_refused_trade_changes_nothing_under_contention(program):
    """A trade refused for a duty-hour rule while another holds the locks: nothing moved, the
    reason with its numbers is on the request."""
    rita, ann = program.resident("Rita"), program.resident("Ann")
    heavy_month(rita)
    big = shift(ann, day_type("S12", 12), SATURDAY)
    offer = services.shift_swap_request_create(requester=ann, kind="open", offered_shift_id=big.pk)
    (outcome,) = release_together([rita.pk], take(offer, rita))
    assert isinstance(outcome.error, SwapRefused) and outcome.error.reason == "duty_hours"
    assert (fresh(big).person, fresh(big).version) == (ann, 1)
    offer = fresh(offer)
    assert offer.status == Status.PENDING and "limit 80" in offer.refusal
