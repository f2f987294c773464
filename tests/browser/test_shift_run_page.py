"""A shifts run's page in a browser (issue 16): the date range instead of blocks, the proposed
shift changes, Publish; a refused publish names the shift changed since and offers to generate
again as a shifts run. At phone and desktop widths, without horizontal scrolling."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from scheduling import services, shift_runs
from scheduling.models import GenerationRun
from shifts import services as shift_services
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
SHOTS = Path(os.environ.get("ROTA_SCREENSHOTS", "/tmp/core"))


@pytest.fixture
def draft(transactional_db, coordinator, redis_conn) -> tuple[GenerationRun, Shift]:
    year = AcademicYearFactory()
    nc = ShiftTypeFactory(code="NC", name="Night call")
    CoverageRuleFactory(shift_type=nc)
    ann, ben = (PersonFactory(name=name) for name in ("Ann Lee", "Ben Ortiz"))
    for person in (ann, ben):
        ResidentYearFactory(person=person, academic_year=year, pgy_level=2)
    start = year.start_date + 14 * DAY
    for offset in range(7):
        ShiftFactory(person=ann, shift_type=nc, date=start + offset * DAY)
    AbsenceFactory(person=ann, start_date=start + 2 * DAY, end_date=start + 2 * DAY)
    run = shift_runs.shift_generation_start(
        academic_year_id=year.pk, start=start, end=start + 6 * DAY, requested_by=coordinator,
        time_limit_seconds=10, workers=1, enqueue=False,
    )  # fmt: skip
    services.generation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == GenerationRun.Status.READY, run.error
    return run, Shift.objects.get(person=ann, date=start + 2 * DAY)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_shifts_run_page_shows_the_period_the_changes_and_a_refused_publish(
    open_tab, draft, viewport
):
    run, annes_leave_night = draft
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = "phone" if viewport is PHONE else "desktop"
    tab = open_tab(viewport=viewport)
    tab.login("coordinator", PASSWORD)

    tab.go(f"/generation/runs/{run.pk}/")
    heading = tab.page.text_content("h1")
    assert f"shifts {run.start_date:%d %b %Y} - {run.end_date:%d %b %Y}" in heading
    changes = tab.page.text_content("#shift-diff")
    assert "Ann Lee" in changes and "Ben Ortiz" in changes and "Night call" in changes
    tab.assert_fits()
    tab.page.screenshot(path=str(SHOTS / f"shift-run-draft-{name}.png"), full_page=True)

    # Someone edits Ann's leave night after the snapshot: Publish is refused, naming it.
    shift_services.shift_update(shift_id=annes_leave_night.pk, version=1, notes="Agreed swap")
    tab.allowed.append("status of 409")  # the refused publish's page comes with its 409
    with tab.page.expect_navigation():
        tab.page.click("#publish")
    refused = tab.page.text_content("#stale-rows")
    assert "Ann Lee, Night call on" in refused and "changed since" in refused
    assert tab.page.input_value("#stale-rows input[name=kind]") == "shifts"
    tab.assert_fits()
    tab.page.screenshot(path=str(SHOTS / f"shift-run-refused-{name}.png"), full_page=True)
