"""The JSON API of swaps."""

import json

import pytest

from swaps import services
from swaps.models import SwapRequest
from tests.factories import PASSWORD
from tests.swaps.conftest import fresh

pytestmark = pytest.mark.django_db


def as_person(client, person):
    assert client.login(username=person.user.username, password=PASSWORD)
    return client


def post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


@pytest.fixture
def people(program):
    ann, bob, cid = program.resident("Ann"), program.resident("Bob"), program.resident("Cid")
    return ann, bob, cid, program.assign(ann, 1), program.assign(bob, 2)


def test_create_accept_and_read(client, people):
    ann, bob, _cid, x, y = people
    response = post(
        as_person(client, ann),
        "/api/swaps",
        {"kind": "one_to_one", "offered": x.pk, "wanted": y.pk},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["counterpart"], body["wanted"]["version"]) == (
        "pending",
        bob.pk,
        1,
    )

    response = post(as_person(client, bob), f"/api/swaps/{body['id']}/accept")
    assert response.status_code == 200
    assert response.json()["status"] == "executed"
    assert [e["to"] for e in response.json()["events"]] == ["pending", "accepted", "executed"]
    assert client.get(f"/api/swaps/{body['id']}").json()["executed_at"] is not None
    assert (fresh(x).person, fresh(y).person) == (bob, ann)


def test_status_codes(client, people, coordinator):
    ann, bob, cid, x, y = people
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    assert client.get(f"/api/swaps/{swap.pk}").status_code == 401
    as_person(client, cid)
    assert client.get(f"/api/swaps/{swap.pk}").status_code == 404
    assert post(client, f"/api/swaps/{swap.pk}/accept").status_code == 404
    as_person(client, ann)
    response = post(client, f"/api/swaps/{swap.pk}/accept")
    assert (
        response.status_code == 403
        and response.json()["error"] == "Only Bob can accept this request."
    )
    assert post(client, f"/api/swaps/{swap.pk}/cancel").json()["status"] == "cancelled"
    response = post(as_person(client, bob), f"/api/swaps/{swap.pk}/accept")
    assert response.status_code == 409
    assert response.json()["error"] == "This request is no longer pending: it was cancelled."
    client.force_login(coordinator)
    assert client.get(f"/api/swaps/{swap.pk}").status_code == 200


def test_rule_refusal_is_422_and_bad_input_400(client, people, program):
    ann, bob, _cid, x, y = people
    program.assign(bob, 1, program.clinic)
    as_person(client, ann)
    response = post(
        client, "/api/swaps", {"kind": "give_away", "offered": x.pk, "counterpart": bob.pk}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "Bob is already booked in block 1."
    response = post(client, "/api/swaps", {"kind": "give_away", "offered": x.pk})
    assert (response.status_code, response.json()["errors"]) == (
        422,
        {"counterpart": ["Name the colleague you give it to."]},
    )
    assert post(client, "/api/swaps", {"kind": "open"}).status_code == 400
    assert post(client, "/api/swaps", {"kind": "open", "offered": "x"}).status_code == 400
    bad = client.post("/api/swaps", "{not json", content_type="application/json")
    assert bad.status_code == 400
    response = post(client, "/api/swaps", {"kind": "open", "offered": y.pk})
    assert response.status_code == 403  # not my assignment
    assert SwapRequest.objects.count() == 0
