"""Shift generation on the demo program (five shift types, residents and faculty, night float,
24-h weekend call, overnight call after ward days, holidays): the month after the demo's seeded
one is generated with the roster engine and the independent validator finds nothing; the seeded
month regenerated from scratch (keep="none") too. The reader reads in a fixed number of
queries."""

import datetime

import pytest

from residency.demo import demo_program_seed
from scheduling.roster import roster_solve
from scheduling.shift_problem import shift_rows_validate, shift_snapshot_load
from shifts.demo import demo_shifts_seed

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2041, 11, 12)
QUERIES_TO_VALIDATE = 20  # 18 on the demo month (265 before)


@pytest.mark.parametrize(
    ("start", "end", "keep"),
    [
        (datetime.date(2041, 12, 1), datetime.date(2041, 12, 31), "changes"),
        (datetime.date(2041, 11, 1), datetime.date(2041, 11, 30), "none"),
    ],
)
def test_demo_month_generates_and_validates(start, end, keep, django_assert_max_num_queries):
    summary = demo_program_seed(today=TODAY)
    demo_shifts_seed(year=summary.year, today=TODAY)
    with django_assert_max_num_queries(16):
        snapshot = shift_snapshot_load(academic_year=summary.year, start=start, end=end, keep=keep)
    result = roster_solve(snapshot.problem, time_limit=6, workers=1, seed=0)
    assert result.found, result.status
    rows = snapshot.rows_of(result.roster)
    assert len(rows) > 100
    # The check reads per person and per period, not per row (publish runs it with everyone
    # locked): before eligibility was read once, it took three queries a row.
    with django_assert_max_num_queries(QUERIES_TO_VALIDATE):
        assert shift_rows_validate(snapshot=snapshot, rows=rows) == []
