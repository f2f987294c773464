"""Browser tests: Playwright for Python driving Debian's chromium (/usr/bin/chromium; never a
downloaded browser) against pytest-django's live server.

A missing chromium FAILS these tests rather than skipping them: .ci/run installs it with apt-get
when it is missing, and a CI run that silently skipped the browser would prove nothing.
"""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

CHROMIUM = os.environ.get("ROTA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TAP = 44  # px: the smallest tap target on phone pages


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One chromium per test module. Module-scoped, not session-scoped, on purpose: while
    Playwright runs, its asyncio loop counts as running in this thread and Django refuses ORM
    calls (SynchronousOnlyOperation) unless DJANGO_ALLOW_ASYNC_UNSAFE is set; both the loop and
    the variable must end with these tests, not leak into the rest of the suite (the deploy
    check refuses the variable)."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(
            f"chromium not found at {CHROMIUM}: install Debian's chromium "
            "(apt-get install -y chromium); .ci/run does this when it is missing."
        )
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield instance
            instance.close()


@dataclass
class Tab:
    """A page that records console errors and uncaught exceptions."""

    page: object
    base: str
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)  # substrings of errors a test expects

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def login(self, username: str, password: str) -> None:
        self.go("/accounts/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        with self.page.expect_navigation():
            self.page.click("main button[type=submit]")

    def shot(self, name: str, *, full_page: bool = True) -> None:
        """Keep a screenshot as ROTA_SCREENSHOT_DIR/<name>.png when that variable is set (to
        look at the pages, as every page change asks)."""
        folder = os.environ.get("ROTA_SCREENSHOT_DIR")
        if folder:
            os.makedirs(folder, exist_ok=True)
            self.page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=full_page)

    def assert_fits(self) -> None:
        """No horizontal scrolling of the page itself (boxes may scroll inside)."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        viewport = self.page.evaluate("window.innerWidth")
        assert width <= viewport, f"{self.page.url} is {width} px wide in a {viewport} px window"

    def assert_tap_targets(self) -> None:
        small = self.page.evaluate(
            """(tap) => Array.from(document.querySelectorAll(
                   'button, a.button, header.site a, .option-list label'))
                 .filter(e => e.offsetParent !== null)
                 .map(e => [e.textContent.trim().slice(0, 30), e.getBoundingClientRect().height])
                 .filter(([, h]) => h < tap)""",
            TAP,
        )
        assert not small, f"tap targets under {TAP} px on {self.page.url}: {small}"

    def assert_no_errors(self) -> None:
        unexpected = [e for e in self.errors if not any(a in e for a in self.allowed)]
        assert not unexpected, f"console errors: {unexpected}"


@pytest.fixture
def open_tab(browser, live_server, settings) -> Iterator:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    contexts, tabs = [], []

    def make(viewport=PHONE, context=None) -> Tab:
        if context is None:
            context = browser.new_context(viewport=viewport)
            contexts.append(context)
        page = context.new_page()
        tab = Tab(page=page, base=live_server.url)
        page.on(
            "console",
            lambda m: (
                tab.errors.append(f"{m.text} at {m.location.get('url', '')}")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: tab.errors.append(f"uncaught: {exc}"))
        tabs.append(tab)
        return tab

    yield make
    for context in contexts:
        context.close()
    for tab in tabs:
        tab.assert_no_errors()


@dataclass
class World:
    year: object
    blocks: list
    ann: object  # resident, PGY-1, with a login
    bob: object  # resident, PGY-1, with a login
    ann_b2: object  # Ann's assignment in block 2 (Clinic)
    bob_b2: object  # Bob's assignment in block 2 (Wards)
    coordinator: object


@pytest.fixture
def world(transactional_db, coordinator) -> World:
    """A far-future year (blocks not started) of 13 blocks, a dozen residents and faculty."""
    from tests.factories import (
        AcademicYearFactory,
        AssignmentFactory,
        BlockFactory,
        PersonFactory,
        ResidentYearFactory,
        RotationTemplateFactory,
    )

    year = AcademicYearFactory(
        start_date=datetime.date(2060, 7, 1), end_date=datetime.date(2061, 6, 30)
    )
    blocks = [BlockFactory(academic_year=year) for _ in range(13)]
    ward = RotationTemplateFactory(name="Inpatient Medicine Wards", code="WARDS", max_people=20)
    clinic = RotationTemplateFactory(
        name="Family Medicine Clinic", code="CLINIC", kind="clinic", max_people=20
    )
    precept = RotationTemplateFactory(
        name="Clinic Precepting", code="PRECEPT", staffed_by="faculty", allowed_pgy_levels=[]
    )
    people = []
    for n, name in enumerate(
        ["Ann Alvarez", "Bob Brennan-Castellanos", "Cid Chu", "Dee Dufresne", "Eve Eriksen"]
    ):
        person = PersonFactory(name=name, with_login=n < 2)
        ResidentYearFactory(person=person, academic_year=year, pgy_level=1)
        people.append(person)
    ann, bob = people[0], people[1]
    for i, person in enumerate(people):
        for block in blocks:
            rotation = ward if (i + block.number) % 2 else clinic
            AssignmentFactory(person=person, block=block, rotation=rotation)
    for n in range(4):
        doc = PersonFactory(name=f"Dr Faculty Member {n}", kind="faculty")
        for block in blocks:
            AssignmentFactory(person=doc, block=block, rotation=precept, role="primary")
    ann_b2 = ann.assignments.get(block=blocks[1])
    bob_b2 = bob.assignments.get(block=blocks[1])
    return World(year, blocks, ann, bob, ann_b2, bob_b2, coordinator)
