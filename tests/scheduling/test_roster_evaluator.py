"""The independent benchmark evaluator on hand-built rosters: each hard rule at its boundary
(one roster just inside, one just outside), and the objective term by term."""

from __future__ import annotations

import pytest

from bench.shift_benchmark_evaluator import evaluate, read_instance, read_roster

# 14 days from a Monday: the weekends are days 5-6 and 12-13.
STAFF_HEADER = (
    "# ID, MaxShifts, MaxTotalMinutes, MinTotalMinutes, MaxConsecutiveShifts, "
    "MinConsecutiveShifts, MinConsecutiveDaysOff, MaxWeekends"
)


def instance(
    *,
    staff: str = "A,D=14|N=14,10000,0,3,2,2,1",
    days_off: str = "",
    on: str = "",
    off: str = "",
    cover: str = "",
) -> str:
    return "\r\n".join(
        [
            "SECTION_HORIZON",
            "14",
            "",
            "SECTION_SHIFTS",
            "D,480,",
            "N,600,D",
            "",
            "SECTION_STAFF",
            STAFF_HEADER,
            staff,
            "",
            "SECTION_DAYS_OFF",
            days_off,
            "",
            "SECTION_SHIFT_ON_REQUESTS",
            on,
            "",
            "SECTION_SHIFT_OFF_REQUESTS",
            off,
            "",
            "SECTION_COVER",
            cover,
            "",
        ]
    )


def check(text: str, roster: list[tuple[int, str]], person: str = "A"):
    rows = "\n".join(f"{person},{day},{shift}" for day, shift in roster)
    return evaluate(read_instance(text), read_roster(rows))


def run(days: range, shift: str = "D") -> list[tuple[int, str]]:
    return [(d, shift) for d in days]


def test_cannot_follow_is_next_day_only():
    text = instance()
    # N then D the next day: forbidden; N then D two days later (runs of 1 at the edges are
    # exempt, so only the succession can be reported).
    bad = check(text, [(0, "N"), (1, "D")])
    assert [v for v in bad.violations if "after N" in v] == ["A: D on day 1 after N"]
    ok = check(text, [(0, "N"), (1, "N"), (4, "D"), (5, "D")])
    assert not [v for v in ok.violations if "after" in v]
    # D then N is allowed (only N lists D).
    assert not [v for v in check(text, [(0, "D"), (1, "N")]).violations if "after" in v]


def test_min_consecutive_shifts_exempts_runs_touching_the_edges():
    text = instance(staff="A,D=14|N=14,10000,0,5,2,1,2")
    assert check(text, [(0, "D")]).violations == []  # a run of 1 on the first day
    assert check(text, [(13, "D")]).violations == []  # a run of 1 on the last day
    assert check(text, run(range(3, 5))).violations == []  # exactly 2 inside
    assert check(text, [(3, "D")]).violations == ["A: only 1 shifts in a row from day 3"]


def test_min_consecutive_days_off_exempts_runs_touching_the_edges():
    text = instance(staff="A,D=14|N=14,10000,0,14,1,2,2")
    # Off only on day 0 (an edge) or day 13: exempt.
    assert check(text, run(range(1, 14))).violations == []
    assert check(text, run(range(13))).violations == []
    # Two days off inside: fine; one day off inside: a violation.
    assert check(text, run(range(5)) + run(range(7, 14))).violations == []
    assert check(text, run(range(5)) + run(range(6, 14))).violations == [
        "A: only 1 days off in a row from day 5"
    ]


def test_max_consecutive_shifts_boundary():
    text = instance(staff="A,D=14|N=14,10000,0,3,1,1,2")
    assert check(text, run(range(2, 5))).violations == []
    assert check(text, run(range(2, 6))).violations == ["A: 4 shifts in a row from day 2"]


def test_weekend_counts_if_either_day_is_worked():
    text = instance(staff="A,D=14|N=14,10000,0,14,1,1,1")
    assert check(text, [(5, "D")]).violations == []  # Saturday of weekend 1
    assert check(text, [(5, "D"), (6, "D")]).violations == []  # the same weekend
    assert check(text, [(6, "D"), (12, "D")]).violations == ["A: 2 weekends > 1"]
    assert check(text, [(4, "D"), (7, "D")]).violations == []  # Friday and Monday


def test_max_shifts_per_type_and_total_minutes():
    text = instance(staff="A,D=2|N=0,1440,960,14,1,1,2")
    assert check(text, [(0, "D"), (2, "D")]).violations == []  # 960 minutes, 2 D
    assert check(text, [(0, "D"), (2, "D"), (4, "D")]).violations == ["A: 3 shifts D > 2"]
    assert check(text, [(0, "N"), (2, "D")]).violations == ["A: 1 shifts N > 0"]
    assert check(text, [(0, "D")]).violations == ["A: 480 minutes < 960"]
    text = instance(staff="A,D=3|N=3,1000,0,14,1,1,2")
    assert check(text, [(0, "D"), (2, "D")]).violations == []  # 960 <= 1000
    assert check(text, [(0, "D"), (2, "N")]).violations == ["A: 1080 minutes > 1000"]


def test_days_off_and_one_shift_a_day():
    text = instance(staff="A,D=14|N=14,10000,0,14,1,1,2", days_off="A,3,9")
    assert check(text, [(2, "D"), (4, "D")]).violations == []
    assert check(text, [(3, "D")]).violations == ["A: works on day off 3"]
    assert check(text, [(2, "D"), (2, "N")]).violations == ["A: two shifts on day 2"]
    assert "outside the horizon" in check(text, [(14, "D")]).violations[0]
    assert "unknown shift" in check(text, [(1, "X")]).violations[0]


def test_objective_requests_and_cover():
    text = instance(
        staff="A,D=14|N=14,10000,0,14,1,1,2\r\nB,D=14|N=14,10000,0,14,1,1,2",
        on="A,0,D,2\r\nA,1,N,3",
        off="B,0,D,5\r\nB,1,D,7",
        cover="0,D,1,100,1\r\n1,D,2,100,1\r\n2,N,0,100,10",
    )
    inst = read_instance(text)
    rows = read_roster("A,0,D\nB,0,D\nA,1,D\nB,2,N\n")
    report = evaluate(inst, rows)
    # A's "N on day 1" is unmet (3), B's "no D on day 0" is broken (5); cover: day 0 one over
    # (1), day 1 one under (100), day 2 N one over at 10.
    assert report.penalties == {
        "on_requests": 3,
        "off_requests": 5,
        "cover_under": 100,
        "cover_over": 11,
    }
    assert report.objective == 119


@pytest.mark.parametrize("line", ["A,0,D,extra", "A,zero,D"])
def test_malformed_roster_lines_are_rejected(line):
    with pytest.raises(ValueError):
        read_roster(line)
