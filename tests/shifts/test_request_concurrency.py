"""Shift requests under concurrency, on real PostgreSQL with real threads (each closes its own
connection): the per-person limit holds when two requests race for the last place, and no
request is written under a deadline the coordinator has already moved."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from residency.errors import Conflict, RuleViolation
from shifts import requests
from shifts.models import ShiftRequest, ShiftRequestPeriod
from tests.concurrency import (
    Outcome,
    join_all,
    run_concurrently,
    run_in_thread,
    wait_for_lock_waiters,
)
from tests.factories import PersonFactory
from tests.shifts.test_requests import DAY, open_period

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _patient_locks(settings):
    # Long enough for the threads to queue behind each other on a busy machine.
    settings.ROTA_LOCK_TIMEOUT_MS = 30_000


def _one_place_left():
    """A period and a person with one request short of the limit; the two days to race for."""
    period = open_period()
    person = PersonFactory()
    for n in range(requests.MAX_REQUESTS_PER_PERIOD - 1):
        requests.shift_request_create(person=person, date=period.start_date + n * DAY, kind="off")
    return person, period.end_date, period.end_date - DAY


def _ask(person, day):
    return lambda: requests.shift_request_create(person=person, date=day, kind="off")


def _assert_exactly_one_won(person, outcomes: list[Outcome]) -> None:
    won = [o for o in outcomes if o.error is None]
    lost = [o for o in outcomes if o.error is not None]
    assert len(won) == 1, [o.error for o in outcomes]
    assert isinstance(lost[0].error, RuleViolation), lost[0].error
    assert "already have 10 requests" in lost[0].error.message
    assert ShiftRequest.objects.filter(person=person).count() == requests.MAX_REQUESTS_PER_PERIOD


def test_two_requests_released_together_for_the_last_place():
    """Two threads at a barrier, each adding a different day with one place left: exactly one
    is saved and the count ends at the limit."""
    person, first, second = _one_place_left()
    outcomes = run_concurrently(_ask(person, first), _ask(person, second))
    _assert_exactly_one_won(person, outcomes)


def test_the_person_lock_is_what_keeps_the_limit():
    """Forced overlap: this connection holds the period row, so both threads pass everything
    before the period lock and wait there; without the person lock they would both have
    counted nine and both written (eleven). With it, the second waits for the first's
    commit, counts ten and is refused."""
    person, first, second = _one_place_left()
    period = ShiftRequestPeriod.objects.get()
    outcomes = [Outcome(), Outcome()]
    with transaction.atomic():
        list(ShiftRequestPeriod.objects.select_for_update().filter(pk=period.pk))
        threads = [
            run_in_thread(_ask(person, day), outcome)
            for day, outcome in zip((first, second), outcomes, strict=True)
        ]
        # One waits on the period row (behind this connection), the other on the person row
        # (behind the first thread).
        wait_for_lock_waiters(2)
    join_all(threads)
    _assert_exactly_one_won(person, outcomes)


def test_a_request_waits_for_a_deadline_being_moved_and_then_is_refused():
    """The coordinator moves the deadline into the past while a request is on its way: the
    request waits for the coordinator's transaction and then reads the new deadline, instead
    of being written under the old one it read before."""
    period = open_period()
    person = PersonFactory()
    outcome = Outcome()
    with transaction.atomic():
        # What the admin's version-checked save does: lock the row, then UPDATE it.
        current = ShiftRequestPeriod.objects.select_for_update().get(pk=period.pk)
        current.deadline = timezone.now() - datetime.timedelta(minutes=1)
        current.save()
        thread = run_in_thread(_ask(person, period.start_date), outcome)
        wait_for_lock_waiters(1)
    join_all([thread])
    assert isinstance(outcome.error, Conflict), outcome.error
    assert "has passed" in outcome.error.message
    assert not ShiftRequest.objects.exists()


def test_a_request_being_written_holds_the_deadline_change_until_it_commits():
    """The other order: a request already past its checks keeps the period row (FOR SHARE), so
    the coordinator's change waits for it rather than the request landing after the deadline
    moved. Both succeed, in that order."""
    period = open_period()
    person = PersonFactory()
    outcome = Outcome()
    with transaction.atomic():
        created = requests.shift_request_create.__wrapped__(
            person=person, date=period.start_date, kind="off"
        )
        # The coordinator's save, in its own connection: it must wait for this transaction.
        thread = run_in_thread(
            lambda: ShiftRequestPeriod.objects.filter(pk=period.pk).update(
                deadline=timezone.now() - datetime.timedelta(minutes=1)
            ),
            outcome,
        )
        wait_for_lock_waiters(1)
    join_all([thread])
    assert outcome.error is None and outcome.result == 1
    assert list(ShiftRequest.objects.values_list("pk", flat=True)) == [created.pk]
