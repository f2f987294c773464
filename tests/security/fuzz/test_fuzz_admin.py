"""Fuzzing the coordinators' admin: the assignment and rotation forms, every model's add form
and the admin actions."""

from __future__ import annotations

import pytest
from django.contrib import admin
from hypothesis import given, settings
from hypothesis import strategies as st

from residency.models import RotationTemplate
from tests.security.fuzz.support import FUZZ, client_for, form_data, ids, state

pytestmark = pytest.mark.django_db


def assert_admin_refusal_or_success(response, before: dict) -> None:
    """The admin answers a saved form with a redirect and a refused one with the form again
    (200, or the status the domain error carries): never a 5xx, and refused changes nothing."""
    assert response.status_code < 500, f"{response.status_code}: {response.content[:500]!r}"
    if response.status_code != 302:
        assert response.content.strip()
        assert state() == before, f"refused with {response.status_code} but changed the database"


admin_assignment_fields = ["person", "block", "rotation", "role", "pinned", "notes",
                           "expected_version"]  # fmt: skip


@FUZZ
@given(data=form_data(admin_assignment_fields), add=st.booleans())
def test_fuzz_admin_assignment_form(world, data, add):
    assignment = world["resident"].assignments.get()
    url = (
        "/admin/residency/assignment/add/"
        if add
        else f"/admin/residency/assignment/{assignment.pk}/change/"
    )
    before = state()
    response = client_for(world["coordinator"]).post(url, data)
    assert_admin_refusal_or_success(response, before)


@FUZZ
@given(data=form_data(["name", "code", "kind", "staffed_by", "min_people", "max_people",
                       "allowed_pgy_levels", "supervision_ratio", "heavy", "weekly_hours",
                       "active"]))  # fmt: skip
def test_fuzz_admin_rotation_form(world, data):
    rotation = RotationTemplate.objects.first()
    before = {**state(), "rotations": list(RotationTemplate.objects.order_by("pk").values())}
    response = client_for(world["coordinator"]).post(
        f"/admin/residency/rotationtemplate/{rotation.pk}/change/", data
    )
    assert response.status_code < 500, f"{response.status_code}: {response.content[:500]!r}"
    if response.status_code != 302:
        after = {**state(), "rotations": list(RotationTemplate.objects.order_by("pk").values())}
        assert after == before


# The models the admin edits (django_rq's dashboard is a placeholder without a table).
ADMIN_MODELS = sorted(
    (m for m in admin.site._registry if m._meta.managed), key=lambda m: m._meta.label
)


def admin_state() -> dict:
    """Every row of every model the admin edits."""
    return {
        model._meta.label: sorted(map(repr, model._default_manager.values_list()))
        for model in ADMIN_MODELS
    }


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=[m._meta.label_lower for m in ADMIN_MODELS])
def test_fuzz_every_admin_add_form(world, model):
    fields = [f.name for f in model._meta.get_fields() if f.concrete and not f.auto_created]
    url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/add/"
    client = client_for(world["coordinator"])

    @settings(FUZZ, max_examples=15)
    @given(data=form_data(fields or ["x"]))
    def post(data):
        before = admin_state()
        response = client.post(url, data)
        assert response.status_code < 500, f"{response.status_code}: {response.content[:300]!r}"
        if response.status_code != 302:
            assert admin_state() == before, f"refused with {response.status_code}, changed data"

    post()


ADMIN_ACTIONS = [
    ("residency/academicyear", "create_blocks", ["apply", "length_days", "weeks", "length"]),
    ("residency/academicyear", "export_assignments_csv", []),
    ("residency/assignment", "delete_selected", ["post"]),
    ("swaps/swaprequest", "approve_and_execute", []),
    ("swaps/swaprequest", "execute", []),
    ("swaps/swaprequest", "reject", []),
    ("swaps/swaprequest", "roll_back", []),
    ("swaps/swaprequest", "run_matcher", []),
    ("scheduling/generationrun", "cancel_runs", []),
    ("scheduling/generationrun", "publish_runs", []),
    ("scheduling/generationrun", "discard_runs", []),
    ("scheduling/scheduleyear", "generate", []),
    ("scheduling/scheduleyear", "generate_shifts", []),
    ("scheduling/scheduleyear", "validate", []),
]


@pytest.mark.parametrize(("page", "action", "fields"), ADMIN_ACTIONS,
                         ids=[f"{p}:{a}" for p, a, _f in ADMIN_ACTIONS])  # fmt: skip
def test_fuzz_admin_actions(world, redis_conn, page, action, fields):
    client = client_for(world["coordinator"])

    @settings(FUZZ, max_examples=15)
    @given(selected=st.lists(st.one_of(ids.map(str), st.text(max_size=12)), max_size=3),
           data=form_data(fields or ["x"]))  # fmt: skip
    def post(selected, data):
        response = client.post(
            f"/admin/{page}/", {**data, "action": action, "_selected_action": selected}
        )
        assert response.status_code < 500, f"{response.status_code}: {response.content[:300]!r}"

    post()
