"""What a generation publish records and tells (issue 10): its name on every history row it
writes, one digest per person whose assignments it changed, and the coordinators' "run
finished/failed". Called around the writes of the diff write (``publish.diff_apply``), which
both the automatic publish and a reviewed draft's publish go through."""

from __future__ import annotations

from dataclasses import dataclass

from residency.history import SOURCE_GENERATION, history_context_set
from residency.notifications import (
    Kind,
    Placement,
    assignment_placements,
    notify_coordinators,
    schedule_changes_notify,
)


@dataclass
class Publish:
    run_id: int
    before: Placement


def schedule_publish_begin(*, run_id: int, block_ids: list[int]) -> Publish:
    """Before the publish writes (in its transaction): name the run in history, note who was
    where."""
    history_context_set(source=SOURCE_GENERATION, actor=f"generation run #{run_id}")
    return Publish(run_id=run_id, before=assignment_placements(block_ids=block_ids))


def schedule_publish_end(publish: Publish, *, block_ids: list[int], message: str) -> None:
    """After the publish wrote (same transaction): one digest per person it moved and the
    coordinators' notice; all of it rolls back with the publish."""
    changed = schedule_changes_notify(
        before=publish.before,
        after=assignment_placements(block_ids=block_ids),
        what=f"The schedule published by generation run #{publish.run_id}",
    )
    generation_run_end_notify(
        run_id=publish.run_id,
        succeeded=True,
        message=f"{message} {changed} people's assignments changed.",
    )


def generation_run_end_notify(
    *, run_id: int, succeeded: bool, message: str, outcome: str = ""
) -> None:
    """Tell coordinators a run ended; ``outcome`` words it ("is ready for review") where
    "succeeded"/"failed" would not."""
    outcome = outcome or ("succeeded" if succeeded else "failed")
    notify_coordinators(
        kind=Kind.GENERATION_FINISHED,
        subject=f"Generation run #{run_id} {outcome}",
        body=message,
        url=f"/generation/runs/{run_id}/",
    )
