"""Real-browser flows (headless Debian chromium): the resident on a phone, the coordinator's
grid edit, and two tabs editing the same assignment. Every page is checked for horizontal
overflow and every test fails on a console error (tests/browser/conftest.py)."""

from __future__ import annotations

import re

import pytest

from residency.models import Assignment
from swaps.models import SwapRequest
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_resident_on_a_phone_swaps_with_a_confirmation(open_tab, world):
    ann = open_tab(PHONE)
    ann.login(world.ann.user.username, PASSWORD)
    ann.assert_fits()

    ann.go("/schedule/")
    ann.page.get_by_role("heading", name=re.compile("My schedule")).wait_for()
    ann.assert_fits()
    ann.assert_tap_targets()

    ann.go(f"/schedule/year/{world.year.label}/")
    assert ann.page.locator("table.grid td.cell").count() == 9 * 13
    ann.assert_fits()  # the grid scrolls inside its own box, not the page
    box = ann.page.locator(".grid-wrap")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")

    # Propose: choose the assignment and the kind, then one of the legal trades.
    ann.go(f"/swaps/new/?assignment={world.ann_b2.pk}")
    ann.assert_fits()
    ann.assert_tap_targets()
    ann.page.check("input[name=kind][value=one_to_one]")
    with ann.page.expect_navigation():
        ann.page.get_by_role("button", name="Next").click()
    option = ann.page.locator("label", has_text="from Bob Brennan-Castellanos").first
    option.wait_for()
    ann.assert_fits()
    ann.assert_tap_targets()
    option.click()
    ann.page.fill("#id_message", "Could we trade block 2?")
    with ann.page.expect_navigation():
        ann.page.get_by_role("button", name="Send").click()
    ann.page.get_by_text(re.compile(r"Request #\d+ sent")).wait_for()
    ann.assert_fits()
    swap = SwapRequest.objects.get()
    assert swap.status == SwapRequest.Status.PENDING and swap.counterpart == world.bob

    # Bob accepts on his phone: the confirmation says what he gives and gets first.
    bob = open_tab(PHONE)
    bob.login(world.bob.user.username, PASSWORD)
    bob.go("/swaps/")
    bob.assert_fits()
    bob.assert_tap_targets()
    with bob.page.expect_navigation():
        bob.page.get_by_role("link", name="Accept…").click()
    bob.page.get_by_role("heading", name="Accept this swap?").wait_for()
    bob.assert_fits()
    bob.assert_tap_targets()
    assert "You get" in bob.page.content() and "You give" in bob.page.content()
    swap.refresh_from_db()
    assert swap.status == SwapRequest.Status.PENDING  # nothing happened yet
    with bob.page.expect_navigation():
        bob.page.get_by_role("button", name="Yes, accept").click()
    bob.page.get_by_text("The swap has been applied to the schedule.").wait_for()
    bob.assert_fits()
    swap.refresh_from_db()
    assert swap.status == SwapRequest.Status.EXECUTED

    for path in ("/swaps/marketplace/", "/", f"/swaps/{swap.pk}/"):
        bob.go(path)
        bob.assert_fits()
        bob.assert_tap_targets()


def test_coordinator_edits_a_cell_of_the_grid(open_tab, world):
    tab = open_tab(DESKTOP)
    tab.login("coordinator", PASSWORD)
    grid_url = f"/schedule/year/{world.year.label}/"
    tab.go(grid_url)
    cell = tab.page.locator(f"td.cell a[href^='/assignments/{world.ann_b2.pk}/edit/']")
    with tab.page.expect_navigation():
        cell.click()
    tab.page.get_by_role("heading", name=re.compile("Ann Alvarez")).wait_for()
    tab.page.fill("#id_notes", "Covering clinic on Friday")
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Save").click()
    assert tab.page.url == tab.base + grid_url  # back on the grid
    tab.page.get_by_text("Saved block 2").wait_for()
    row = Assignment.objects.get(pk=world.ann_b2.pk)
    assert row.notes == "Covering clinic on Friday" and row.version == world.ann_b2.version + 1


def test_two_tabs_conflict_keeps_what_was_typed(open_tab, world):
    first = open_tab(DESKTOP)
    first.login("coordinator", PASSWORD)
    second = open_tab(DESKTOP, context=first.page.context)  # same login, another tab
    # The 409 answer itself is logged by chromium as a failed resource load: expected here.
    second.allowed.append("409 (Conflict)")
    edit = f"/assignments/{world.ann_b2.pk}/edit/"
    first.go(edit)
    second.go(edit)

    first.page.fill("#id_notes", "first tab's notes")
    with first.page.expect_navigation():
        first.page.get_by_role("button", name="Save").click()

    second.page.fill("#id_notes", "second tab's careful notes")
    with second.page.expect_navigation():
        second.page.get_by_role("button", name="Save").click()
    second.page.get_by_role(
        "heading", name="Someone else changed this assignment while you were editing it"
    ).wait_for()
    assert "first tab's notes" in second.page.content()  # what is saved now
    assert second.page.input_value("#id_notes") == "second tab's careful notes"  # kept
    with second.page.expect_navigation():
        second.page.get_by_role("button", name="Save mine over theirs").click()
    row = Assignment.objects.get(pk=world.ann_b2.pk)
    assert row.notes == "second tab's careful notes" and row.version == world.ann_b2.version + 2
