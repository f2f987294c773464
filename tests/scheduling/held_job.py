"""An rq job for tests/scheduling/test_lost_updates.py: the generation job, with its solve held
at the first solution (after the snapshot was read) until the test releases it through Redis
(the work horse is another process, so an in-memory event cannot reach it)."""

from __future__ import annotations

from scheduling import services

HOLD_SECONDS = 60


def generation_run_held_job(run_id: int) -> None:
    redis = services._redis()
    held = []

    def hold(_run_id: int) -> None:
        if held:
            return  # only the first solve's first solution
        held.append(True)
        redis.set(f"rota:test:snapshot-read:{run_id}", 1)
        redis.blpop([f"rota:test:release:{run_id}"], timeout=HOLD_SECONDS)

    services.hooks.on_solution = hold
    services.generation_run_execute(run_id=run_id)
