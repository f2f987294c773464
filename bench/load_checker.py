"""The load test's ledger and its independent invariant checker (bench/load.py runs them).

The ledger records every edit, trade and sick call the simulated people were told succeeded;
the checker reads the database with plain SQL (never the app's code, except the duty-hour
validator, which it runs as a command) and judges the run by the invariants listed in
bench/load.py's docstring.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from bench.client import NO_RESPONSE, Stats
from bench.stack import PYTHON, ROOT

NOTES = re.compile(r"^load c=(\d+) t=(\S+) p=(\S+)$")
LABEL = re.compile(r"\((\w+)\), block (\d+) \(")
# The states a generation run ends in (the checker waits for every run to reach one).
TERMINAL = ("cancelled", "ready", "succeeded", "discarded", "superseded", "failed")


def notes_parse(notes: str) -> tuple[int, str]:
    match = NOTES.match(notes or "")
    return (int(match[1]), match[2]) if match else (0, "-")


def notes_format(count: int, token: str, prev: str) -> str:
    return f"load c={count} t={token} p={prev}"


@dataclass
class Write:
    """One edit attempt that got an answer (or none)."""

    client: int
    assignment: int
    token: str
    prev: str
    count: int
    started: float
    finished: float
    status: int
    via: str

    @property
    def acked(self) -> bool:
        return self.status == 200 or (self.via == "form" and self.status == 302)

    @property
    def outcome_unknown(self) -> bool:
        return self.status == NO_RESPONSE or (self.status >= 500 and self.status != 503)


@dataclass
class Hot:
    """The rows everyone fights over (shared by every client, refreshed after generation)."""

    block_number: int
    people: set[int]
    rows: list[int] = field(default_factory=list)
    # The month bench/seed.py gave shifts (YYYY-MM): where coordinators find sick calls.
    shift_month: str = ""


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    writes: list[Write] = field(default_factory=list)
    # Shift requests (takes, accepted trades) acknowledged as executed, and sick calls the
    # coordinators were told are covered.
    shift_trades: list[int] = field(default_factory=list)
    sick_calls_covered: list[int] = field(default_factory=list)

    def add(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)


# --- the checker: reads the database, not the app ----------------------------------------------


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(message)


def snapshot(conn) -> dict:
    rows = conn.execute(
        "SELECT block_id, rotation_id, person_id FROM residency_assignment"
    ).fetchall()
    per_rotation = Counter((block, rotation) for block, rotation, _ in rows)
    people = defaultdict(set)
    for block, _, person in rows:
        people[block].add(person)
    shift_counts = Counter(conn.execute("SELECT date, shift_type_id FROM shifts_shift").fetchall())
    return {"per_rotation": per_rotation, "people": dict(people), "shift_counts": shift_counts}


def duty_hour_lines(env: dict, year_label: str) -> set[str]:
    """Every rule the year's shifts break, as the shifts app's validator words it (the duty-hour
    engine is the app's pure function: the checker runs it, it does not re-implement it)."""
    result = subprocess.run(
        [PYTHON, "manage.py", "validate_shifts", year_label], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return {line for line in result.stdout.splitlines()[:-1] if line.strip()}


def check_shifts(conn, *, ledger: Ledger, initial: dict, final: dict, duty_before: set[str],
                 duty_after: set[str], verdict: Verdict) -> None:  # fmt: skip
    """7. The daily layer: no overlapping shifts, no shift created or lost by trades and sick
    calls, every acknowledged trade in the final rows, no new duty-hour violation without a
    coordinator's recorded override."""
    overlaps = conn.execute(
        "SELECT a.id, b.id, a.person_id FROM shifts_shift a JOIN shifts_shift b "
        "ON a.person_id = b.person_id AND a.id < b.id "
        "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
    ).fetchall()
    for a, b, person in overlaps:
        verdict.fail(f"overlap: person {person} holds shifts {a} and {b} at the same time")
    if final["shift_counts"] != initial["shift_counts"]:
        verdict.fail("shift conservation: the number of shifts per date and type changed")
    holders = dict(conn.execute("SELECT id, person_id FROM shifts_shift").fetchall())
    moves: list[tuple[float, int, int, int]] = []  # (when, shift, person, request or 0)
    pairs: dict[int, tuple[int, int, int, int]] = {}
    executed = conn.execute(
        "SELECT id, requester_id, counterpart_id, offered_shift_id, wanted_shift_id, "
        "wanted_version, executed_at FROM swaps_swaprequest "
        "WHERE unit = 'shift' AND status = 'executed'"
    ).fetchall()
    for swap_id, requester, counterpart, offered, wanted, wanted_version, at in executed:
        if offered is not None:
            moves.append((at.timestamp(), offered, counterpart, swap_id))
        if wanted_version is not None and wanted is not None:
            moves.append((at.timestamp(), wanted, requester, swap_id))
            pairs[swap_id] = (offered, wanted, requester, counterpart)
    for shift_id, person, at in conn.execute(
        "SELECT shift_id, replaced_by_id, resolved_at FROM shifts_sickcall "
        "WHERE resolved_at IS NOT NULL AND replaced_by_id IS NOT NULL"
    ).fetchall():
        moves.append((at.timestamp(), shift_id, person, 0))
    last: dict[int, tuple[int, int]] = {}
    for _at, shift_id, person, swap_id in sorted(moves):
        last[shift_id] = (person, swap_id)
    content_exchanges = 0
    for shift_id, (person, swap_id) in last.items():
        if holders.get(shift_id) == person:
            continue
        pair = pairs.get(swap_id)
        # Two shifts overlapping in time are exchanged by content (each holder keeps their row,
        # see docs/swaps.md): then each row stays with its requester/counterpart.
        if pair and holders.get(pair[0]) == pair[2] and holders.get(pair[1]) == pair[3]:
            content_exchanges += 1
            continue
        verdict.fail(
            f"shift {shift_id}: held by person {holders.get(shift_id)}, but the last executed "
            f"move (request {swap_id or 'sick call'}) gave it to person {person}"
        )
    statuses = dict(
        conn.execute(
            "SELECT id, status FROM swaps_swaprequest WHERE id = ANY(%s)", [ledger.shift_trades]
        ).fetchall()
    )
    for swap_id in ledger.shift_trades:
        if statuses.get(swap_id) != "executed":
            verdict.fail(
                f"shift trade {swap_id} was acknowledged executed, now {statuses.get(swap_id)}"
            )
    covered = dict(
        conn.execute(
            "SELECT id, replaced_by_id FROM shifts_sickcall WHERE id = ANY(%s)",
            [ledger.sick_calls_covered],
        ).fetchall()
    )
    for call_id in ledger.sick_calls_covered:
        if covered.get(call_id) is None:
            verdict.fail(f"sick call {call_id} was acknowledged covered, but is not")
    (overrides,) = conn.execute("SELECT count(*) FROM shifts_dutyhouroverride").fetchone()
    new = sorted(duty_after - duty_before)
    if new and not overrides:
        for line in new[:20]:
            verdict.fail(f"duty hours: new violation without an override: {line}")
    (open_calls,) = conn.execute(
        "SELECT count(*) FROM shifts_sickcall WHERE resolved_at IS NULL"
    ).fetchone()
    verdict.notes.append(
        f"shifts: {len(executed)} shift trades executed ({len(ledger.shift_trades)} "
        f"acknowledged to clients, {content_exchanges} by content), {len(last)} moved shifts "
        f"checked, {len(ledger.sick_calls_covered)} sick calls covered by a coordinator, "
        f"{open_calls} still open; {len(overlaps)} overlaps; duty-hour violations "
        f"{len(duty_before)} before, {len(duty_after)} after, {len(new)} new "
        f"({overrides} overrides recorded)"
    )


def check(conn, *, ledger: Ledger, stats: Stats, initial: dict, duty: tuple = ()) -> Verdict:
    verdict = Verdict()
    runs = conn.execute(
        "SELECT id, status, finished_at FROM scheduling_generationrun ORDER BY id"
    ).fetchall()
    # Published runs and when they read their snapshot: a publish may supersede only what was
    # acknowledged before that moment (it saw it); anything later it must have left alone.
    published_runs = conn.execute(
        "SELECT id, snapshot_at, published_at FROM scheduling_generationrun "
        "WHERE status = 'succeeded' AND snapshot_at IS NOT NULL"
    ).fetchall()
    snapshot_of = {run_id: at.timestamp() for run_id, at, _ in published_runs}
    # Between a published run's snapshot and its publish: what the run could not have seen.
    blind = [(at.timestamp(), (done or at).timestamp()) for _, at, done in published_runs]
    removed_rows: dict[int, float] = {}  # assignment id -> snapshot of the publish removing it
    removed_slots: dict[tuple[int, int], float] = {}  # (person, block number) -> the same
    published_blocks: set[int] = set()
    for run_id, kind, assignment_id, person_id, block_id, number in conn.execute(
        "SELECT c.run_id, c.kind, c.assignment_id, c.person_id, c.block_id, b.number "
        "FROM scheduling_generationchange c JOIN residency_block b ON b.id = c.block_id "
        "WHERE c.run_id = ANY(%s)",
        [list(snapshot_of)],
    ).fetchall():
        published_blocks.add(block_id)
        if kind == "remove":
            removed_rows[assignment_id] = snapshot_of[run_id]
            slot = (person_id, number)
            removed_slots[slot] = max(removed_slots.get(slot, 0.0), snapshot_of[run_id])

    # 1. Double booking.
    doubles = conn.execute(
        "SELECT person_id, block_id, count(*) FROM residency_assignment "
        "GROUP BY person_id, block_id HAVING count(*) > 1"
    ).fetchall()
    for person, block, n in doubles:
        verdict.fail(f"double booking: person {person} has {n} assignments in block {block}")

    # 2. Edits: walk every row's chain back from its final notes.
    final_notes = conn.execute("SELECT id, notes FROM residency_assignment").fetchall()
    by_token = {w.token: w for w in ledger.writes}
    applied = {w.token: w for w in ledger.writes if w.acked or w.outcome_unknown}
    on_chain: set[str] = set()
    for row_id, notes in final_notes:
        count, token = notes_parse(notes)
        while token not in on_chain:
            write = by_token.get(token)
            if write is None:
                break  # notes that no client of this run wrote: the start of the chain
            if token not in applied:
                verdict.fail(
                    f"refused edit {token} (HTTP {write.status}) is on row {row_id}'s notes"
                )
            if write.count != count:
                verdict.fail(f"row {row_id}: chain count {write.count} != {count} at {token}")
            on_chain.add(token)
            token, count = write.prev, count - 1
    acked = [w for w in ledger.writes if w.acked]
    existing = {row_id for row_id, _ in final_notes}
    # Superseded by a publish: it removed the row, and read its snapshot after the edit's answer.
    removed = [
        w
        for w in acked
        if w.token not in on_chain
        and w.assignment not in existing
        and removed_rows.get(w.assignment, float("-inf")) > w.finished
    ]
    lost = [w for w in acked if w.token not in on_chain and w not in removed]
    for write in lost[:20]:
        verdict.fail(
            f"lost edit: {write.token} on assignment {write.assignment} ({write.via}, "
            f"acknowledged {write.status}) is on no row's chain"
        )
    if len(lost) > 20:
        verdict.fail(f"... and {len(lost) - 20} more lost edits")
    verdict.notes.append(
        f"edits: {len(acked)} acknowledged, {len(acked) - len(lost) - len(removed)} present or "
        f"superseded, {len(removed)} on rows a later-read publish removed, {len(lost)} lost "
        f"({sum(1 for w in acked if _during(w.finished, blind))} acknowledged while a run that "
        f"was then published was solving); "
        f"{sum(1 for w in ledger.writes if w.status in (409, 412))} refused as stale"
    )

    # 3. Executed swaps.
    rows = {
        row_id: (person, code, generation_run)
        for row_id, person, code, generation_run in conn.execute(
            "SELECT a.id, a.person_id, r.code, a.generation_run_id FROM residency_assignment a "
            "JOIN residency_rotationtemplate r ON r.id = a.rotation_id"
        ).fetchall()
    }
    swaps = conn.execute(
        "SELECT id, requester_id, counterpart_id, offered_id, wanted_id, offered_label, "
        "wanted_label, executed_at FROM swaps_swaprequest "
        "WHERE status = 'executed' AND unit = 'block' ORDER BY executed_at, id"
    ).fetchall()
    expected: dict[int, tuple[int, int, str | None, float]] = {}
    checked = superseded = 0
    for (swap_id, requester, counterpart, offered, wanted, offered_label, wanted_label,
         executed_at) in swaps:  # fmt: skip
        # The labels record each side as it was when the swap executed (unchanged since).
        offered_code, offered_block = _label_parts(offered_label)
        wanted_code, wanted_block = _label_parts(wanted_label)
        at = executed_at.timestamp()
        if wanted_label and offered_block == wanted_block:
            # Same block: each person keeps their row, the rows exchange what they hold.
            outcome = [
                (offered, requester, wanted_code, offered_block),
                (wanted, counterpart, offered_code, wanted_block),
            ]
        else:
            outcome = [(offered, counterpart, offered_code, offered_block)]
            if wanted_label:
                outcome.append((wanted, requester, wanted_code, wanted_block))
        for row_id, person, code, block in outcome:
            if row_id is None:  # the row was deleted since (the foreign key was set to NULL)
                if removed_slots.get((person, block), float("-inf")) > at:
                    superseded += 1  # by a publish that read the swap's result
                else:
                    verdict.fail(
                        f"swap {swap_id}: a row it moved was deleted by no publish that saw it"
                    )
                continue
            expected[row_id] = (swap_id, person, code, at)  # a later swap of the row wins
    for row_id, (swap_id, person, code, at) in expected.items():
        if row_id not in rows:
            verdict.fail(f"swap {swap_id}: row {row_id} vanished without its swaps noticing")
            continue
        final_person, final_code, generation_run = rows[row_id]
        read_at = snapshot_of.get(generation_run) if generation_run else None
        if read_at is not None and read_at > at:
            superseded += 1  # changed by a publish whose snapshot already had the swap
            continue
        checked += 1
        if final_person != person or final_code != code:
            verdict.fail(
                f"swap {swap_id}: row {row_id} holds person {final_person} on {final_code}, "
                f"the swap left person {person} on {code}"
            )
    overlapping = sum(1 for swap in swaps if _during(swap[7].timestamp(), blind))
    verdict.notes.append(
        f"swaps: {len(swaps)} executed ({overlapping} while a published run was solving), "
        f"{checked} moved rows checked against the final rows, "
        f"{superseded} superseded by a publish that read them"
    )

    # 4. Conservation, in the blocks where no publish changed anything.
    rewritten = published_blocks
    final = snapshot(conn)
    kept = set(initial["people"]) - rewritten
    for block in sorted(kept):
        if final["people"].get(block) != initial["people"][block]:
            verdict.fail(f"conservation: the people of block {block} changed without generation")
        counts = {k: n for k, n in final["per_rotation"].items() if k[0] == block}
        if counts != {k: n for k, n in initial["per_rotation"].items() if k[0] == block}:
            verdict.fail(f"conservation: people per rotation changed in block {block}")
    verdict.notes.append(
        f"conservation: {len(kept)} blocks keep their people and rotation counts "
        f"({len(rewritten)} changed by a publish)"
    )

    if duty:
        check_shifts(conn, ledger=ledger, initial=initial, final=final, duty_before=duty[0],
                     duty_after=duty[1], verdict=verdict)  # fmt: skip

    # 5. Generation runs (a publish leaves its run "succeeded").
    statuses = Counter(status for _, status, _ in runs)
    for run_id, status, _ in runs:
        if status not in TERMINAL:
            verdict.fail(f"generation run {run_id} ended {status}, not in a terminal state")
    foreign = conn.execute(
        "SELECT DISTINCT a.generation_run_id, g.status FROM residency_assignment a "
        "LEFT JOIN scheduling_generationrun g ON g.id = a.generation_run_id "
        "WHERE a.generation_run_id IS NOT NULL AND g.status IS DISTINCT FROM 'succeeded'"
    ).fetchall()
    for run_id, status in foreign:
        verdict.fail(f"rows written by generation run {run_id}, which is {status}")
    verdict.notes.append(f"generation runs: {dict(statuses) or 'none'}")

    # 6. HTTP.
    busy = 0
    for op, request, status, body in stats.failures:
        if (
            status == 503
            and body.startswith("{")
            and '"error"' in body
            and ("unavailable" not in body)
        ):
            busy += 1
            continue
        verdict.fail(f"HTTP {status or 'no answer'} on {op} ({request}): {body[:160]}")
    verdict.notes.append(
        f"HTTP: {stats.total()} requests, {busy} refused 503 busy/try-again (by design), "
        f"{len(stats.failures) - busy} server errors or no answer"
    )
    return verdict


def _during(at: float, windows: list[tuple[float, float]]) -> bool:
    return any(start < at < end for start, end in windows)


def _label_parts(label: str) -> tuple[str | None, int | None]:
    """(rotation code, block number) from a swap's label, as swaps.selectors words it."""
    match = LABEL.search(label or "")
    return (match[1], int(match[2])) if match else (None, None)
