"""The history pages in chromium at 390x844 and 1280x900: the coordinators' feed (/changes/), an
assignment's history and a resident's own; each fits the window (the table stacks as cards on a
phone) and says what happened in words. Set ROTA_SCREENSHOT_DIR to keep screenshots."""

from __future__ import annotations

import pytest

from residency import services
from residency.history import history_context
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import PASSWORD, RotationTemplateFactory


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_history_pages_fit_and_say_what_happened(open_tab, world, viewport, label):
    elective = RotationTemplateFactory(name="Cardiology Elective", code="CARDS", max_people=20)
    with history_context(source="edit page", by=world.coordinator):
        services.assignment_update(
            assignment_id=world.ann_b2.pk,
            version=world.ann_b2.version,
            by=world.coordinator,
            rotation=elective,
            notes="Moved for the cardiology elective",
        )

    coordinator = open_tab(viewport)
    coordinator.login("coordinator", PASSWORD)
    for path, name in [
        ("/changes/", "feed"),
        (f"/assignments/{world.ann_b2.pk}/history/", "assignment"),
    ]:
        coordinator.go(path)
        coordinator.page.get_by_text("Moved for the cardiology elective").first.wait_for()
        assert "updated" in coordinator.page.content()
        coordinator.assert_fits()
        coordinator.shot(f"history-{label}-{name}", full_page=False)  # the first screen

    resident = open_tab(viewport)
    resident.login(world.ann.user.username, PASSWORD)
    resident.go(f"/people/{world.ann.pk}/history/")
    resident.page.get_by_text("Cardiology Elective").first.wait_for()
    resident.assert_fits()
    resident.shot(f"history-{label}-person", full_page=False)  # the first screen
