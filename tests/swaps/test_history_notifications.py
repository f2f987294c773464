"""Swaps and issue 10: an executed swap is in the history as "swap #N"; every transition tells
the people concerned (not the one who acted); coordinators hear of swaps awaiting approval."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry

from residency.history import history_for_object
from residency.models import Notification
from swaps import services
from swaps.models import SwapRequest
from tests.residency.editing_support import client_for

pytestmark = pytest.mark.django_db
Kind = Notification.Kind


def kinds_for(person) -> list[str]:
    return list(
        Notification.objects.filter(user=person.user).order_by("pk").values_list("kind", flat=True)
    )


def test_swap_execution_is_in_history_with_the_swap_as_actor(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk, by=ann.user
    )
    services.swap_request_accept(swap_request_id=swap.pk, person=bob, by=bob.user)

    for assignment, before, after in ((x, ann, bob), (y, bob, ann)):
        newest = history_for_object(label="assignment", object_id=assignment.pk)[0]
        assert newest.source == "swap"
        assert newest.context["actor"] == f"swap #{swap.pk}"
        assert newest.context["user"] == bob.user.pk
        person = next(c for c in newest.changes if c.field == "person")
        assert (person.before, person.after) == (before.name, after.name)
    statuses = [e.changes for e in history_for_object(label="swap request", object_id=swap.pk)]
    assert len(statuses) == 3  # created, accepted, executed

    # Bob was asked (not Ann, who asked); Ann heard it was accepted and executed (not Bob,
    # who accepted it).
    assert kinds_for(bob) == [Kind.SWAP_REQUESTED]
    assert kinds_for(ann) == [Kind.SWAP_ACCEPTED, Kind.SWAP_EXECUTED]


def test_decline_cancel_and_expiry_tell_the_other_side_with_the_reason(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    first = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk, by=ann.user
    )
    services.swap_request_decline(swap_request_id=first.pk, person=bob, by=bob.user)
    second = services.swap_request_create(
        requester=ann, kind="give_away", offered_id=x.pk, counterpart=bob, by=ann.user
    )
    services.swap_request_cancel(swap_request_id=second.pk, person=ann, by=ann.user)
    assert kinds_for(ann) == [Kind.SWAP_DECLINED]
    assert kinds_for(bob) == [Kind.SWAP_REQUESTED, Kind.SWAP_REQUESTED, Kind.SWAP_CANCELLED]

    third = services.swap_request_create(
        requester=ann, kind="give_away", offered_id=x.pk, counterpart=bob, by=ann.user
    )
    x.delete()  # the schedule was regenerated
    assert services.swap_requests_expire_stale() == 1
    expired = Notification.objects.filter(kind=Kind.SWAP_EXPIRED)
    assert {n.user for n in expired} == {ann.user, bob.user}
    assert all("the schedule was regenerated" in n.body for n in expired)
    assert all(f"#{third.pk}" in n.subject for n in expired)


def test_swaps_awaiting_approval_notify_coordinators(program, coordinator, settings):
    settings.ROTA_SWAPS_REQUIRE_APPROVAL = True
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = services.swap_request_create(
        requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=y.pk, by=ann.user
    )
    services.swap_request_accept(swap_request_id=swap.pk, person=bob, by=bob.user)
    waiting = Notification.objects.get(kind=Kind.SWAP_AWAITING_APPROVAL)
    assert waiting.user == coordinator

    # Approving in the admin: both residents hear, and "Recent actions" lists it.
    response = client_for(coordinator).post(
        "/admin/swaps/swaprequest/",
        {"action": "approve_and_execute", "_selected_action": [swap.pk]},
    )
    assert response.status_code == 302
    assert SwapRequest.objects.get(pk=swap.pk).status == SwapRequest.Status.EXECUTED
    assert Kind.SWAP_APPROVED in kinds_for(ann) and Kind.SWAP_APPROVED in kinds_for(bob)
    assert Kind.SWAP_EXECUTED in kinds_for(ann) and Kind.SWAP_EXECUTED in kinds_for(bob)
    entry = LogEntry.objects.get(object_id=str(swap.pk))
    assert (entry.user, entry.action_flag) == (coordinator, CHANGE)
    assert "Approved and executed" in entry.get_change_message()
    index = client_for(coordinator).get("/admin/").content.decode()
    assert f"Swap #{swap.pk} (One-to-one swap, Executed)" in index  # "Recent actions"
    newest = history_for_object(label="assignment", object_id=x.pk)[0]
    assert (newest.source, newest.context["user"]) == ("swap", coordinator.pk)
