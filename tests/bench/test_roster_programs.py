"""The residency programs benchmark (bench/roster_programs.py) on its smallest program: the
generator is pure and seedable, the engine finds a roster the independent checker
(bench/residency_check.py) passes, and the checker catches each residency rule broken by hand.
No database: the engine and the benchmark are pure Python."""

from __future__ import annotations

import pytest

from bench import residency_check, roster_programs
from scheduling.roster import roster_solve


@pytest.fixture(scope="module")
def solved():
    program = roster_programs.program_generate("S", horizon="month", seed=3)
    result = roster_solve(
        roster_programs.program_problem(program), time_limit=10, workers=1, seed=3
    )
    assert result.found, result.status
    return program, result.roster


def test_the_generator_is_pure_and_seedable():
    a = roster_programs.program_generate("S", horizon="month", seed=3)
    b = roster_programs.program_generate("S", horizon="month", seed=3)
    c = roster_programs.program_generate("S", horizon="month", seed=4)
    assert (a.rotation, a.vacation, a.requests, a.history) == (
        b.rotation,
        b.vacation,
        b.requests,
        b.history,
    )
    assert a.requests != c.requests
    assert len(a.residents) == 20 and a.days == 28
    assert {r.pgy for r in a.residents} == {1, 2, 3}


def test_the_engine_roster_passes_the_independent_check(solved):
    program, roster = solved
    report = residency_check.check(program, roster)
    assert report.violations == []
    assert set(report.spread) == {"PGY1", "PGY2", "PGY3"}
    # Every night has its night float and every weekday its call (cover is checked exactly).
    assert sum(1 for t in roster.values() if t == "NF") == sum(
        k for (_d, t), k in program.need.items() if t == "NF"
    )


def _someone(roster, shift_type):
    return next((pid, d) for (pid, d), t in sorted(roster.items()) if t == shift_type)


def test_the_check_catches_call_without_rest_and_q3(solved):
    program, roster = solved
    pid, day = _someone(roster, "CALL")
    broken = dict(roster)
    broken[pid, day + 1] = "CALL"
    found = residency_check.check(program, broken).violations
    assert any("post-call" in v and pid in v for v in found)
    assert any("more often than q3" in v and pid in v for v in found)
    assert any(v.startswith(f"cover CALL day {day + 1}") for v in found)


def test_the_check_catches_a_missing_night_and_a_short_run(solved):
    program, roster = solved
    # A night-float run inside the month; drop its third night: two runs of 2 and 2-3 nights.
    runs = [
        (pid, start, end)
        for pid in sorted({p for (p, _d), t in roster.items() if t == "NF"})
        for start, end in residency_check._runs(
            sorted(d for (p, d), t in roster.items() if p == pid and t == "NF")
        )
        if start > 0 and end < program.days - 1
    ]
    pid, start, _end = runs[0]
    broken = dict(roster)
    del broken[pid, start + 2]
    found = residency_check.check(program, broken).violations
    assert any(v.startswith(f"cover NF day {start + 2}: ") for v in found)
    assert f"{pid} night-float run of 2 from day {start}" in found
    assert f"{pid} works day {start + 3} within 2 days after nights" in found


def test_the_check_counts_eighty_hours_and_free_days():
    program = roster_programs.program_generate("S", horizon="month", seed=3)
    ward = next(r for r in program.residents if program.rotation[r.id, 0] == "ward")
    program.vacation.pop(ward.id, None)
    # Every weekend day on 24-h call: 20 ward days x 10 h + 8 x 24 h = 392 h and no free day.
    roster = {(ward.id, d): "WE24" for d in range(28) if program.weekday(d) in (5, 6)}
    found = residency_check.check(program, roster).violations
    assert any(f"{ward.id} works 392.0 h" in v for v in found)
    assert any(f"{ward.id} has 0 free days" in v for v in found)
