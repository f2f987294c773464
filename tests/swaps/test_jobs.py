"""The matcher job: queued after commit, run by a real rq worker; Redis down never loses a
request."""

import logging

import django_rq
import pytest
from django.core.management import call_command
from redis import Redis
from rq import Queue, SimpleWorker

from residency.models import Assignment
from swaps import jobs, services
from swaps.models import SwapRequest
from tests.swaps.conftest import fresh

Status = SwapRequest.Status


def mutual(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    first = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    second = services.swap_request_create(
        requester=bob, kind="one_to_one", offered_id=y.pk, wanted_id=x.pk
    )
    return first, second, x, y, ann, bob


@pytest.mark.django_db(transaction=True)
def test_new_request_queues_the_matcher_and_a_worker_executes_the_match(program, redis_conn):
    first, second, x, y, ann, bob = mutual(program)
    queue = django_rq.get_queue("default")
    assert queue.count == 2  # one job per committed request

    # SimpleWorker runs the jobs in this process (no fork), against the committed rows.
    worker = django_rq.get_worker("default", worker_class=SimpleWorker)
    worker.work(burst=True)

    assert (fresh(first).status, fresh(second).status) == (Status.EXECUTED, Status.EXPIRED)
    assert (fresh(x).person, fresh(y).person) == (bob, ann)
    assert queue.failed_job_registry.count == 0


@pytest.mark.django_db(transaction=True)
def test_redis_down_still_saves_the_request(program, monkeypatch, caplog):
    dead = Queue("default", connection=Redis(host="127.0.0.1", port=1, socket_connect_timeout=1))
    monkeypatch.setattr(django_rq, "get_queue", lambda name: dead)
    ann = program.resident("Ann")
    x = program.assign(ann, 1)
    with caplog.at_level(logging.WARNING, logger="swaps.services"):
        swap = services.swap_request_create(requester=ann, kind="open", offered_id=x.pk)
    assert fresh(swap).status == Status.PENDING
    assert "Could not queue the swap matcher" in caplog.text


@pytest.mark.django_db
def test_job_function_and_command(program, capsys):
    first, second, *_ = mutual(program)
    assert jobs.match_swaps(swap_request_id=second.pk) == {
        "expired": 0,
        "executed": [first.pk],
        "accepted": [],
        "failed": [],
    }
    call_command("match_swaps")
    assert "0 executed" in capsys.readouterr().out


@pytest.mark.django_db
def test_regeneration_then_expiry_job(program):
    first, second, _x, _y, _ann, _bob = mutual(program)
    Assignment.objects.filter(block__academic_year=program.year).delete()  # as generation does
    assert jobs.expire_stale_swaps(academic_year_id=program.year.pk) == 2
    assert {fresh(first).status, fresh(second).status} == {Status.EXPIRED}
    assert fresh(first).events.last().note == (
        "The assignment no longer exists (the schedule was regenerated)."
    )
