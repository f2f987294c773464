"""The job's guard thread: while a generation run's job solves, it notices a cancel request,
renews the year's Redis lock and writes the solver's progress. Both kinds of run use it
(scheduling/execute.py starts and stops it; scheduling/shift_runs.py reports through it)."""

from __future__ import annotations

import logging
import threading
import time

from django.db import connection
from redis.exceptions import LockError

from scheduling.models import GenerationRun
from scheduling.publish import hooks
from scheduling.search import ScheduleSolve
from scheduling.solver import Progress

logger = logging.getLogger(__name__)
Status = GenerationRun.Status

GUARD_POLL_SECONDS = 0.25  # how often the running job looks for a cancel request
PROGRESS_WRITE_SECONDS = 0.5  # at most one progress UPDATE per this interval


def run_status(run_id: int) -> str:
    return GenerationRun.objects.values_list("status", flat=True).get(pk=run_id)


class JobGuard:
    """While the job runs: looks for a cancel request every GUARD_POLL_SECONDS (the solver's
    callback only fires on solutions, so it cannot be relied on to notice), renews the Redis
    lock, and writes progress at most every PROGRESS_WRITE_SECONDS. It is the only thread that
    touches the database besides the job's own, and closes its connection when done."""

    def __init__(self, run: GenerationRun, lock, *, renew_every: float) -> None:
        self.run_id = run.pk
        self.time_limit = run.parameters["time_limit_seconds"]
        self.lock = lock
        self.renew_every = renew_every
        self.solve: ScheduleSolve | None = None
        self.stopped_because = ""  # "cancelled", or why the run must fail
        self._latest: Progress | None = None
        self._written: Progress | None = None
        self._progress_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"generation-{run.pk}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def on_solution(self, progress: Progress) -> None:  # called on a solver thread: no DB here
        with self._progress_lock:
            self._latest = progress
        if hooks.on_solution is not None:
            hooks.on_solution(self.run_id)

    def report(self, percent: int, message: str) -> None:
        GenerationRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            progress=percent, progress_message=message
        )

    def _halt(self, reason: str) -> None:
        self.stopped_because = self.stopped_because or reason
        if self.solve is not None:
            self.solve.stop()

    def _run(self) -> None:
        renewed = last_write = time.monotonic()
        try:
            while not self._stop.wait(GUARD_POLL_SECONDS):
                status = run_status(self.run_id)
                if status == Status.CANCELLING:
                    self._halt("cancelled")
                elif status != Status.RUNNING:
                    self._halt(f"The run was marked {status} while it ran; nothing was written.")
                now = time.monotonic()
                if now - renewed >= self.renew_every:
                    try:
                        self.lock.reacquire()  # back to the full expiry
                        renewed = now
                    except LockError:
                        self._halt(
                            "The generation lock expired and could not be renewed; "
                            "nothing was written."
                        )
                if now - last_write >= PROGRESS_WRITE_SECONDS and self._write_progress():
                    last_write = now
        except Exception:
            logger.exception("generation guard %s", self.run_id)
            self._halt("The generation's watchdog failed; nothing was written.")
        finally:
            connection.close()

    def _write_progress(self) -> bool:
        with self._progress_lock:
            latest = self._latest
        if latest is None or latest is self._written:
            return False
        fraction = max(latest.wall_seconds / self.time_limit, 1 - min(1.0, latest.gap))
        percent = 10 + int(80 * min(1.0, fraction))
        # No gap here: the objective's bound is weak, so a percentage would alarm for nothing
        # (the finished run reports changes, fairness and wishes: scheduling/report.py).
        changed = (
            ""
            if latest.changes is None
            else f" the best changes {latest.changes} person-block(s) of the current schedule;"
        )
        message = f"{latest.solutions} schedule(s) found meeting every rule;{changed} improving it."
        GenerationRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            progress=percent, progress_message=message, objective=latest.objective,
            best_bound=latest.best_bound, gap=latest.gap,
        )  # fmt: skip
        self._written = latest
        if hooks.after_progress_write is not None:
            hooks.after_progress_write(self.run_id)
        return True
