"""Helpers for tests that run real threads against real PostgreSQL.

Each thread uses its own database connection (Django gives one per thread) and closes it when
done; a Barrier releases the threads together so their transactions really overlap; joins have a
timeout and a thread still alive afterwards fails the test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections

JOIN_TIMEOUT = 60


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None


def run_in_thread(func: Callable[[], Any], outcome: Outcome) -> threading.Thread:
    """Start ``func`` in a thread that records its result or error and closes its connection."""

    def target() -> None:
        try:
            outcome.result = func()
        except BaseException as error:  # recorded for the test to assert on
            outcome.error = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def join_all(threads: list[threading.Thread], timeout: float = JOIN_TIMEOUT) -> None:
    for thread in threads:
        thread.join(timeout)
    alive = [thread.name for thread in threads if thread.is_alive()]
    assert not alive, f"threads still running after {timeout}s: {alive}"


def run_concurrently(*funcs: Callable[[], Any], timeout: float = JOIN_TIMEOUT) -> list[Outcome]:
    """Run each function in its own thread, released together by a Barrier; wait for all."""
    barrier = threading.Barrier(len(funcs))
    outcomes = [Outcome() for _ in funcs]

    def released(func: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            barrier.wait(timeout)
            return func()

        return call

    threads = [run_in_thread(released(f), o) for f, o in zip(funcs, outcomes, strict=True)]
    join_all(threads, timeout)
    return outcomes


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = JOIN_TIMEOUT) -> None:
    """Return once ``condition()`` holds; fail naming ``what`` after ``timeout`` seconds.

    For states no event announces: another process's progress, PostgreSQL's view of lock
    waiters, a key's expiry in Redis. Polls a condition; never sleeps in the hope it is met."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.02)


def lock_waiters() -> int:
    """Sessions of the test database waiting for a lock right now."""
    from django.db import connection

    with connection.cursor() as cursor:
        # Inside a transaction PostgreSQL caches the statistics snapshot (pg_stat_activity) until
        # the transaction ends; drop it so a caller that holds a lock in an open transaction
        # (and polls from it) sees the waiters arrive.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_for_lock_waiters(count: int, timeout: float = JOIN_TIMEOUT) -> None:
    """Return once ``count`` other sessions of the test database wait on a lock (they are
    blocked behind a lock the test holds), so the overlap a test claims really happened.
    Call it from the test's own thread."""
    wait_until(lambda: lock_waiters() >= count, what=f"{count} session(s) to wait on a lock",
               timeout=timeout)  # fmt: skip
