"""Issue 14: the pages and the admin work under the Content-Security-Policy, in a real browser
(Debian's chromium through Playwright): no CSP violation and no script error on any of them,
including the admin's own scripts (autocomplete, calendar, select-all)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.factories import (
    PASSWORD,
    AbsenceFactory,
    AssignmentFactory,
    PersonFactory,
    ResidentYearFactory,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu"]


@pytest.fixture
def data(coordinator):
    assignment = AssignmentFactory(person=PersonFactory(with_login=True))
    ResidentYearFactory(
        person=assignment.person, academic_year=assignment.block.academic_year, pgy_level=1
    )
    AbsenceFactory(person=assignment.person)
    return assignment


def _problems_on(live_server, username: str, paths: list[str], interact=None) -> list[str]:
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        where = {"path": "login"}

        # Failed loads are judged by their address (the browser asks for /favicon.ico, which
        # this site does not have); every other console error counts.
        def on_console(msg) -> None:
            if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
                problems.append(f"{where['path']}: {msg.type}: {msg.text}")

        def on_response(response) -> None:
            if response.status >= 400 and not response.url.endswith("/favicon.ico"):
                problems.append(f"{where['path']}: {response.status} {response.url}")

        page.on("console", on_console)
        page.on("response", on_response)
        page.on("pageerror", lambda error: problems.append(f"{where['path']}: {error}"))
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        for path in paths:
            where["path"] = path
            page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
        if interact:
            interact(page, live_server, where)
        browser.close()
    return problems


@pytest.mark.django_db(transaction=True)
def test_main_pages_have_no_csp_violation(live_server, data):
    pages = ["/", "/schedule/", "/swaps/", "/swaps/marketplace/", "/swaps/new/",
             f"/assignments/{data.pk}/edit/", "/shifts/requests/"]  # fmt: skip
    assert _problems_on(live_server, data.person.user.username, pages) == []


@pytest.mark.django_db(transaction=True)
def test_admin_works_under_the_csp(live_server, data, coordinator):
    coordinator.set_password(PASSWORD)
    coordinator.save()
    pages = [
        "/admin/",
        "/admin/residency/assignment/",
        f"/admin/residency/assignment/{data.pk}/change/",
        f"/admin/residency/person/{data.person_id}/change/",
        f"/admin/residency/rotationtemplate/{data.rotation_id}/change/",
        "/admin/residency/absence/",
        "/admin/axes/accessattempt/",
        "/admin/shifts/shiftrequest/",
        "/admin/shifts/shiftrequestperiod/add/",
        "/generation/",
        "/generation/shifts/",
        f"/schedule/block/{data.block_id}/",
    ]

    def interact(page, server, where):
        where["path"] = "autocomplete"
        page.goto(f"{server.url}/admin/residency/assignment/{data.pk}/change/")
        page.click(".select2-selection")
        page.wait_for_selector(".select2-results__option")
        where["path"] = "calendar"
        page.goto(f"{server.url}/admin/residency/absence/add/")
        page.click(".datetimeshortcuts a >> nth=1")  # the calendar pop-up
        page.wait_for_selector(".calendarbox", state="visible")
        where["path"] = "select all"
        page.goto(f"{server.url}/admin/residency/assignment/")
        page.check("#action-toggle")
        assert page.is_checked("input.action-select")

    assert _problems_on(live_server, coordinator.username, pages, interact) == []
