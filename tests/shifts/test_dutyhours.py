"""The duty-hour rules at their boundaries, on hand-built weeks (no database: the engine is a
pure function over plain data)."""

import datetime
from fractions import Fraction

from shifts.compliance import days_off, weekly_hours
from shifts.dutyhours import (
    BLOCKS,
    WARNING,
    Limits,
    PersonWork,
    WorkShift,
    duty_hour_problems,
)

MONDAY = datetime.date(2040, 7, 2)
DAY = datetime.timedelta(days=1)
LIMITS = Limits()


def at(day_offset: int, hour: float) -> datetime.datetime:
    return datetime.datetime.combine(MONDAY + day_offset * DAY, datetime.time()) + (
        datetime.timedelta(minutes=round(hour * 60))
    )


def shift(day_offset, start_hour, hours, *, code="X", call=False, home=False, rest=0, maxc=None):
    start = at(day_offset, start_hour)
    return WorkShift(
        date=start.date(),
        start=start,
        end=start + datetime.timedelta(minutes=round(hours * 60)),
        type_code=code,
        type_name=code,
        in_house=not home,
        counts_as_call=call,
        rest_after_hours=Fraction(rest),
        max_consecutive=maxc,
    )


def weekdays_pattern(hours_per_day: float, weeks: int = 4, start_hour: float = 6):
    """Mon-Fri, ``hours_per_day`` each, for ``weeks`` weeks from MONDAY."""
    return [
        (at(d, start_hour), at(d, start_hour + hours_per_day))
        for d in range(7 * weeks)
        if (MONDAY + d * DAY).weekday() < 5
    ]


def check(work, limits=LIMITS, start=MONDAY, end=MONDAY + 27 * DAY, blocks=None):
    return duty_hour_problems(work=work, limits=limits, start=start, end=end, blocks=blocks)


def rules(problems, severity="violation"):
    return sorted({p.rule for p in problems if p.severity == severity})


# --- 80 hours per week averaged over four weeks -------------------------------------------------


def test_exactly_80_hours_a_week_over_four_weeks_passes():
    # 20 weekdays x 16 h = 320 h over 28 days = 80.0 h/week.
    work = PersonWork(1, "Dr Okafor", pattern=weekdays_pattern(16))
    assert rules(check(work)) == []
    assert [
        round(h, 2) for _, h in weekly_hours(work=work, start=MONDAY, end=MONDAY + 27 * DAY)
    ] == [80.0] * 4


def test_80_and_a_half_hours_a_week_fails_with_the_numbers_and_dates():
    # Plus 2 h on a Saturday: 322 h / 4 = 80.5 h/week.
    work = PersonWork(1, "Dr Okafor", pattern=weekdays_pattern(16), shifts=[shift(5, 8, 2)])
    problems = [p for p in check(work) if p.rule == "weekly_hours"]
    assert len(problems) == 1
    problem = problems[0]
    # The weekends either side are free, so the windows from Sat 30 Jun, Sun 1 Jul and Mon 2 Jul
    # all hold the 322 h: one problem, reported at the first worst window.
    assert (problem.start, problem.end, problem.value, problem.limit) == (
        MONDAY - 2 * DAY,
        MONDAY + 25 * DAY,
        80.5,
        80.0,
    )
    assert problem.message == (
        "Dr Okafor: 80.5 h/week averaged over 30 Jun - 27 Jul 2040; limit 80."
    )


def test_block_averaging_judges_the_programs_blocks_only():
    # 322 h in a 28-day block fails; the same hours straddling two blocks pass in each.
    work = PersonWork(1, "Dr A", pattern=weekdays_pattern(16), shifts=[shift(5, 8, 2)])
    limits = Limits(averaging=BLOCKS)
    block = (MONDAY, MONDAY + 27 * DAY)
    assert rules(check(work, limits, blocks=[block])) == ["weekly_hours"]
    shifted = [(MONDAY - 14 * DAY, MONDAY + 13 * DAY), (MONDAY + 14 * DAY, MONDAY + 41 * DAY)]
    assert rules(check(work, limits, blocks=shifted)) == []


def test_the_weekly_limit_is_configurable():
    work = PersonWork(1, "Dr A", pattern=weekdays_pattern(16))
    assert rules(check(work, Limits(max_weekly_hours=Fraction(72)))) == ["weekly_hours"]


# --- 14 hours free after 24 hours of in-house call ----------------------------------------------


def test_24h_call_then_13_hours_off_fails():
    work = PersonWork(1, "Dr B", shifts=[shift(0, 7, 24, call=True), shift(1, 20, 4)])
    problems = check(work)
    assert rules(problems) == ["rest_after_call"]
    (problem,) = problems
    assert (problem.value, problem.limit) == (13, 14)
    assert "13 h free" in problem.message and "at least 14 h required" in problem.message


def test_24h_call_then_14_hours_off_passes():
    work = PersonWork(1, "Dr B", shifts=[shift(0, 7, 24, call=True), shift(1, 21, 4)])
    assert check(work) == []


def test_a_day_of_rotation_work_plus_overnight_call_is_24h_of_call():
    # Wards 07-17 then call 17-07: one 24-hour period with in-house call.
    work = PersonWork(
        1, "Dr B", pattern=[(at(0, 7), at(0, 17))], shifts=[shift(0, 17, 14, call=True)]
    )
    work.pattern.append((at(1, 20), at(1, 22)))  # 13 h after
    assert rules(check(work)) == ["rest_after_call"]


def test_the_rest_a_shift_imposes_removes_the_rotations_usual_hours():
    # 24-h call imposing 14 h rest: the next day's ward hours (07-18) are the post-call day.
    work = PersonWork(
        1,
        "Dr B",
        pattern=[(at(1, 7), at(1, 18))],
        shifts=[shift(0, 7, 24, call=True, rest=14)],
    )
    assert check(work) == []
    assert weekly_hours(work=work, start=MONDAY, end=MONDAY + 6 * DAY) == [(MONDAY, 24.0)]


# --- 24 + 4 hours of continuous work ------------------------------------------------------------


def test_28_hours_continuous_passes_and_28_and_a_half_fails():
    ok = PersonWork(1, "Dr C", shifts=[shift(0, 7, 24), shift(1, 7, 4)])
    assert rules(check(ok)) == []
    over = PersonWork(1, "Dr C", shifts=[shift(0, 7, 24), shift(1, 7, 4.5)])
    problems = check(over)
    assert rules(problems) == ["continuous"]
    assert "28.5 h of continuous scheduled work" in problems[0].message
    assert "limit 24 h + 4 h for transitions" in problems[0].message


# --- 8 hours between work periods (a warning) ---------------------------------------------------


def test_less_than_8_hours_between_periods_is_a_warning_not_a_violation():
    work = PersonWork(1, "Dr D", shifts=[shift(0, 7, 12), shift(1, 2.5, 8)])  # 7.5 h between
    problems = check(work)
    assert rules(problems) == []
    assert rules(problems, WARNING) == ["rest_between"]
    assert "7.5 h free" in problems[0].message
    exact = PersonWork(1, "Dr D", shifts=[shift(0, 7, 12), shift(1, 3, 8)])  # 8 h between
    assert check(exact) == []


# --- In-house call no more often than every third night, averaged over 4 weeks ------------------


def q3_calls(days):
    return [shift(d, 19, 12, call=True) for d in days]


def test_nine_in_house_calls_in_28_days_pass_and_ten_fail():
    nine = PersonWork(1, "Dr E", shifts=q3_calls(range(0, 27, 3)))  # days 0, 3, ... 24
    assert len(nine.shifts) == 9
    assert rules(check(nine)) == []
    ten = PersonWork(1, "Dr E", shifts=q3_calls([*range(0, 27, 3), 26]))
    problems = [p for p in check(ten) if p.rule == "call_frequency"]
    assert len(problems) == 1
    assert (problems[0].value, problems[0].limit) == (10, 9)
    assert "10 in-house call nights in 28 days" in problems[0].message


def test_home_call_and_night_float_are_not_counted_as_in_house_call():
    home = PersonWork(1, "Dr E", shifts=[shift(d, 19, 12, home=True) for d in range(0, 28, 2)])
    assert "call_frequency" not in rules(check(home))


# --- One day in seven free, averaged over 4 weeks -----------------------------------------------


def every_day_but(free_days):
    return [(at(d, 8), at(d, 16)) for d in range(28) if d not in free_days]


def test_four_free_days_in_28_pass_and_three_fail():
    four = PersonWork(1, "Dr F", pattern=every_day_but({6, 13, 20, 27}))
    assert rules(check(four)) == []
    assert days_off(work=four, start=MONDAY, end=MONDAY + 27 * DAY) == 4
    three = PersonWork(1, "Dr F", pattern=every_day_but({6, 13, 20}))
    assert rules(check(three)) == ["days_off"]


def test_at_home_call_on_a_free_day_takes_the_day_off_away():
    work = PersonWork(
        1,
        "Dr F",
        pattern=every_day_but({6, 13, 20, 27}),
        shifts=[shift(13, 8, 12, home=True)],
    )
    problems = check(work)
    assert rules(problems) == ["days_off"]
    assert "at-home call on 15 Jul is not a day off" in problems[0].message
    assert "3 day(s) free of work in 28 days" in problems[0].message


def test_absence_days_remove_the_rotations_hours():
    work = PersonWork(
        1, "Dr F", pattern=every_day_but(set()), absent_days={MONDAY + n * DAY for n in range(7)}
    )
    assert rules(check(work)) == []


# --- Per-type limits ----------------------------------------------------------------------------


def test_six_consecutive_night_float_nights_pass_and_seven_fail():
    six = PersonWork(1, "Dr G", shifts=[shift(d, 19, 11, code="NF", maxc=6) for d in range(6)])
    assert rules(check(six)) == []
    seven = PersonWork(1, "Dr G", shifts=[shift(d, 19, 11, code="NF", maxc=6) for d in range(7)])
    problems = check(seven)
    assert rules(problems) == ["consecutive"]
    assert problems[0].message == "Dr G: 7 NF shifts in a row, 2 Jul - 8 Jul 2040; at most 6."


def test_only_problems_touching_the_range_are_reported():
    work = PersonWork(1, "Dr B", shifts=[shift(0, 7, 24, call=True), shift(1, 20, 4)])
    later = MONDAY + 10 * DAY
    assert check(work, start=later, end=later) == []
