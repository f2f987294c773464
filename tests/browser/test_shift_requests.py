"""The "My shift requests" page in chromium on a phone and a desktop: add a day off and a shift
wish, see them listed with the deadline, withdraw one; the page fits and its buttons are big
enough to tap. Set ROTA_SCREENSHOT_DIR to keep screenshots of each step."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from shifts import requests
from shifts.models import ShiftRequest
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import PASSWORD, PersonFactory, ShiftTypeFactory

DAY = datetime.timedelta(days=1)


@pytest.fixture
def setup(transactional_db):
    start = timezone.localdate() + 14 * DAY
    period = requests.shift_request_period_create(
        start_date=start, end_date=start + 27 * DAY,
        deadline=timezone.now() + datetime.timedelta(days=7),
        note="Requests for the January call schedule. High priority for what really matters.",
    )  # fmt: skip
    night = ShiftTypeFactory(code="NF", name="Night float")
    ShiftTypeFactory(code="WE", name="Weekend 24-h call", kind="weekend_call")
    person = PersonFactory(name="Ann Alvarez", with_login=True)
    requests.shift_request_create(
        person=person, date=start + 3 * DAY, kind="off", shift_type=night, priority=3,
        note="Exam the next morning",
    )  # fmt: skip
    return period, night, person


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_a_resident_adds_and_withdraws_shift_requests(open_tab, setup, viewport, label):
    period, night, person = setup
    tab = open_tab(viewport)
    tab.login(person.user.username, PASSWORD)
    tab.go("/shifts/requests/")
    tab.page.get_by_role("heading", name="My shift requests").wait_for()
    assert "Open until" in tab.page.content()
    tab.assert_fits()
    tab.assert_tap_targets()
    tab.shot(f"requests-{label}-1-open")

    # A day off, high priority.
    day = period.start_date + DAY
    tab.page.fill("#id_date", day.isoformat())
    tab.page.check("input[name=kind][value=off]")
    tab.page.select_option("#id_priority", "1")
    tab.page.fill("#id_note", "Sister's wedding")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Add request").click()
    tab.page.get_by_text(re.compile("Saved: day off on")).wait_for()

    # "On" without a shift: refused (400), and what was typed is still there.
    tab.allowed.append("status of 400")
    tab.page.fill("#id_date", (day + DAY).isoformat())
    tab.page.check("input[name=kind][value=on]")
    tab.page.fill("#id_note", "Happy to cover")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Add request").click()
    tab.page.get_by_text("Pick the shift you would like to be given.").wait_for()
    assert tab.page.input_value("#id_note") == "Happy to cover"
    tab.assert_fits()
    tab.shot(f"requests-{label}-2-refused")
    tab.page.select_option("#id_shift_type", str(night.pk))
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Add request").click()
    tab.page.get_by_text(re.compile("Saved: Night float on")).wait_for()
    assert ShiftRequest.objects.filter(person=person).count() == 3
    assert "7 of 10 requests left" in tab.page.content()
    tab.assert_fits()
    tab.assert_tap_targets()
    tab.shot(f"requests-{label}-3-listed")

    # Withdraw the first listed (the day off).
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Withdraw").first.click()
    tab.page.get_by_text("Request withdrawn.").wait_for()
    assert ShiftRequest.objects.filter(person=person).count() == 2
    assert not ShiftRequest.objects.filter(person=person, shift_type__isnull=True).exists()

    # The withdrawn day off is in the person's history, with what it was.
    tab.go(f"/people/{person.pk}/history/")
    tab.page.get_by_text("Sister's wedding").first.wait_for()
    assert "shift request" in tab.page.content()
    tab.assert_fits()
    tab.shot(f"requests-{label}-4-history")
