"""Who may do what: every URL (pages, JSON API, admin) for every role, from ONE table.

Roles: anonymous, a resident, a faculty member who owns the objects acted on ("faculty"),
another faculty member ("other"), a coordinator, and a staff user outside Coordinators
("staff": may log in to the admin, but is no coordinator and no person of the program).
The objects are the faculty member's assignment and swap request, a generation run and the
year's block. Outcomes:

- ``ok``: 2xx, or a redirect that is not to a login page;
- ``login``: 401, or a redirect to a login page (the admin's for non-staff);
- ``denied``: 403 or 404 (someone else's object answers like a missing one);
- ``refused``: 400/422: the input cannot even name someone else's object (a form whose choices
  are the caller's own assignments).

Whenever the outcome is not ``ok`` the database must be exactly as before: nobody reads or
changes another person's assignments or requests through any URL.

The table itself (every URL's row: its method, path and body, and the outcome per role) is in
tests/security/permission_table.py.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone

from residency.models import Absence, Assignment, RotationTemplate
from scheduling.models import GenerationRun, PreferenceWindow, RotationWish
from shifts import requests as requests_module
from shifts.models import Shift, ShiftRequest
from swaps import services as swap_services
from swaps.models import SwapRequest
from tests.factories import (
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    ShiftFactory,
    ShiftTypeFactory,
    UserFactory,
)
from tests.security.permission_table import ROLES, TABLE

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@dataclass
class World:
    year: object
    block: object
    rotation: object
    other_rotation: object
    resident: object
    faculty: object
    other: object
    mine: Assignment  # the faculty member's
    swap: SwapRequest  # the faculty member's one-to-one request to a third colleague
    open_offer: SwapRequest  # the faculty member's open offer (visible to faculty colleagues)
    run: GenerationRun
    staff: object  # a staff user outside Coordinators
    draft: GenerationRun  # ready for review (of an empty year: publishing it writes nothing)
    shift: object  # the faculty member's backup call
    # Shift trades (issue 13): the faculty member's other shift in the open pool, and a sick
    # call on a colleague's shift.
    shift_offer: SwapRequest | None = None
    sick_call: object = None
    wish: RotationWish | None = None  # the resident's, in a year whose wishes are open
    # A shifts run's draft (issue 16) of an empty year: publishing it writes nothing.
    shift_draft: GenerationRun | None = None
    shift_request: ShiftRequest | None = None  # the faculty member's, in an open period


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Five logins per test and some 250 tests: hash their passwords cheaply.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(coordinator) -> World:
    block = BlockFactory()
    second = BlockFactory(academic_year=block.academic_year)
    year = block.academic_year
    wards = RotationTemplateFactory(allowed_pgy_levels=[1])
    clinic = RotationTemplateFactory(
        staffed_by=RotationTemplate.StaffedBy.FACULTY, allowed_pgy_levels=[]
    )
    other_clinic = RotationTemplateFactory(
        staffed_by=RotationTemplate.StaffedBy.FACULTY, allowed_pgy_levels=[]
    )
    resident = PersonFactory(with_login=True)
    ResidentYearFactory(person=resident, academic_year=year, pgy_level=1)
    AssignmentFactory(person=resident, block=block, rotation=wards)
    faculty, other, third = (PersonFactory(faculty=True, with_login=True) for _ in range(3))
    mine = AssignmentFactory(person=faculty, block=block, rotation=clinic)
    AssignmentFactory(person=other, block=block, rotation=clinic)
    theirs = AssignmentFactory(person=third, block=block, rotation=other_clinic)
    swap = swap_services.swap_request_create(
        requester=faculty, kind="one_to_one", offered_id=mine.pk, wanted_id=theirs.pk
    )
    later = AssignmentFactory(person=faculty, block=second, rotation=clinic)
    open_offer = swap_services.swap_request_create(
        requester=faculty, kind="open", offered_id=later.pk
    )
    run = GenerationRun.objects.create(academic_year=year, status="succeeded")
    backup = ShiftTypeFactory(staffed_by="faculty", in_house=False)
    shift = ShiftFactory(person=faculty, shift_type=backup, date=block.start_date)
    staff = UserFactory(username="staff-not-coordinator", is_staff=True)
    draft = GenerationRun.objects.create(academic_year=AcademicYearFactory(), status="ready")
    PreferenceWindow.objects.create(
        academic_year=year, deadline=timezone.now() + datetime.timedelta(days=7)
    )
    wish = RotationWish.objects.create(person=resident, block=block, rotation=wards, rank=1)
    world = World(year, block, clinic, other_clinic, resident, faculty, other, mine, swap,
                  open_offer, run, staff, draft, shift)  # fmt: skip
    world.wish = wish
    empty = AcademicYearFactory()
    world.shift_draft = GenerationRun.objects.create(
        academic_year=empty, status="ready", kind="shifts", start_date=empty.start_date,
        end_date=empty.start_date + 6 * DAY,
    )  # fmt: skip
    period_start = timezone.localdate() + 10 * DAY
    requests_module.shift_request_period_create(
        start_date=period_start, end_date=period_start + 27 * DAY,
        deadline=timezone.now() + datetime.timedelta(days=7),
    )  # fmt: skip
    world.shift_request = requests_module.shift_request_create(
        person=faculty, date=period_start, kind="off"
    )
    _add_shift_trades(world, third)
    return world


def _add_shift_trades(world: World, third) -> None:
    backup = world.shift.shift_type
    day = world.block.start_date
    pooled = ShiftFactory(person=world.faculty, shift_type=backup, date=day + 2 * DAY)
    world.shift_offer = swap_services.shift_swap_request_create(
        requester=world.faculty, kind="open", offered_shift_id=pooled.pk
    )
    sick = ShiftFactory(person=third, shift_type=backup, date=day + 4 * DAY)
    world.sick_call = swap_services.shift_sick_call_report(shift_id=sick.pk, by=None)


def outcome(response) -> str:
    if response.status_code == 401:
        return "login"
    if response.status_code in (301, 302):
        location = response["Location"]
        return "login" if "/login/" in location else "ok"
    if response.status_code in (403, 404):
        return "denied"
    if response.status_code in (400, 422):
        return "refused"
    if response.status_code < 300:
        return "ok"
    return f"HTTP {response.status_code}"


def state() -> dict:
    return {
        "assignments": sorted(
            Assignment.objects.values_list("pk", "person_id", "rotation_id", "notes", "version")
        ),
        "swaps": sorted(SwapRequest.objects.values_list("pk", "status", "counterpart_id")),
        "runs": sorted(GenerationRun.objects.values_list("pk", "status")),
        "shifts": sorted(
            Shift.objects.values_list(
                "pk", "person_id", "date", "shift_type_id", "notes", "version"
            )
        ),
        "wishes": sorted(RotationWish.objects.values_list("pk", "person_id", "rank")),
        "absences": sorted(Absence.objects.values_list("pk", "person_id", "status")),
        "shift requests": sorted(
            ShiftRequest.objects.values_list("pk", "person_id", "date", "kind", "priority")
        ),
    }


def user_for(role: str, world: World, coordinator):
    return {
        "anonymous": None,
        "resident": world.resident.user,
        "faculty": world.faculty.user,
        "other": world.other.user,
        "coordinator": coordinator,
        "staff": world.staff,
    }[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", list(TABLE), ids=[row[0] for row in TABLE])
def test_permission_matrix(row, role, world, coordinator):
    _name, method, path, body = row
    expected = TABLE[row][ROLES.index(role)]
    client = Client(raise_request_exception=False)
    user = user_for(role, world, coordinator)
    if user is not None:
        client.force_login(user)
    before = state()

    data = body(world) if body else None
    url = path(world)
    if method == "GET":
        response = client.get(url)
    elif url.startswith("/api/"):
        response = client.generic(
            method, url, data=json.dumps(data or {}),
            content_type="application/json",
        )  # fmt: skip
    else:
        response = client.post(url, data or {})

    assert outcome(response) == expected, (
        f"{role} {method} {url}: {response.status_code} {response.content[:300]!r}"
    )
    if expected != "ok":
        assert state() == before, f"{role} {method} {url} was refused but changed data"


def url_names(patterns=None, namespace: str = "") -> set[str]:
    """Every named URL of the site outside the admin (the admin is walked model by model)."""
    names = set()
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= url_names(pattern.url_patterns, inner)
        else:
            names.add(f"{namespace}{pattern.name}")
    return names


def test_the_matrix_covers_every_url(world):
    covered = {resolve(path(world).split("?")[0]).view_name for _n, _m, path, _b in TABLE}
    missing = url_names() - covered
    assert not missing, f"URLs missing from the permission matrix: {sorted(missing)}"
