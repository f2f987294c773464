"""The swaps API with shifts, and the open pool: GET /api/shifts/open, POST .../take."""

import json

import pytest
from django.test import Client

from swaps import services
from tests.swaps.conftest import fresh
from tests.swaps.shift_support import DAY, MONDAY, day_type, heavy_month, make_program, shift

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(db):
    return make_program()


def api(person):
    client = Client()
    client.force_login(person.user)
    return client


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_create_a_shift_trade_and_accept_it(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    t = day_type("D8", 8)
    mine, theirs = shift(ann, t), shift(bob, t, MONDAY + DAY)
    response = post(
        api(ann),
        "/api/swaps",
        {"kind": "one_to_one", "offered_shift": mine.pk, "wanted_shift": theirs.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["unit"] == "shift" and body["offered"]["shift"] == mine.pk
    accepted = post(api(bob), f"/api/swaps/{body['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "executed"
    assert fresh(mine).person == bob and fresh(theirs).person == ann


def test_both_offered_and_offered_shift_is_a_400(program):
    ann = program.resident("Ann")
    mine = shift(ann, day_type("D8", 8))
    response = post(
        api(ann), "/api/swaps", {"kind": "open", "offered": 1, "offered_shift": mine.pk}
    )
    assert response.status_code == 400 and "not both" in response.json()["error"]


def test_open_pool_and_take(program):
    ann, bob, cid, rita = (program.resident(n) for n in ("Ann", "Bob", "Cid", "Rita"))
    heavy_month(rita)
    big = shift(ann, day_type("S12", 12), MONDAY + 5 * DAY)
    offer = services.shift_swap_request_create(requester=ann, kind="open", offered_shift_id=big.pk)
    listed = api(bob).get("/api/shifts/open").json()["results"]
    assert [r["request"] for r in listed] == [offer.pk] and listed[0]["shift"] == big.pk
    assert api(rita).get("/api/shifts/open").json()["results"] == []  # 80.5 h/week
    refused = post(api(rita), f"/api/shifts/{big.pk}/take")
    assert refused.status_code == 422 and "80.5" in refused.json()["error"]
    taken = post(api(bob), f"/api/shifts/{big.pk}/take")
    assert taken.status_code == 200 and taken.json()["status"] == "executed"
    late = post(api(cid), f"/api/shifts/{big.pk}/take")
    assert late.status_code == 409 and "already been taken" in late.json()["error"]
    assert post(api(cid), "/api/shifts/999999/take").status_code == 404
    assert fresh(big).person == bob
