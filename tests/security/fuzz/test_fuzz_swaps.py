"""Fuzzing the swaps app: swap requests (API and offer form), shift trades, the open shift pool
and sick calls."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from swaps import services as swap_services
from tests.factories import ShiftFactory, ShiftTypeFactory
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
DAY = datetime.timedelta(days=1)


@FUZZ
@given(body=st.one_of(json_objects(["kind", "offered", "wanted", "counterpart", "message"]),
                      bodies_or_garbage))  # fmt: skip
def test_fuzz_swap_create(world, body):
    before = state()
    response = send_json(client_for(world["other"].user), "POST", "/api/swaps", body)
    assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(action=st.sampled_from(["", "/accept", "/decline", "/cancel"]),
       swap_id=st.one_of(ids, st.just(None)), body=bodies_or_garbage,
       method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]), who=st.sampled_from(
           ["resident", "other", "faculty", "coordinator"]))  # fmt: skip
def test_fuzz_swap_actions(world, action, swap_id, body, method, who):
    user = world[who] if who == "coordinator" else world[who].user
    swap_id = world["swap"].pk if swap_id is None else swap_id
    before = state()
    response = send_json(client_for(user), method, f"/api/swaps/{swap_id}{action}", body)
    assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(data=form_data(["offered", "kind", "counterpart", "wanted", "message"]))
def test_fuzz_swap_offer_form(world, data):
    before = state()
    response = client_for(world["other"].user).post("/swaps/new/", data)
    assert_clear_refusal_or_success(response, before, api=False)


# --- shift trades, the open pool and sick calls (issue 13) ----------------------------------


@pytest.fixture
def shift_world(world):
    day_type = ShiftTypeFactory()
    day = world["block"].start_date
    # Clear of the world's own shift (on the block's first day).
    mine = ShiftFactory(person=world["resident"], shift_type=day_type, date=day + DAY * 6)
    pooled = ShiftFactory(person=world["resident"], shift_type=day_type, date=day + DAY * 8)
    offer = swap_services.shift_swap_request_create(
        requester=world["resident"], kind="open", offered_shift_id=pooled.pk
    )
    sick = ShiftFactory(person=world["other"], shift_type=day_type, date=day + DAY * 10)
    call = swap_services.shift_sick_call_report(shift_id=sick.pk, by=None)
    return {**world, "shift": mine, "pooled": pooled, "offer": offer, "call": call}


@FUZZ
@given(body=st.one_of(json_objects(["kind", "offered_shift", "wanted_shift", "counterpart",
                                    "message", "offered"]), bodies_or_garbage))  # fmt: skip
def test_fuzz_shift_swap_create(shift_world, body):
    before = state()
    response = send_json(client_for(shift_world["other"].user), "POST", "/api/swaps", body)
    assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(shift_id=st.one_of(ids, st.just(None)), method=st.sampled_from(["GET", "POST", "PUT"]),
       body=bodies_or_garbage,
       who=st.sampled_from(["resident", "faculty", "coordinator"]))  # fmt: skip
def test_fuzz_open_shift_pool(shift_world, shift_id, method, body, who):
    user = shift_world[who] if who == "coordinator" else shift_world[who].user
    shift_id = shift_world["pooled"].pk if shift_id is None else shift_id
    client = client_for(user)
    before = state()
    assert_clear_refusal_or_success(send_json(client, method, "/api/shifts/open", body), before,
                                    api=True)  # fmt: skip
    response = send_json(client, method, f"/api/shifts/{shift_id}/take", body)
    assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(data=form_data(["kind", "counterpart", "wanted", "message"]),
       query=st.dictionaries(st.sampled_from(["kind", "counterpart", "wanted"]),
                             st.text(max_size=25), max_size=3))  # fmt: skip
@example(data={"kind": "give_away", "counterpart": "²"}, query={"wanted": "²"})
def test_fuzz_shift_trade_confirm(shift_world, data, query):
    client = client_for(shift_world["resident"].user)
    url = f"/swaps/shifts/{shift_world['shift'].pk}/trade/confirm/"
    before = state()
    assert_clear_refusal_or_success(client.get(url, query), before, api=False)
    response = client.post(url, data)
    assert_clear_refusal_or_success(response, before, api=False)


@FUZZ
@given(data=form_data(["person", "date", "note", "action", "bonus"]),
       call_id=st.one_of(ids, st.just(None)))  # fmt: skip
def test_fuzz_sick_call_forms(shift_world, data, call_id):
    client = client_for(shift_world["coordinator"])
    call_id = shift_world["call"].pk if call_id is None else call_id
    response = client.post("/swaps/sick-calls/", data)
    assert response.status_code < 500, response.content[:300]
    response = client.post(f"/swaps/sick-calls/{call_id}/", data)
    assert response.status_code < 500, response.content[:300]
