"""Races on real PostgreSQL with real threads. Each test forces the overlap: a third connection
holds the contended row (or the year's schedule lock) until every contender is queued on it,
then lets them all go at once; outcomes are asserted exactly."""

import threading

import pytest
from django.test import Client

from residency import services as residency_services
from residency.errors import Busy, ConcurrentEdit, ScheduleLocked
from residency.locking import schedule_lock_exclusive
from residency.models import Assignment
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
from tests.factories import PASSWORD
from tests.swaps.conftest import fresh, held_in_transaction, hold_rows

pytestmark = pytest.mark.django_db(transaction=True)
Status = SwapRequest.Status


@pytest.fixture(autouse=True)
def _patient_locks(settings):
    # The contenders queue on a held lock until all of them are waiting; on a loaded machine
    # that can take longer than the production lock timeout, which would turn into Busy.
    settings.ROTA_LOCK_TIMEOUT_MS = 15000


@pytest.fixture
def lock_errors(monkeypatch):
    """SQLSTATEs of the database errors locked_transaction saw (deadlocks it retried included):
    the lock order is meant to make these races queue, never deadlock."""
    from residency import locking

    seen = []
    original = locking._sqlstate

    def spy(error):
        state = original(error)
        seen.append(state)
        return state

    monkeypatch.setattr(locking, "_sqlstate", spy)
    return seen


def start_all(*funcs):
    outcomes = [Outcome() for _ in funcs]
    threads = [run_in_thread(f, o) for f, o in zip(funcs, outcomes, strict=True)]
    return threads, outcomes


def race_on(rows, *funcs, waiters=None):
    """Hold ``rows`` locked, start ``funcs`` in threads, wait until they are all queued on the
    lock, release, join. Returns their outcomes."""
    with hold_rows(*rows):
        threads, outcomes = start_all(*funcs)
        wait_for_lock_waiters(waiters or len(funcs))
    join_all(threads)
    return outcomes


def accept(swap, person):
    return lambda: services.swap_request_accept(swap_request_id=swap.pk, person=person)


def one_per_person_per_block():
    rows = list(Assignment.objects.values_list("person_id", "block_id"))
    return len(rows) == len(set(rows))


def test_two_faculty_take_the_same_open_offer_through_the_page(program):
    """Frame 5.4: exactly one takes it, the other hears "already taken"."""
    owner, first, second = (program.faculty(n) for n in ("Dr Owner", "Dr First", "Dr Second"))
    clinic = program.clinic
    clinic.staffed_by = "faculty"
    clinic.save()
    offered = program.assign(owner, 1, clinic)
    offer = services.swap_request_create(requester=owner, kind="open", offered_id=offered.pk)

    def take(person):
        def post():
            client = Client()
            assert client.login(username=person.user.username, password=PASSWORD)
            response = client.post(f"/swaps/{offer.pk}/accept/", {"back": "marketplace"})
            return response, [str(m) for m in response.wsgi_request._messages]

        return post

    outcomes = race_on([offered], take(first), take(second))

    assert [o.error for o in outcomes] == [None, None]
    assert all(o.result[0].status_code == 302 for o in outcomes)
    texts = sorted(o.result[1][0] for o in outcomes)
    assert texts[0] == "This offer has already been taken."
    assert texts[1].startswith(f"You took offer #{offer.pk}.")
    offer = fresh(offer)
    winner = offer.counterpart
    assert offer.status == Status.EXECUTED and winner in (first, second)
    offered = fresh(offered)
    assert (offered.person, offered.version) == (winner, 2)  # moved exactly once
    assert Assignment.objects.filter(block=program.blocks[0], rotation=clinic).count() == 1
    assert one_per_person_per_block()


def test_two_takers_through_the_service(program):
    ann, bob, cid = program.resident("Ann"), program.resident("Bob"), program.resident("Cid")
    offered = program.assign(ann, 1, program.ward)
    bob_row = program.assign(bob, 1, program.clinic)
    cid_row = program.assign(cid, 1, program.clinic)
    offer = services.swap_request_create(requester=ann, kind="open", offered_id=offered.pk)

    outcomes = race_on([offered], accept(offer, bob), accept(offer, cid))

    winners = [o for o in outcomes if o.error is None]
    losers = [o for o in outcomes if o.error is not None]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0].error, SwapRefused)
    assert losers[0].error.reason == "already_taken"
    offer = fresh(offer)
    taker_row = bob_row if offer.counterpart == bob else cid_row
    other_row = cid_row if taker_row is bob_row else bob_row
    assert fresh(offered).rotation == program.clinic and fresh(taker_row).rotation == program.ward
    assert (fresh(other_row).version, fresh(other_row).rotation) == (1, program.clinic)
    assert one_per_person_per_block()


def test_mutual_requests_accepted_at_once_execute_once_without_deadlock(program, lock_errors):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    ann_asks = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    bob_asks = services.swap_request_create(
        requester=bob, kind="one_to_one", offered_id=y.pk, wanted_id=x.pk
    )

    outcomes = race_on([x, y], accept(ann_asks, bob), accept(bob_asks, ann))

    errors = [o.error for o in outcomes if o.error is not None]
    assert len(errors) == 1, errors
    assert isinstance(errors[0], SwapRefused) and errors[0].reason == "not_pending"
    # The loser's exchange happened (through the other request): it says so (issue 14), not
    # merely "it was expired".
    assert "the exchange it asked for has already been made" in errors[0].message
    statuses = sorted([fresh(ann_asks).status, fresh(bob_asks).status])
    assert statuses == [Status.EXECUTED, Status.EXPIRED]
    x, y = fresh(x), fresh(y)
    assert (x.person, y.person, x.version, y.version) == (bob, ann, 2, 2)
    assert lock_errors == []  # not even a deadlock that a retry hid


@pytest.mark.parametrize("same_block", [False, True])
def test_chain_of_three_requests_over_overlapping_assignments(program, same_block, lock_errors):
    """A->B, B->C, C->A, each accepted at once: every pair shares an assignment, so exactly one
    executes and the final rows agree with it."""
    people = [program.resident(n) for n in ("Ann", "Bob", "Cid")]
    rotations = [program.ward, program.clinic, program.ward]
    rows = [
        program.assign(p, 1 if same_block else i + 1, rotations[i]) for i, p in enumerate(people)
    ]
    before = {r.pk: (r.person_id, r.rotation_id) for r in rows}
    requests = [
        services.swap_request_create(
            requester=people[i],
            kind="one_to_one",
            offered_id=rows[i].pk,
            wanted_id=rows[(i + 1) % 3].pk,
        )
        for i in range(3)
    ]

    outcomes = race_on(rows, *(accept(requests[i], people[(i + 1) % 3]) for i in range(3)))

    assert [type(o.error) for o in outcomes].count(type(None)) == 1
    assert all(o.error is None or o.error.reason == "not_pending" for o in outcomes)
    requests = [fresh(r) for r in requests]
    executed = [r for r in requests if r.status == Status.EXECUTED]
    assert len(executed) == 1
    assert sorted(r.status for r in requests) == [Status.EXECUTED, Status.EXPIRED, Status.EXPIRED]
    done = executed[0]
    final = {a.pk: a for a in Assignment.objects.all()}
    offered, wanted = final[done.offered_id], final[done.wanted_id]
    assert (offered.version, wanted.version) == (done.offered_version_after, 2)
    if same_block:
        assert offered.rotation_id == before[wanted.pk][1]
        assert wanted.rotation_id == before[offered.pk][1]
    else:
        assert (offered.person_id, wanted.person_id) == (done.counterpart_id, done.requester_id)
    untouched = [a for pk, a in final.items() if pk not in (offered.pk, wanted.pk)]
    assert [(a.version, (a.person_id, a.rotation_id)) for a in untouched] == [
        (1, before[untouched[0].pk])
    ]
    assert one_per_person_per_block()
    assert lock_errors == []


def test_matcher_racing_a_manual_accept_executes_once(program, lock_errors):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    ann_asks = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    services.swap_request_create(requester=bob, kind="one_to_one", offered_id=y.pk, wanted_id=x.pk)

    manual, matcher = race_on([x, y], accept(ann_asks, bob), services.swap_requests_match)

    assert matcher.error is None
    report = matcher.result
    executions = len(report.executed) + (1 if manual.error is None else 0)
    assert executions == 1
    if manual.error is not None:
        assert manual.error.reason == "not_pending"
    else:
        assert report.failed and "no longer pending" in report.failed[0][1]
    assert SwapRequest.objects.filter(status=Status.EXECUTED).count() == 1
    x, y = fresh(x), fresh(y)
    assert (x.person, y.person, x.version, y.version) == (bob, ann, 2, 2)
    assert lock_errors == []


def test_coordinator_edit_committing_first_makes_the_swap_refuse(program, coordinator):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )

    def edit():
        residency_services.assignment_update(
            assignment_id=x.pk, version=1, by=coordinator, notes="moved to nights"
        )

    outcome = Outcome()
    with held_in_transaction(edit):  # the edit's UPDATE holds x until this block ends
        (thread,) = [run_in_thread(accept(swap, bob), outcome)]
        wait_for_lock_waiters(1)
    join_all([thread])

    assert isinstance(outcome.error, SwapRefused)
    assert outcome.error.reason == "assignment_changed"
    assert outcome.error.message == "Ann's assignment changed since the request (version 1 -> 2)."
    x = fresh(x)
    assert (x.person, x.notes, x.version, fresh(y).version) == (ann, "moved to nights", 2, 1)
    assert fresh(swap).status == Status.EXPIRED


def test_swap_committing_first_makes_the_coordinator_edit_conflict(program, coordinator):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    edit = Outcome()
    with held_in_transaction(
        lambda: services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    ):
        thread = run_in_thread(
            lambda: residency_services.assignment_update(
                assignment_id=x.pk, version=1, by=coordinator, notes="late edit"
            ),
            edit,
        )
        wait_for_lock_waiters(1)
    join_all([thread])
    assert isinstance(edit.error, ConcurrentEdit)
    assert (fresh(x).person, fresh(x).notes, fresh(swap).status) == (bob, "", Status.EXECUTED)


def test_swap_refused_while_generation_holds_the_schedule_lock(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )

    with held_in_transaction(lambda: schedule_lock_exclusive(academic_year_id=program.year.pk)):
        (outcome,) = run_concurrently(accept(swap, bob))

    assert isinstance(outcome.error, ScheduleLocked)
    assert outcome.error.status_code == 503
    assert outcome.error.message.startswith(
        f"Schedule generation in progress for {program.year.label}"
    )
    assert (fresh(swap).status, fresh(x).version, fresh(x).person) == (Status.PENDING, 1, ann)

    # Released: the same request now executes.
    done = services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert (done.status, fresh(x).person, fresh(y).person) == (Status.EXECUTED, bob, ann)


def test_generation_waits_for_a_swap_in_flight(program):
    """The other direction: a swap holding the lock shared makes generation's exclusive lock
    wait (not fail) until the swap commits."""
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    got_it = threading.Event()

    def generation():
        from django.db import transaction

        with transaction.atomic():
            schedule_lock_exclusive(academic_year_id=program.year.pk)
            got_it.set()
            return Assignment.objects.get(pk=x.pk).person_id

    outcome = Outcome()
    with held_in_transaction(
        lambda: services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    ):
        thread = run_in_thread(generation, outcome)
        wait_for_lock_waiters(1)
        assert not got_it.is_set()
    join_all([thread])
    assert outcome.error is None and outcome.result == bob.pk


def test_a_lock_held_too_long_is_busy_not_a_hang(program, settings):
    settings.ROTA_LOCK_TIMEOUT_MS = 200
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    with hold_rows(y):
        (outcome,) = run_concurrently(accept(swap, bob))
    assert isinstance(outcome.error, Busy)
    assert outcome.error.message == "Someone else is changing these rows right now. Try again."
    assert (fresh(swap).status, fresh(x).version) == (Status.PENDING, 1)
