"""What the fuzz tests (and tests/security/test_hostile_input.py) share: their small program
(the ``world`` fixture: two PGY-1 residents on a ward and a faculty member in clinic in one
block, an open swap offer, a finished generation run and a shift), hypothesis settings and
strategies (JSON values, form data, ids, hostile bodies), logged-in clients, the database state a
refusal must leave unchanged, and the check that an answer is a success or a clear refusal."""

from __future__ import annotations

import json
import os

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from residency.models import Assignment, RotationTemplate
from scheduling.models import GenerationRun
from shifts.models import Shift, ShiftRequest, SickCall
from swaps import services as swap_services
from swaps.models import SwapRequest
from tests.factories import (
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    ShiftFactory,
)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    # CI replays the same examples every run, so a red CI is never a coin toss; locally each run
    # explores new ones (a bug found here becomes an @example and a plain regression test).
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Values of every JSON type, including the awkward ones: huge and negative integers (beyond
# PostgreSQL's bigint), NaN, very long strings, control characters, nesting.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", " ", "1", "-1", "1e9", "0x10", "null", "primary", "open", "v1", '"v1"']),
    st.just("x" * 100_000),
    st.text(min_size=2001, max_size=2050),
    # Text PostgreSQL cannot store (issue 14): NUL, a lone surrogate.
    st.sampled_from(["a\x00b", "\x00", "\ud800", "x\udfffy"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def json_objects(keys):
    """Objects whose keys are mostly the endpoint's own fields (so values reach validation),
    sometimes unknown ones."""
    return st.dictionaries(st.sampled_from([*keys, "id", "", "x" * 300]), json_values, max_size=5)


form_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["a\x00b", "\x00", "[" * 2000, "9" * 5000]),  # issue 14
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.just("x" * 100_000),
    st.lists(st.text(max_size=5), max_size=3),
)


def form_data(keys):
    return st.dictionaries(
        st.sampled_from([*keys, "csrfmiddlewaretoken", "x"]), form_values, max_size=6
    )


ids = st.one_of(st.integers(min_value=0, max_value=2**31 - 1), st.just(2**63 + 1))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(coordinator):
    block = BlockFactory()
    year = block.academic_year
    wards = RotationTemplateFactory(allowed_pgy_levels=[1])
    clinic = RotationTemplateFactory(
        staffed_by=RotationTemplate.StaffedBy.FACULTY, allowed_pgy_levels=[]
    )
    residents = []
    for _ in range(2):
        person = PersonFactory(with_login=True)
        ResidentYearFactory(person=person, academic_year=year, pgy_level=1)
        AssignmentFactory(person=person, block=block, rotation=wards)
        residents.append(person)
    faculty = PersonFactory(faculty=True, with_login=True)
    AssignmentFactory(person=faculty, block=block, rotation=clinic)
    swap = swap_services.swap_request_create(
        requester=residents[0], kind="open", offered_id=residents[0].assignments.get().pk
    )
    run = GenerationRun.objects.create(academic_year=year, status="succeeded")
    shift = ShiftFactory(person=residents[0], date=block.start_date)
    return {"year": year, "block": block, "resident": residents[0], "other": residents[1],
            "faculty": faculty, "swap": swap, "run": run, "coordinator": coordinator,
            "shift": shift}  # fmt: skip


def client_for(user, *, csrf: bool = False) -> Client:
    client = Client(raise_request_exception=False, enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def state() -> dict:
    return {
        "assignments": sorted(
            Assignment.objects.values_list(
                "pk", "person_id", "rotation_id", "role", "notes", "pinned", "version"
            )
        ),
        "swaps": sorted(SwapRequest.objects.values_list("pk", "status", "counterpart_id")),
        "sick_calls": sorted(SickCall.objects.values_list("pk", "resolved_at")),
        "runs": sorted(GenerationRun.objects.values_list("pk", "status")),
        "shifts": sorted(
            Shift.objects.values_list(
                "pk", "person_id", "date", "shift_type_id", "notes", "pinned", "version"
            )
        ),
        "shift_requests": sorted(
            ShiftRequest.objects.values_list("pk", "person_id", "date", "kind", "priority")
        ),
    }


def assert_clear_refusal_or_success(response, before: dict, *, api: bool) -> None:
    status = response.status_code
    assert status < 500, f"{status}: {response.content[:500]!r}"
    if status < 400:
        return
    if api:
        payload = json.loads(response.content)
        assert isinstance(payload.get("error"), str) and payload["error"], payload
    else:
        assert response.content.strip(), "an empty refusal page"
    assert state() == before, f"refused with {status} but changed the database"


def send_json(client: Client, method: str, url: str, body, **extra):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic(method, url, data=raw, content_type="application/json", **extra)


bodies_or_garbage = st.one_of(
    json_values,
    st.binary(max_size=200),
    # Issue 14: nesting beyond the parser's recursion limit, numbers beyond int()'s digit limit.
    st.sampled_from([b"[" * 2000, b'{"a":' * 2000, b'{"notes": ' + b"9" * 5000 + b"}"]),
)
