"""The page header in chromium at 390x844 and 1280x900: the notifications link is a drawn bell
(an SVG, so it shows on a machine without an emoji font, where the emoji was an empty box) with
the unread count beside it, and it leads to the notifications. Set ROTA_SCREENSHOT_DIR to keep
screenshots."""

from __future__ import annotations

import pytest

from residency import notifications
from residency.models import Notification
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import PASSWORD


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_bell_is_drawn_and_counts_unread(open_tab, world, viewport, label):
    notifications.notify_people(
        people=[world.ann],
        kind=Notification.Kind.SWAP_REQUESTED,
        subject="Swap for block 2",
        body="Please.",
    )
    tab = open_tab(viewport)
    tab.login(world.ann.user.username, PASSWORD)
    tab.go("/schedule/")
    link = tab.page.get_by_role("link", name="Notifications, 1 unread")
    bell = link.locator("svg")
    box = bell.bounding_box()
    assert box is not None and box["width"] >= 16 and box["height"] >= 16
    assert link.locator(".badge").inner_text() == "1"
    tab.assert_fits()
    tab.shot(f"header-{label}", full_page=False)

    link.click()
    tab.page.get_by_text("Swap for block 2").first.wait_for()


def test_a_coordinators_header_is_one_line_at_1280(open_tab, world):
    # Ten menu items, the bell with an unread count, the name, Admin and Log out: at 1280 px
    # they once wrapped to two lines, "Log out" broken in two; then, with the demo's name and
    # an unread notification (a generation run ready for review), "Changes" went to a second
    # line. The name gives way first (cut short with an ellipsis), never the menu.
    world.coordinator.first_name, world.coordinator.last_name = "Casey", "Coordinator"
    world.coordinator.save(update_fields=["first_name", "last_name"])
    notifications.notify_coordinators(
        kind=Notification.Kind.GENERATION_FINISHED, subject="Run ready", body="Review it."
    )
    tab = open_tab(DESKTOP)
    tab.login("coordinator", PASSWORD)
    tab.go("/changes/")
    header = tab.page.locator("header.site").bounding_box()
    button = tab.page.get_by_role("button", name="Log out").bounding_box()
    assert header["height"] <= 50, header
    assert button["height"] <= 50, button
    assert tab.page.get_by_role("link", name="Notifications, 1 unread").is_visible()
    name = tab.page.locator("header.site .who").bounding_box()
    assert name["width"] >= 60, name  # shortened, still there
    tab.shot("header-coordinator-desktop", full_page=False)
