"""The swap builder offers exactly what the create service accepts; give-aways explain an empty
list; Accept and Take confirm what you give and get first; pointless trades are refused."""

from __future__ import annotations

import pytest
from django.db import transaction

from residency.models import RotationTemplate
from swaps import selectors, services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from tests.factories import AbsenceFactory, RotationTemplateFactory
from tests.swaps.conftest import fresh
from tests.swaps.test_views import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowded(program):
    """Ann (PGY-1) on Ward in block 1 and Clinic in block 2; colleagues in various states."""
    seniors_only = RotationTemplateFactory(name="ICU", code="ICU", allowed_pgy_levels=[3])
    ann = program.resident("Ann", pgy=1)
    bob = program.resident("Bob", pgy=1)  # Clinic in block 1: a legal same-block trade
    cid = program.resident("Cid", pgy=3)  # ICU in block 1: Ann may not take ICU
    dee = program.resident("Dee", pgy=1)  # Ward in block 1: same rotation, pointless
    eve = program.resident("Eve", pgy=1)  # free in block 1, Clinic in block 3
    fay = program.resident("Fay", pgy=1)  # away most of block 1
    offered = program.assign(ann, 1, program.ward)
    program.assign(ann, 2, program.clinic)
    program.assign(bob, 1, program.clinic)
    program.assign(cid, 1, seniors_only)
    program.assign(dee, 1, program.ward)
    program.assign(eve, 3, program.clinic)
    block = program.blocks[0]
    AbsenceFactory(person=fay, start_date=block.start_date, end_date=block.end_date)
    program.assign(fay, 2, program.ward)
    return program, ann, offered


def accepted_by_service(ann, offered, **kwargs) -> bool:
    """Would swap_request_create accept this? Tried in a savepoint that is rolled back."""
    try:
        with transaction.atomic():
            services.swap_request_create(requester=ann, offered_id=offered.pk, **kwargs)
            transaction.set_rollback(True)
    except SwapRefused:
        return False
    return True


def test_one_to_one_options_are_exactly_what_the_service_accepts(crowded):
    _program, ann, offered = crowded
    options = selectors.swap_one_to_one_options(person=ann, offered=offered)
    offered_ids = {o.wanted.pk for o in options.options}
    for wanted in selectors.wantable_assignments(person=ann):
        ok = accepted_by_service(ann, offered, kind="one_to_one", wanted_id=wanted.pk)
        assert (wanted.pk in offered_ids) == ok, (wanted, ok)
    # Bob's Clinic in the same block; Eve's Clinic in block 3 (both are free in the other's).
    assert [o.counterpart.name for o in options.options] == ["Bob", "Eve"]
    assert options.options[0].you_get.startswith("Clinic (CLIN), block 1")


def test_give_away_lists_free_colleagues_who_may_take_it(crowded):
    _program, ann, offered = crowded
    options = selectors.swap_give_away_options(person=ann, offered=offered)
    assert [o.counterpart.name for o in options.options] == ["Eve"]  # Fay is away
    for colleague in type(ann).objects.exclude(pk=ann.pk):
        ok = accepted_by_service(ann, offered, kind="give_away", counterpart=colleague)
        assert ok == (colleague.name == "Eve"), colleague


def test_give_away_explains_why_nobody_can_take_it(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    offered = program.assign(ann, 1)
    program.assign(bob, 1, program.clinic)
    options = selectors.swap_give_away_options(person=ann, offered=offered)
    assert options.options == []
    assert options.why_none.startswith("All 1 other residents are already booked in block 1")


def test_builder_pages(client, crowded):
    program, ann, offered = crowded
    login(client, ann)
    step1 = client.get(f"/swaps/new/?assignment={offered.pk}")
    assert step1.context["step"] == 1 and step1.context["offered"] == offered
    page = client.get(f"/swaps/new/?assignment={offered.pk}&kind=one_to_one")
    body = page.content.decode()
    assert page.context["step"] == 2
    assert "from Bob" in body and "from Dee" not in body and "ICU" not in body
    page = client.get(f"/swaps/new/?assignment={offered.pk}&kind=give_away")
    assert "<strong>Eve</strong>" in page.content.decode()
    # Someone else's assignment is not offerable: back to step 1.
    other = program.assign(program.resident("Zed"), 3)
    assert client.get(f"/swaps/new/?assignment={other.pk}&kind=open").context["step"] == 1
    # Sending one of the options works.
    bobs = selectors.swap_one_to_one_options(person=ann, offered=offered).options[0].wanted
    response = client.post(
        "/swaps/new/", {"offered": offered.pk, "kind": "one_to_one", "wanted": bobs.pk}
    )
    assert response.status_code == 302
    assert SwapRequest.objects.get().wanted == bobs


def test_give_away_page_explains_an_empty_list(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    offered = program.assign(ann, 1)
    program.assign(bob, 1, program.clinic)
    body = login(client, ann).get(f"/swaps/new/?assignment={offered.pk}&kind=give_away")
    text = body.content.decode()
    assert "Nobody can be given this assignment." in text
    assert "already booked in block 1" in text and "open offer instead" in text


def test_colleagues_leave_shows_as_unavailable(client, program):
    leave = RotationTemplateFactory(name="Parental leave", code="PL", kind="leave")
    ann, bob = program.resident("Ann"), program.resident("Bob")
    offered = program.assign(ann, 1)
    program.assign(bob, 1, leave)
    options = selectors.swap_one_to_one_options(person=ann, offered=offered)
    assert [o.you_get.split(",")[0] for o in options.options] == ["Unavailable"]
    body = login(client, ann).get(f"/swaps/new/?assignment={offered.pk}&kind=one_to_one")
    assert "Parental" not in body.content.decode()
    assert leave.kind == RotationTemplate.Kind.LEAVE


def test_same_rotation_same_block_trade_is_refused_as_pointless(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    mine, theirs = program.assign(ann, 1), program.assign(bob, 1)
    with pytest.raises(SwapRefused, match="the trade would change nothing"):
        services.swap_request_create(
            requester=ann, kind="one_to_one", offered_id=mine.pk, wanted_id=theirs.pk
        )
    # Taking an open offer by giving back the same rotation in the same block: refused too.
    offer = services.swap_request_create(requester=ann, kind="open", offered_id=mine.pk)
    assert selectors.marketplace_offers(person=bob) == []
    with pytest.raises(SwapRefused, match="the trade would change nothing"):
        services.swap_request_accept(swap_request_id=offer.pk, person=bob)
    assert fresh(mine).person == ann and fresh(offer).status == SwapRequest.Status.PENDING


def test_accept_shows_a_confirmation_first(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 1, program.clinic)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    login(client, bob)
    assert f"/swaps/{swap.pk}/confirm/" in client.get("/swaps/").content.decode()
    page = client.get(f"/swaps/{swap.pk}/confirm/")
    assert page.status_code == 200
    assert page.context["you_get"].startswith("Ward (WARD), block 1")
    assert page.context["you_give"].startswith("Clinic (CLIN), block 1")
    assert b"Yes, accept" in page.content
    assert fresh(swap).status == SwapRequest.Status.PENDING  # looking changes nothing
    response = client.post(f"/swaps/{swap.pk}/accept/")
    assert response.status_code == 302
    # Same block: each keeps their row and the rows exchange rotations.
    assert fresh(x).rotation == program.clinic and fresh(y).rotation == program.ward
    assert fresh(swap).status == SwapRequest.Status.EXECUTED
    # Once answered, the confirmation page says so instead of offering the button again.
    again = client.get(f"/swaps/{swap.pk}/confirm/", follow=True)
    assert b"Yes, accept" not in again.content


def test_take_shows_what_you_give_back(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 2)
    program.assign(bob, 2, program.clinic)
    offer = services.swap_request_create(requester=ann, kind="open", offered_id=x.pk)
    login(client, bob)
    market = client.get("/swaps/marketplace/").content.decode()
    assert f"/swaps/{offer.pk}/confirm/?back=marketplace" in market
    page = client.get(f"/swaps/{offer.pk}/confirm/?back=marketplace")
    assert page.context["taking"] and page.context["you_give"].startswith("Clinic (CLIN), block 2")
    assert b"Yes, take it" in page.content and b'name="back" value="marketplace"' in page.content
    # The requester and strangers do not get a confirmation page.
    assert login(client, ann).get(f"/swaps/{offer.pk}/confirm/").status_code == 404


def test_confirmation_shows_why_a_swap_cannot_happen(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 1)
    swap = services.swap_request_create(
        requester=ann, kind="give_away", offered_id=x.pk, counterpart=bob
    )
    program.assign(bob, 1, program.clinic)  # Bob got booked meanwhile
    page = login(client, bob).get(f"/swaps/{swap.pk}/confirm/")
    assert "Bob is already booked in block 1." in page.context["problems"]
    assert b"Yes, accept" not in page.content
