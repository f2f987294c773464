"""A swap request and generation's write phase over the same year (found by bench/load.py: a
request committed a reference to a row generation had just deleted, a 500 at commit).

Creating a request takes the year's schedule lock shared, so while generation's write phase
holds it exclusively the request is refused at once (503, nothing written), and once generation
has committed the deletion the request is refused because the row is gone (never a 500)."""

from __future__ import annotations

import pytest

from residency.errors import ScheduleLocked
from residency.locking import schedule_lock_exclusive
from residency.models import Assignment
from swaps import services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from tests.swaps.conftest import held_in_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_request_during_generations_write_phase_is_refused_then_sees_the_row_gone(program):
    alice = program.resident("Alice")
    offered = program.assign(alice, 2)

    def write_phase() -> None:  # what scheduling.services.schedule_write does first
        schedule_lock_exclusive(academic_year_id=program.year.pk)
        Assignment.objects.filter(pk=offered.pk).delete()

    with held_in_transaction(write_phase):
        with pytest.raises(ScheduleLocked):
            services.swap_request_create(requester=alice, kind="open", offered_id=offered.pk)
        assert not SwapRequest.objects.exists()

    with pytest.raises(SwapRefused) as refused:
        services.swap_request_create(requester=alice, kind="open", offered_id=offered.pk)
    assert refused.value.reason == "invalid"
    assert "does not exist" in refused.value.message
    assert not SwapRequest.objects.exists()


def test_the_api_answers_503_during_generations_write_phase(program, client):
    alice = program.resident("Alice")
    offered = program.assign(alice, 2)
    client.force_login(alice.user)

    with held_in_transaction(lambda: schedule_lock_exclusive(academic_year_id=program.year.pk)):
        response = client.post(
            "/api/swaps", {"kind": "open", "offered": offered.pk}, content_type="application/json"
        )
    assert response.status_code == 503
    assert "Schedule generation in progress" in response.json()["error"]
    assert not SwapRequest.objects.exists()
