"""Fuzzing the scheduling app: starting generation runs (API, the blocks form, the shifts form)
and acting on runs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.security.fuzz.support import (
    FUZZ,
    assert_clear_refusal_or_success,
    bodies_or_garbage,
    client_for,
    form_data,
    ids,
    json_objects,
    send_json,
    state,
)

pytestmark = pytest.mark.django_db


@FUZZ
@given(body=st.one_of(json_objects(["academic_year", "first_block", "last_block",
                                    "time_limit_seconds", "seed", "workers"]),
                      bodies_or_garbage))  # fmt: skip
def test_fuzz_generation_start(world, body, redis_conn):
    before = state()
    response = send_json(client_for(world["coordinator"]), "POST", "/api/generation-runs", body)
    assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(run_id=st.one_of(ids, st.just(None)),
       action=st.sampled_from(["", "/cancel", "/publish", "/discard"]),
       method=st.sampled_from(["GET", "POST", "PUT"]), body=bodies_or_garbage,
       coordinator=st.booleans())  # fmt: skip
def test_fuzz_generation_run_actions(world, run_id, action, method, body, coordinator):
    user = world["coordinator"] if coordinator else world["faculty"].user
    run_id = world["run"].pk if run_id is None else run_id
    before = state()
    response = send_json(client_for(user), method, f"/api/generation-runs/{run_id}{action}", body)
    assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(data=form_data(["academic_year", "first_block", "last_block", "time_limit_seconds",
                       "seed", "workers"]))  # fmt: skip
def test_fuzz_generation_form(world, data, redis_conn):
    before = state()
    response = client_for(world["coordinator"]).post("/generation/", data)
    assert_clear_refusal_or_success(response, before, api=False)


@FUZZ
@given(data=form_data(["kind", "academic_year", "start", "end", "keep", "time_limit_seconds",
                       "seed", "workers", "auto_publish"]))  # fmt: skip
def test_fuzz_shift_generation_form(world, data, redis_conn):
    before = state()
    response = client_for(world["coordinator"]).post("/generation/shifts/", data)
    assert_clear_refusal_or_success(response, before, api=False)
