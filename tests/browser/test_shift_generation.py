"""A coordinator generates a week of night calls in the browser: the form, the live progress
while a real rq worker solves, the draft calendar with its changes marked, publish; then the
same draft on a phone is a list of days that fits the screen."""

from __future__ import annotations

import datetime

import django_rq
import pytest
from rq import SimpleWorker

from scheduling.models import GenerationRun
from shifts.models import Shift
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import (
    PASSWORD,
    AbsenceFactory,
    AcademicYearFactory,
    CoverageRuleFactory,
    PersonFactory,
    ResidentYearFactory,
    ShiftFactory,
    ShiftTypeFactory,
)

DAY = datetime.timedelta(days=1)


@pytest.fixture
def ward(transactional_db, coordinator, redis_conn):
    """Ann holds night call every night of a week and is on leave on the third night; Ben is
    the only other resident, so generation must give Ben at least that night."""
    year = AcademicYearFactory()
    nc = ShiftTypeFactory(code="NC", name="Night call")
    CoverageRuleFactory(shift_type=nc)
    ann, ben = PersonFactory(name="Ann Alvarez"), PersonFactory(name="Ben Brennan")
    for person in (ann, ben):
        ResidentYearFactory(person=person, academic_year=year, pgy_level=2)
    start = year.start_date + 14 * DAY
    for offset in range(7):
        ShiftFactory(person=ann, shift_type=nc, date=start + offset * DAY)
    AbsenceFactory(person=ann, start_date=start + 2 * DAY, end_date=start + 2 * DAY)
    return year, start, ann, ben


def _work_off_the_queue() -> None:
    """A real rq worker in burst mode in this thread: it runs the queued job and returns."""
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_coordinator_generates_reviews_and_publishes_a_week_of_shifts(open_tab, ward):
    _year, start, ann, ben = ward
    tab = open_tab(DESKTOP)
    tab.login("coordinator", PASSWORD)
    tab.go("/generation/shifts/")
    # A quick choice fills both dates in place (shift_start.js).
    chip = tab.page.locator("a.quick").first
    chip.click()
    assert tab.page.input_value("#id_start") == chip.get_attribute("data-start")
    assert tab.page.input_value("#id_end") == chip.get_attribute("data-end")
    assert tab.page.url == f"{tab.base}/generation/shifts/"  # no reload
    tab.page.fill("#id_start", str(start))
    tab.page.fill("#id_end", str(start + 6 * DAY))
    tab.page.fill("#id_time_limit_seconds", "10")
    with tab.page.expect_navigation():
        tab.page.click("#generate-shifts")
    run = GenerationRun.objects.get()
    assert tab.page.url == f"{tab.base}/generation/runs/{run.pk}/"
    tab.page.locator("#run-progress").wait_for()

    _work_off_the_queue()

    # The page's polling notices the end and reloads with the draft.
    tab.page.locator("#shift-draft").wait_for(timeout=15000)
    leave_night = tab.page.locator(f"#d{start + 2 * DAY:%Y-%m-%d}")
    assert leave_night.locator(".entry.new", has_text="Ben Brennan").count() == 1
    assert leave_night.locator(".entry.removed del", has_text="Ann Alvarez").count() == 1
    assert tab.page.locator("#fairness-table").get_by_text("Ben Brennan").count() == 1

    phone = open_tab(PHONE)
    phone.login("coordinator", PASSWORD)
    phone.go(f"/generation/runs/{run.pk}/")
    phone.assert_fits()
    phone.assert_tap_targets()
    assert phone.page.locator(".draft-calendar thead").first.is_hidden()  # a list of days

    phone.go("/generation/shifts/")
    phone.assert_fits()
    phone.assert_tap_targets()

    with tab.page.expect_navigation():
        tab.page.click("#publish")
    tab.page.get_by_role("heading", name="Shifts as published", exact=False).wait_for()
    assert tab.page.locator("#draft-actions").count() == 0
    assert Shift.objects.filter(person=ben, date=start + 2 * DAY).exists()
    assert not Shift.objects.filter(person=ann, date=start + 2 * DAY).exists()
