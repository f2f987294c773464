"""The load test's invariant checker (bench/load_checker.py ``check``) must be able to fail:
each test builds a small final state and a client ledger, and checks what the verdict says.

The checker reads the database with raw SQL; here it gets the test transaction's own psycopg
connection, so it sees the rows the factories made.
"""

from __future__ import annotations

import datetime
import time

import pytest
from django.db import connection
from django.utils import timezone

from bench.client import Response, Stats
from bench.load_checker import Ledger, Write, check, notes_format, snapshot
from scheduling.models import GenerationChange, GenerationRun
from swaps.models import SwapRequest
from tests.factories import AssignmentFactory, BlockFactory, PersonFactory, RotationTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def conn():
    connection.ensure_connection()
    return connection.connection


@pytest.fixture
def row():
    return AssignmentFactory()


def write(row_id: int, token: str, prev: str, count: int, *, status: int = 200, at: float = 0):
    started = at or time.time()
    return Write(0, row_id, token, prev, count, started, started + 0.01, status, "api")


def verdict_for(conn, ledger: Ledger, *, stats: Stats | None = None, initial=None):
    return check(conn, ledger=ledger, stats=stats or Stats(), initial=initial or snapshot(conn))


def test_a_chain_of_acknowledged_edits_is_accepted(conn, row):
    ledger = Ledger(writes=[write(row.pk, "a", "-", 1), write(row.pk, "b", "a", 2)])
    row.notes = notes_format(2, "b", "a")
    row.save()
    verdict = verdict_for(conn, ledger)
    assert verdict.violations == []
    assert "2 acknowledged, 2 present or superseded" in verdict.notes[0]


def test_an_acknowledged_edit_overwritten_by_a_sibling_is_lost(conn, row):
    # Both were built on the same version: a lost update, whatever the final notes say.
    ledger = Ledger(writes=[write(row.pk, "a", "-", 1), write(row.pk, "b", "-", 1)])
    row.notes = notes_format(1, "b", "-")
    row.save()
    verdict = verdict_for(conn, ledger)
    assert any("lost edit: a on assignment" in v for v in verdict.violations)


def test_a_refused_edit_that_shows_up_is_a_violation(conn, row):
    ledger = Ledger(writes=[write(row.pk, "a", "-", 1, status=412)])
    row.notes = notes_format(1, "a", "-")
    row.save()
    verdict = verdict_for(conn, ledger)
    assert any("refused edit a (HTTP 412)" in v for v in verdict.violations)


def published(year, *, snapshot_at: datetime.datetime) -> GenerationRun:
    return GenerationRun.objects.create(
        academic_year=year, status="succeeded", snapshot_at=snapshot_at, finished_at=timezone.now()
    )


def removes(run: GenerationRun, row) -> None:
    GenerationChange.objects.create(
        run=run, kind="remove", person=row.person, block=row.block, assignment_id=row.pk,
        version_read=row.version, rotation_before=row.rotation, role_before=row.role,
    )  # fmt: skip


def test_an_edit_on_a_row_a_publish_removed_after_reading_it_is_superseded(conn, row):
    ledger = Ledger(writes=[write(row.pk, "a", "-", 1, at=time.time() - 60)])
    removes(published(row.block.academic_year, snapshot_at=timezone.now()), row)
    row.delete()
    verdict = verdict_for(conn, ledger)
    assert verdict.violations == []
    assert "1 on rows a later-read publish removed, 0 lost" in verdict.notes[0]


def test_a_publish_that_read_before_the_edit_does_not_excuse_removing_it(conn, row):
    # The lost update of issue 9: the run read its snapshot, the edit was acknowledged, and
    # the publish then deleted the row anyway.
    ledger = Ledger(writes=[write(row.pk, "a", "-", 1, at=time.time() - 60)])
    early = timezone.now() - datetime.timedelta(minutes=2)
    removes(published(row.block.academic_year, snapshot_at=early), row)
    row.delete()
    verdict = verdict_for(conn, ledger)
    assert any("lost edit: a" in v for v in verdict.violations)


def test_a_publish_does_not_excuse_edits_of_rows_it_kept(conn, row):
    ledger = Ledger(writes=[write(row.pk, "a", "-", 1, at=time.time() - 60)])
    published(row.block.academic_year, snapshot_at=timezone.now())
    verdict = verdict_for(conn, ledger)  # the row's notes lost the edit: generation must keep notes
    assert any("lost edit: a" in v for v in verdict.violations)


def test_a_removed_row_without_a_publish_does_not_excuse_the_edit(conn, row):
    ledger = Ledger(writes=[write(row.pk, "a", "-", 1)])
    row.delete()
    verdict = verdict_for(conn, ledger)
    assert any("lost edit: a" in v for v in verdict.violations)


def same_block_swap():
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(code="WARD"), RotationTemplateFactory(code="CLIN")
    alice, bob = PersonFactory(name="Alice"), PersonFactory(name="Bob")
    offered = AssignmentFactory(person=alice, block=block, rotation=wards)
    wanted = AssignmentFactory(person=bob, block=block, rotation=clinic)
    swap = SwapRequest.objects.create(
        academic_year=block.academic_year,
        kind="open",
        status="executed",
        requester=alice,
        counterpart=bob,
        offered=offered,
        offered_version=1,
        offered_label=f"Alice: Wards (WARD), block {block.number} (01 Jul - 28 Jul 2040)",
        wanted=wanted,
        wanted_version=1,
        wanted_label=f"Bob: Clinic (CLIN), block {block.number} (01 Jul - 28 Jul 2040)",
        executed_at=timezone.now(),
    )
    return swap, offered, wanted, wards, clinic


def test_an_executed_swap_must_be_in_the_final_rows(conn):
    swap, offered, wanted, wards, clinic = same_block_swap()
    verdict = verdict_for(conn, Ledger())  # the rows were never exchanged
    assert any(f"swap {swap.pk}: row {offered.pk}" in v for v in verdict.violations)

    offered.rotation, wanted.rotation = clinic, wards
    offered.save()
    wanted.save()
    verdict = verdict_for(conn, Ledger())
    assert verdict.violations == []
    assert (
        "1 executed (0 while a published run was solving), 2 moved rows checked"
        in (verdict.notes[1])
    )


@pytest.mark.parametrize("read_after_the_swap", [True, False])
def test_a_publish_may_overwrite_a_swapped_row_only_if_it_read_the_swap(conn, read_after_the_swap):
    swap, offered, wanted, wards, clinic = same_block_swap()
    offered.rotation, wanted.rotation = clinic, wards  # the swap, executed
    wanted.save()
    shift = datetime.timedelta(seconds=1 if read_after_the_swap else -1)
    run = published(offered.block.academic_year, snapshot_at=swap.executed_at + shift)
    offered.rotation, offered.generation_run_id = wards, run.pk  # then the publish changed it
    offered.save()
    verdict = verdict_for(conn, Ledger())
    if read_after_the_swap:
        assert verdict.violations == []
        assert "1 superseded by a publish that read them" in verdict.notes[1]
    else:
        assert any(f"swap {swap.pk}: row {offered.pk}" in v for v in verdict.violations)


def test_conservation_notices_a_person_moved_without_generation(conn, row):
    initial = snapshot(conn)
    row.person = PersonFactory()
    row.save()
    verdict = verdict_for(conn, Ledger(), initial=initial)
    assert f"conservation: the people of block {row.block_id} changed without generation" in (
        verdict.violations
    )


def test_unfinished_runs_and_rows_of_failed_runs_are_violations(conn, row):
    running = GenerationRun.objects.create(academic_year=row.block.academic_year, status="running")
    failed = GenerationRun.objects.create(academic_year=row.block.academic_year, status="failed")
    row.generation_run_id = failed.pk
    row.save()
    verdict = verdict_for(conn, Ledger())
    assert f"generation run {running.pk} ended running, not in a terminal state" in (
        verdict.violations
    )
    assert f"rows written by generation run {failed.pk}, which is failed" in verdict.violations


def test_server_errors_are_violations_and_json_refusals_are_not(conn):
    stats = Stats()
    stats.record(
        "swap accept", "POST", "/api/swaps/1/accept", Response(503, {}, b'{"error": "Busy"}')
    )
    assert verdict_for(conn, Ledger(), stats=stats).violations == []
    stats.record("api patch", "PATCH", "/api/assignments/1", Response(500, {}, b"<h1>oops"))
    stats.record("api get", "GET", "/api/assignments/1", Response(0, {}, b"ConnectionReset"))
    outage = b'{"error": "The database is unavailable right now. Try again in a moment."}'
    stats.record("api list", "GET", "/api/assignments", Response(503, {}, outage))
    violations = verdict_for(conn, Ledger(), stats=stats).violations
    assert len(violations) == 3
    assert violations[0].startswith("HTTP 500 on api patch")
    assert violations[1].startswith("HTTP no answer on api get")
    assert violations[2].startswith("HTTP 503 on api list")


# --- the daily layer (issue 13) ---------------------------------------------------------------


def shift_verdict(conn, ledger: Ledger, initial, *, before=(), after=()):
    return check(conn, ledger=ledger, stats=Stats(), initial=initial,
                 duty=(set(before), set(after)))  # fmt: skip


def test_overlapping_shifts_and_a_lost_shift_trade_are_violations(conn):
    from shifts.models import Shift
    from tests.factories import ShiftFactory, ShiftTypeFactory

    ann, bob = PersonFactory(), PersonFactory()
    call = ShiftTypeFactory()
    moved = ShiftFactory(person=ann, shift_type=call)
    initial = snapshot(conn)
    swap = SwapRequest.objects.create(
        academic_year=BlockFactory().academic_year, unit="shift", kind="give_away",
        requester=ann, counterpart=bob, offered_shift=moved, offered_version=1,
        offered_label="x", status="executed", executed_at=timezone.now(),
    )  # fmt: skip
    # The trade was acknowledged executed, but the shift is still Ann's: a lost trade.
    verdict = shift_verdict(conn, Ledger(shift_trades=[swap.pk]), initial)
    assert any(f"the last executed move (request {swap.pk})" in v for v in verdict.violations)
    Shift.objects.filter(pk=moved.pk).update(person=bob)
    assert shift_verdict(conn, Ledger(shift_trades=[swap.pk]), initial).violations == []
    # An overlap written past the constraint's back is impossible; a new duty-hour violation
    # without an override is not.
    verdict = shift_verdict(conn, Ledger(), initial, after=["Bob: 81 h/week; limit 80"])
    assert any("new violation without an override" in v for v in verdict.violations)
    # A shift appearing from nowhere breaks conservation.
    ShiftFactory(person=ann, shift_type=call, date=datetime.date(2040, 7, 9))
    verdict = shift_verdict(conn, Ledger(), initial)
    assert any("shift conservation" in v for v in verdict.violations)
