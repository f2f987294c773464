from __future__ import annotations

import django_rq
import pytest
from rq import SimpleWorker

from scheduling import services
from scheduling.synthetic import synthetic_program_create


@pytest.fixture
def program_s(db):
    """The synthetic S program (18 residents, 12 faculty, 10 rotations, 13 blocks)."""
    return synthetic_program_create(size="S", seed=1)


@pytest.fixture
def run_worker(redis_conn):
    """Run a real rq worker in burst mode in this (main) thread: it works off every queued job
    (SimpleWorker: in-process, so test hooks apply) and returns when the queue is empty."""

    def work() -> None:
        queue = django_rq.get_queue("default")
        SimpleWorker([queue], connection=queue.connection).work(burst=True)

    return work


@pytest.fixture(autouse=True)
def _clear_hooks():
    yield
    services.hooks.after_progress_write = None
    services.hooks.in_write_phase = None
