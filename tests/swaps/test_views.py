"""The swap pages through the Django test client."""

import pytest
from django.contrib.messages import get_messages

from swaps import services
from swaps.models import SwapRequest
from tests.factories import PASSWORD, RotationTemplateFactory
from tests.swaps.conftest import fresh

pytestmark = pytest.mark.django_db


def login(client, person):
    assert client.login(username=person.user.username, password=PASSWORD)
    return client


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def swap_world(program):
    ann, bob, cid = program.resident("Ann"), program.resident("Bob"), program.resident("Cid")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk, message="please"
    )
    return ann, bob, cid, x, y, swap


def test_pages_need_a_login(client):
    for url in ("/swaps/", "/swaps/new/", "/swaps/marketplace/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_overview_shows_inbox_and_outgoing(client, swap_world):
    ann, bob, _cid, _x, _y, swap = swap_world
    response = login(client, bob).get("/swaps/")
    assert response.status_code == 200
    assert list(response.context["inbox"]) == [swap]
    assert b"please" in response.content and b"Accept" in response.content
    response = login(client, ann).get("/swaps/")
    assert list(response.context["inbox"]) == [] and list(response.context["outgoing"]) == [swap]


def test_accept_executes_and_says_so(client, swap_world):
    ann, bob, _cid, x, y, swap = swap_world
    response = login(client, bob).post(f"/swaps/{swap.pk}/accept/")
    assert response.status_code == 302 and response.url == "/swaps/"
    assert texts(response) == [
        f"You accepted request #{swap.pk}. The swap has been applied to the schedule."
    ]
    assert (fresh(x).person, fresh(y).person) == (bob, ann)


def test_refusal_is_reported_as_a_message(client, swap_world, coordinator):
    _ann, bob, _cid, _x, y, swap = swap_world
    from residency.services import assignment_update

    assignment_update(assignment_id=y.pk, version=1, notes="edited")
    response = login(client, bob).post(f"/swaps/{swap.pk}/accept/", follow=True)
    assert response.status_code == 200
    assert "Bob's assignment changed since the request (version 1 -> 2)." in texts(response)
    assert fresh(swap).status == SwapRequest.Status.EXPIRED


def test_others_requests_are_404(client, swap_world):
    ann, bob, cid, _x, _y, swap = swap_world
    login(client, cid)
    for action in ("accept", "decline", "cancel"):
        assert client.post(f"/swaps/{swap.pk}/{action}/").status_code == 404
    login(client, bob)
    assert client.post(f"/swaps/{swap.pk}/cancel/").status_code == 404  # not the requester
    login(client, ann)
    assert client.post(f"/swaps/{swap.pk}/accept/").status_code == 404  # not the counterpart
    assert client.post(f"/swaps/{swap.pk}/decline/").status_code == 404
    assert client.get(f"/swaps/{swap.pk}/accept/").status_code == 405
    assert fresh(swap).status == SwapRequest.Status.PENDING


def test_decline_and_cancel(client, swap_world, program):
    ann, bob, _cid, x, _y, swap = swap_world
    response = login(client, bob).post(f"/swaps/{swap.pk}/decline/")
    assert texts(response) == [f"You declined request #{swap.pk}."]
    again = client.post(f"/swaps/{swap.pk}/decline/")
    assert texts(again)[-1] == "This request is no longer pending: it was declined."
    other = services.swap_request_create(requester=ann, kind="open", offered_id=x.pk)
    response = login(client, ann).post(f"/swaps/{other.pk}/cancel/")
    assert texts(response)[-1] == f"You cancelled request #{other.pk}."
    assert fresh(other).status == SwapRequest.Status.CANCELLED


def test_offer_form_prefills_and_creates(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    login(client, ann)
    response = client.get(f"/swaps/new/?assignment={x.pk}")
    assert response.status_code == 200 and response.context["form"].initial["offered"] == x.pk
    response = client.post(
        "/swaps/new/", {"offered": x.pk, "kind": "one_to_one", "wanted": y.pk, "message": "hi"}
    )
    assert response.status_code == 302
    swap = SwapRequest.objects.get()
    assert (swap.requester, swap.counterpart, swap.wanted, swap.message) == (ann, bob, y, "hi")
    assert texts(response)[0].startswith(f"Request #{swap.pk} sent: Ann: Ward (WARD), block 1")


def test_offer_form_rerenders_with_the_reason(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 1)
    program.assign(bob, 1, program.clinic)
    login(client, ann)
    data = {"offered": x.pk, "kind": "give_away", "counterpart": bob.pk, "message": "typed"}
    response = client.post("/swaps/new/", data)
    assert response.status_code == 422
    assert "Bob is already booked in block 1." in response.context["form"].non_field_errors()
    assert b"typed" in response.content  # the user's input is kept
    response = client.post("/swaps/new/", {"offered": x.pk, "kind": "give_away"})
    assert response.status_code == 422
    assert response.context["form"].errors["counterpart"] == ["Name the colleague you give it to."]
    response = client.post("/swaps/new/", {"offered": "", "kind": "open"})
    assert response.status_code == 400 and "offered" in response.context["form"].errors
    assert SwapRequest.objects.count() == 0


def test_cannot_offer_someone_elses_assignment(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    y = program.assign(bob, 2)
    login(client, ann)
    response = client.post("/swaps/new/", {"offered": y.pk, "kind": "open"})
    assert response.status_code == 400  # not in the form's choices
    assert SwapRequest.objects.count() == 0


def test_marketplace_shows_only_offers_i_may_take(client, program):
    ann, bob = program.resident("Ann", pgy=1), program.resident("Bob", pgy=1)
    senior = program.resident("Sam", pgy=3)
    doc = program.faculty("Dr Doe")
    icu = RotationTemplateFactory(name="ICU", code="ICU", allowed_pgy_levels=[3])
    ok = program.assign(ann, 1)
    senior_only = program.assign(senior, 2, icu)
    faculty_rota = RotationTemplateFactory(name="Staff", code="STF", staffed_by="faculty")
    faculty_offer = program.assign(doc, 1, faculty_rota)
    mine = program.assign(bob, 3)
    offers = {
        row: services.swap_request_create(requester=row.person, kind="open", offered_id=row.pk)
        for row in (ok, senior_only, faculty_offer, mine)
    }
    response = login(client, bob).get("/swaps/marketplace/")
    shown = [item.offer for item in response.context["offers"]]
    assert shown == [offers[ok]]  # not the PGY-3 one, not faculty's, not my own

    response = client.post(f"/swaps/{offers[ok].pk}/accept/", {"back": "marketplace"})
    assert response.url == "/swaps/marketplace/"
    assert texts(response)[0].startswith(f"You took offer #{offers[ok].pk}.")
    assert fresh(ok).person == bob
    assert login(client, doc).get("/swaps/marketplace/").context["offers"] == []


def test_accept_with_approval_required_says_it_waits(client, swap_world, settings):
    settings.ROTA_SWAPS_REQUIRE_APPROVAL = True
    _ann, bob, _cid, x, _y, swap = swap_world
    response = login(client, bob).post(f"/swaps/{swap.pk}/accept/")
    assert texts(response) == [
        f"You accepted request #{swap.pk}. It now waits for a coordinator's approval."
    ]
    assert (fresh(swap).status, fresh(x).person.name) == (SwapRequest.Status.ACCEPTED, "Ann")


def test_login_without_a_person(client, coordinator):
    client.force_login(coordinator)
    response = client.get("/swaps/")
    assert response.status_code == 200 and b"not linked to a person" in response.content
    assert client.get("/swaps/new/").status_code == 404


def test_inbox_hides_requests_over_regenerated_assignments(client, swap_world):
    _ann, bob, _cid, x, _y, _swap = swap_world
    x.delete()
    assert list(login(client, bob).get("/swaps/").context["inbox"]) == []


def test_detail_page_shows_the_history_to_those_involved_only(client, swap_world):
    ann, bob, cid, _x, _y, swap = swap_world
    services.swap_request_decline(swap_request_id=swap.pk, person=bob)
    response = login(client, ann).get(f"/swaps/{swap.pk}/")
    assert response.status_code == 200
    assert [(e.from_status, e.to_status) for e in response.context["events"]] == [
        ("", "pending"),
        ("pending", "declined"),
    ]
    assert not response.context["can_cancel"]
    assert login(client, cid).get(f"/swaps/{swap.pk}/").status_code == 404
