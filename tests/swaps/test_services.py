"""The swap workflow and every rule, one at a time (single connection; the races are in
test_concurrency.py)."""

import datetime

import pytest
from django.utils import timezone

from residency import services as residency_services
from residency.models import Absence, Assignment, ResidentYear
from swaps import services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from tests.factories import AbsenceFactory, RotationTemplateFactory
from tests.swaps.conftest import fresh

pytestmark = pytest.mark.django_db
Status = SwapRequest.Status


def one_to_one(requester, offered, wanted, **kwargs):
    return services.swap_request_create(
        requester=requester, kind="one_to_one", offered_id=offered.pk, wanted_id=wanted.pk, **kwargs
    )


def give_away(requester, offered, to):
    return services.swap_request_create(
        requester=requester, kind="give_away", offered_id=offered.pk, counterpart=to
    )


def open_offer(requester, offered):
    return services.swap_request_create(requester=requester, kind="open", offered_id=offered.pk)


def refused(reason, call, match=None):
    with pytest.raises(SwapRefused, match=match) as caught:
        call()
    assert caught.value.reason == reason, caught.value.message
    return caught.value


def statuses(swap):
    return [(e.from_status, e.to_status) for e in fresh(swap).events.all()]


# --- the happy paths ------------------------------------------------------------------------


def test_one_to_one_across_blocks_exchanges_the_people(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = one_to_one(ann, x, y, message="Family wedding")
    assert (swap.status, swap.counterpart, swap.offered_version, swap.wanted_version) == (
        Status.PENDING,
        bob,
        1,
        1,
    )

    done = services.swap_request_accept(swap_request_id=swap.pk, person=bob, by=bob.user)

    assert done.status == Status.EXECUTED
    x, y = fresh(x), fresh(y)
    assert (x.person, x.version, x.updated_by) == (bob, 2, bob.user)
    assert (y.person, y.version) == (ann, 2)
    assert (done.offered_version_after, done.wanted_version_after) == (2, 2)
    assert statuses(swap) == [("", "pending"), ("pending", "accepted"), ("accepted", "executed")]
    assert [e.actor_label for e in fresh(swap).events.all()] == ["Ann", "Bob", "Bob"]


def test_same_block_exchange_swaps_what_each_person_does(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 1, program.ward, notes="ward notes", pinned=True)
    y = program.assign(bob, 1, program.clinic, notes="clinic notes")
    swap = one_to_one(ann, x, y)

    services.swap_request_accept(swap_request_id=swap.pk, person=bob)

    by_person = {a.person.name: a for a in Assignment.objects.filter(block=program.blocks[0])}
    assert set(by_person) == {"Ann", "Bob"}  # still one row each in the block
    assert (by_person["Ann"].rotation, by_person["Ann"].notes) == (program.clinic, "clinic notes")
    assert (by_person["Bob"].rotation, by_person["Bob"].notes) == (program.ward, "ward notes")
    assert (by_person["Bob"].pinned, by_person["Ann"].pinned) == (True, False)
    assert {a.version for a in by_person.values()} == {2}


def test_give_away_moves_the_assignment(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 1)
    swap = give_away(ann, x, bob)
    services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert (fresh(x).person, fresh(swap).status) == (bob, Status.EXECUTED)


def test_taking_an_open_offer_gives_back_the_takers_assignment_in_that_block(program):
    ann, bob, cid = program.resident("Ann"), program.resident("Bob"), program.resident("Cid")
    x = program.assign(ann, 1, program.ward)
    y = program.assign(bob, 1, program.clinic)
    swap = open_offer(ann, x)
    assert swap.counterpart is None

    done = services.swap_request_accept(swap_request_id=swap.pk, person=bob)

    assert (done.counterpart, done.wanted_id, done.wanted_version) == (bob, y.pk, 1)
    assert fresh(x).rotation == program.clinic and fresh(y).rotation == program.ward
    refused(
        "already_taken",
        lambda: services.swap_request_accept(swap_request_id=swap.pk, person=cid),
        "already been taken",
    )


def test_taker_free_in_that_block_gives_nothing_back(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 1)
    swap = open_offer(ann, x)
    done = services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert (done.status, done.wanted_version, fresh(x).person) == (Status.EXECUTED, None, bob)


def test_with_approval_required_an_accepted_swap_waits_for_a_coordinator(
    program, coordinator, settings
):
    settings.ROTA_SWAPS_REQUIRE_APPROVAL = True
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    swap = one_to_one(ann, x, y)

    assert services.swap_request_accept(swap_request_id=swap.pk, person=bob).status == "accepted"
    assert fresh(x).person == ann
    refused(
        "not_executable",
        lambda: services.swap_request_execute(swap_request_id=swap.pk, by=coordinator),
        "Only an approved swap",
    )
    services.swap_request_approve(swap_request_id=swap.pk, by=coordinator)
    done = services.swap_request_execute(swap_request_id=swap.pk, by=coordinator)

    assert (done.status, fresh(x).person, fresh(y).person) == (Status.EXECUTED, bob, ann)
    assert statuses(swap)[-2:] == [("accepted", "approved"), ("approved", "executed")]
    assert fresh(swap).events.last().actor_label == "coordinator coordinator"


def test_decline_cancel_and_reject(program, coordinator):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y, z = program.assign(ann, 1), program.assign(bob, 2), program.assign(ann, 3)
    first, second, third = one_to_one(ann, x, y), give_away(ann, z, bob), open_offer(ann, x)

    refused(
        "not_allowed", lambda: services.swap_request_decline(swap_request_id=first.pk, person=ann)
    )
    refused(
        "not_allowed", lambda: services.swap_request_cancel(swap_request_id=first.pk, person=bob)
    )
    assert services.swap_request_decline(swap_request_id=first.pk, person=bob).status == "declined"
    assert services.swap_request_cancel(swap_request_id=second.pk, person=ann).status == "cancelled"
    assert services.swap_request_reject(swap_request_id=third.pk, by=coordinator).status == (
        "declined"
    )
    refused(
        "not_pending",
        lambda: services.swap_request_accept(swap_request_id=first.pk, person=bob),
        "no longer pending: it was declined",
    )
    assert (fresh(x).version, fresh(y).version) == (1, 1)


def test_execution_expires_other_requests_over_the_moved_assignments(program):
    ann, bob, cid = program.resident("Ann"), program.resident("Bob"), program.resident("Cid")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    z = program.assign(cid, 3)
    swap = one_to_one(ann, x, y)
    also_x = open_offer(ann, x)
    wants_y = one_to_one(cid, z, y)
    unrelated = give_away(cid, z, ann)

    services.swap_request_accept(swap_request_id=swap.pk, person=bob)

    assert fresh(also_x).status == fresh(wants_y).status == Status.EXPIRED
    assert fresh(wants_y).events.last().note == f"Swap #{swap.pk} moved one of its assignments."
    assert fresh(unrelated).status == Status.PENDING


# --- every rule refused with its own reason; nothing changes -------------------------------


@pytest.fixture
def pair(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    return ann, bob, x, y, one_to_one(ann, x, y)


def accept(swap, person, **kwargs):
    return lambda: services.swap_request_accept(swap_request_id=swap.pk, person=person, **kwargs)


def assert_untouched(*assignments):
    for assignment in assignments:
        assert fresh(assignment).person == assignment.person
        assert fresh(assignment).version == assignment.version


def test_coordinator_edit_since_the_request_is_refused_and_expires_it(pair, coordinator):
    ann, bob, x, y, swap = pair
    residency_services.assignment_update(
        assignment_id=x.pk, version=1, by=coordinator, notes="covering nights"
    )
    refused(
        "assignment_changed",
        accept(swap, bob),
        r"Ann's assignment changed since the request \(version 1 -> 2\)",
    )
    assert fresh(swap).status == Status.EXPIRED
    assert (fresh(x).person, fresh(y).person) == (ann, bob)


def test_regenerated_assignment_is_refused_and_expires_the_request(pair):
    _ann, bob, x, y, swap = pair
    y.delete()  # generation deletes and re-creates a year's assignments
    assert fresh(swap).wanted_id is None  # the request survives the deletion
    refused("assignment_gone", accept(swap, bob), r"no longer exists \(the schedule was regen")
    assert fresh(swap).status == Status.EXPIRED
    assert_untouched(x)


def test_pgy_level_rule(pair, program):
    _ann, bob, x, y, swap = pair
    senior = RotationTemplateFactory(name="ICU", code="ICU", allowed_pgy_levels=[2, 3])
    y.rotation = senior
    y.save()
    refused("ineligible", accept(swap, bob), "ICU is open to PGY-2, PGY-3, and Ann is PGY-1")
    assert fresh(swap).status == Status.PENDING
    assert_untouched(x, y)


def test_absence_rule(pair, program):
    _ann, bob, x, y, swap = pair
    block = program.blocks[0]
    AbsenceFactory(person=bob, start_date=block.start_date, end_date=block.end_date)
    refused("ineligible", accept(swap, bob), "Bob is absent for most of block 1")
    assert_untouched(x, y)


def test_already_booked_rule(pair, program):
    _ann, bob, x, y, swap = pair
    program.assign(bob, 1, program.clinic)
    refused("ineligible", accept(swap, bob), "Bob is already booked in block 1")
    assert_untouched(x, y)


def test_capacity_rule(program):
    ann, bob, cid = program.resident("Ann"), program.resident("Bob"), program.resident("Cid")
    x = program.assign(ann, 1, program.ward)
    program.assign(cid, 1, program.ward)
    swap = give_away(ann, x, bob)
    program.ward.max_people = 1  # lowered by a coordinator after the request
    program.ward.save()
    refused("ineligible", accept(swap, bob), r"Ward is full in block 1 \(1 of 1 places taken\)")


def test_inactive_person_and_wrong_acceptor(pair, program):
    ann, bob, _x, _y, swap = pair
    cid = program.resident("Cid")
    refused("not_allowed", accept(swap, cid), "Only Bob can accept")
    refused("not_allowed", accept(swap, ann), "Only Bob can accept")
    ann.active = False
    ann.save()
    refused("ineligible", accept(swap, bob), "Ann is not active")


def test_block_started_and_notice_period(pair, program, settings):
    _ann, bob, _x, _y, swap = pair
    first_day = program.blocks[0].start_date
    refused("block_started", accept(swap, bob, today=first_day), "Block 1 started on")
    settings.ROTA_SWAP_NOTICE_DAYS = 7
    refused(
        "block_started",
        accept(swap, bob, today=first_day - datetime.timedelta(days=7)),
        "inside the 7-day notice period",
    )
    done = services.swap_request_accept(
        swap_request_id=swap.pk, person=bob, today=first_day - datetime.timedelta(days=8)
    )
    assert done.status == Status.EXECUTED


def test_pgy_level_missing_for_the_year(pair):
    ann, bob, _x, _y, swap = pair
    ResidentYear.objects.filter(person=ann).delete()
    refused("ineligible", accept(swap, bob), "Ann has no PGY level for this academic year")


def test_create_validation(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    doc = program.faculty("Dr Doe")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    faculty_row = program.assign(doc, 3)
    create = services.swap_request_create
    refused("not_allowed", lambda: create(requester=bob, kind="open", offered_id=x.pk))
    refused("invalid", lambda: create(requester=ann, kind="open", offered_id=999999))
    refused("invalid", lambda: create(requester=ann, kind="bogus", offered_id=x.pk))
    refused("invalid", lambda: create(requester=ann, kind="give_away", offered_id=x.pk))
    refused("invalid", lambda: create(requester=ann, kind="one_to_one", offered_id=x.pk))
    refused(
        "invalid",
        lambda: create(requester=ann, kind="give_away", offered_id=x.pk, counterpart=ann),
        "yourself",
    )
    refused(
        "invalid",
        lambda: create(requester=ann, kind="give_away", offered_id=x.pk, counterpart=doc),
        "two residents or between two faculty",
    )
    refused(
        "invalid",
        lambda: create(requester=ann, kind="one_to_one", offered_id=x.pk, wanted_id=faculty_row.pk),
    )
    refused(
        "invalid",
        lambda: create(
            requester=ann, kind="open", offered_id=x.pk, counterpart=bob, wanted_id=y.pk
        ),
    )
    refused(
        "block_started",
        lambda: create(
            requester=ann, kind="open", offered_id=x.pk, today=program.blocks[0].end_date
        ),
    )
    one_to_one(ann, x, y)
    refused("duplicate", lambda: one_to_one(ann, x, y))
    program.assign(bob, 1, program.clinic)
    refused("ineligible", lambda: give_away(ann, program.assign(ann, 2), bob), "already booked")
    assert SwapRequest.objects.count() == 1


# --- rollback ------------------------------------------------------------------------------


def test_rollback_inside_the_window_restores_the_people(pair, coordinator):
    ann, bob, x, y, swap = pair
    done = services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    rolled = services.swap_request_rollback(swap_request_id=swap.pk, by=coordinator)
    assert rolled.status == Status.ROLLED_BACK
    assert (fresh(x).person, fresh(y).person) == (ann, bob)
    assert (fresh(x).version, fresh(y).version) == (3, 3)
    assert done.executed_at is not None
    refused(
        "not_executed",
        lambda: services.swap_request_rollback(swap_request_id=swap.pk, by=coordinator),
    )


def test_same_block_rollback(program, coordinator):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 1, program.ward)
    y = program.assign(bob, 1, program.clinic)
    swap = one_to_one(ann, x, y)
    services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    services.swap_request_rollback(swap_request_id=swap.pk, by=coordinator)
    assert (fresh(x).rotation, fresh(y).rotation) == (program.ward, program.clinic)


def test_rollback_outside_the_window_is_refused(pair, coordinator, settings):
    ann, bob, x, _y, swap = pair
    done = services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    later = done.executed_at + datetime.timedelta(hours=24, seconds=1)
    refused(
        "rollback_window",
        lambda: services.swap_request_rollback(swap_request_id=swap.pk, by=coordinator, now=later),
        "within 24 hours",
    )
    assert fresh(x).person == bob
    on_time = done.executed_at + datetime.timedelta(hours=23)
    services.swap_request_rollback(swap_request_id=swap.pk, by=coordinator, now=on_time)
    assert fresh(x).person == ann


def test_rollback_after_a_later_change_is_refused(pair, coordinator):
    _ann, bob, x, y, swap = pair
    services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    residency_services.assignment_update(assignment_id=y.pk, version=2, notes="changed")
    refused(
        "rollback_changed",
        lambda: services.swap_request_rollback(swap_request_id=swap.pk, by=coordinator),
        r"changed after the swap \(version 2 -> 3\)",
    )
    assert (fresh(x).person, fresh(swap).status) == (bob, Status.EXECUTED)


def test_executed_at_is_recent(pair):
    _ann, bob, _x, _y, swap = pair
    done = services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert timezone.now() - done.executed_at < datetime.timedelta(minutes=1)


# --- regeneration and the matcher ----------------------------------------------------------


def test_expire_stale_after_regeneration(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    stale, alive = one_to_one(ann, x, y), give_away(bob, y, ann)
    Assignment.objects.filter(pk=x.pk).delete()
    assert services.swap_requests_expire_stale(academic_year_id=program.year.pk) == 1
    assert (fresh(stale).status, fresh(alive).status) == (Status.EXPIRED, Status.PENDING)


def test_matcher_executes_mutual_requests_once(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    first, second = one_to_one(ann, x, y), one_to_one(bob, y, x)

    report = services.swap_requests_match()

    assert (report.executed, report.failed) == ([first.pk], [])
    assert (fresh(first).status, fresh(second).status) == (Status.EXECUTED, Status.EXPIRED)
    assert fresh(first).events.filter(actor_label="auto-matcher").count() == 2
    assert (fresh(x).person, fresh(y).person, fresh(x).version) == (bob, ann, 2)
    assert services.swap_requests_match().executed == []


def test_matcher_matches_a_request_with_an_open_offer_in_the_same_block(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x = program.assign(ann, 1, program.ward)
    y = program.assign(bob, 1, program.clinic)
    offer, wish = open_offer(bob, y), one_to_one(ann, x, y)
    report = services.swap_requests_match()
    assert report.executed == [offer.pk]
    assert (fresh(offer).counterpart, fresh(wish).status) == (ann, Status.EXPIRED)
    assert (fresh(x).rotation, fresh(y).rotation) == (program.clinic, program.ward)


def test_matcher_reports_refusals_and_moves_on(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    first, _ = one_to_one(ann, x, y), one_to_one(bob, y, x)
    AbsenceFactory(
        person=bob,
        start_date=program.blocks[0].start_date,
        end_date=program.blocks[0].end_date,
        status=Absence.Status.APPROVED,
    )
    report = services.swap_requests_match()
    assert report.executed == [] and report.failed[0][0] == first.pk
    assert "absent" in report.summary()


def test_matcher_with_approval_required_only_accepts(program, settings):
    settings.ROTA_SWAPS_REQUIRE_APPROVAL = True
    ann, bob = program.resident("Ann"), program.resident("Bob")
    x, y = program.assign(ann, 1), program.assign(bob, 2)
    first, _ = one_to_one(ann, x, y), one_to_one(bob, y, x)
    report = services.swap_requests_match()
    assert (report.accepted, fresh(first).status, fresh(x).person) == ([first.pk], "accepted", ann)
