"""Coordinators act on swaps in the admin through actions that call the services."""

import pytest

from swaps import services
from swaps.models import SwapRequest
from tests.swaps.conftest import fresh

pytestmark = pytest.mark.django_db
URL = "/admin/swaps/swaprequest/"


def act(client, action, *swaps):
    response = client.post(
        URL, {"action": action, "_selected_action": [s.pk for s in swaps]}, follow=True
    )
    assert response.redirect_chain[0][1] == 302
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def accepted(program, settings):
    settings.ROTA_SWAPS_REQUIRE_APPROVAL = True
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    return swap, x, y, ann, bob


def test_list_and_change_page_with_the_event_log(client, coordinator, accepted):
    swap, *_ = accepted
    client.force_login(coordinator)
    assert client.get(URL).status_code == 200
    page = client.get(f"{URL}{swap.pk}/change/")
    assert page.status_code == 200
    assert b"pending" in page.content and b"accepted" in page.content  # the inline log


def test_approve_execute_and_roll_back(client, coordinator, accepted):
    swap, x, y, ann, bob = accepted
    client.force_login(coordinator)
    assert act(client, "approve_and_execute", swap) == [
        f"#{swap.pk}: approved and executed (now executed)."
    ]
    assert (fresh(x).person, fresh(y).person) == (bob, ann)
    assert act(client, "roll_back", swap) == [f"#{swap.pk}: rolled back (now rolled back)."]
    assert (fresh(x).person, fresh(y).person) == (ann, bob)
    assert act(client, "roll_back", swap) == [
        f"#{swap.pk}: Only an executed swap can be rolled back; this one is rolled back."
    ]


def test_reject_and_execute_refusal(client, coordinator, accepted):
    swap, *_ = accepted
    client.force_login(coordinator)
    assert act(client, "execute", swap) == [
        f"#{swap.pk}: Only an approved swap can be executed; this one is accepted."
    ]
    assert act(client, "reject", swap) == [f"#{swap.pk}: rejected (now declined)."]
    assert fresh(swap).events.last().note == "Rejected by a coordinator."


def test_run_matcher_action(client, coordinator, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    first = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk
    )
    services.swap_request_create(requester=bob, kind="one_to_one", offered_id=y.pk, wanted_id=x.pk)
    client.force_login(coordinator)
    assert act(client, "run_matcher", first) == [
        "Swap matcher: 1 executed, 0 awaiting approval, 0 refused, 0 expired."
    ]
    assert fresh(first).status == SwapRequest.Status.EXECUTED


def test_non_coordinators_are_kept_out(client, program):
    client.force_login(program.resident("Ann").user)
    assert client.get(URL).status_code == 302
