"""Shift trades through the swap workflow: one-to-one, give-away, the open pool, the program's
rules, approval, rollback, refusals recorded with their numbers, and sick calls."""

import datetime

import pytest
from django.utils import timezone

from residency.errors import RotaError
from shifts.models import Shift, SickCall
from swaps import services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest, SwapRules
from swaps.selectors import swap_requests_inbox
from swaps.shift_selectors import (
    open_shift_offers,
    shift_trade_options,
    sick_call_replacements,
)
from tests.factories import AbsenceFactory, ShiftFactory
from tests.swaps.conftest import fresh
from tests.swaps.shift_support import DAY, MONDAY, day_type, heavy_month, make_program, shift

Status = SwapRequest.Status
SATURDAY = MONDAY + 5 * DAY


@pytest.fixture
def program(db):
    return make_program()


def rules(**values):
    row = SwapRules(**values)
    row.save()
    return row


def test_one_to_one_trade_moves_both_shifts(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    t = day_type("D8", 8)
    mine, theirs = shift(ann, t, MONDAY), shift(bob, t, MONDAY + DAY)
    swap = services.shift_swap_request_create(
        requester=ann, kind="one_to_one", offered_shift_id=mine.pk, wanted_shift_id=theirs.pk
    )
    assert (swap.unit, swap.counterpart, swap.academic_year) == ("shift", bob, program.year)
    assert list(swap_requests_inbox(person=bob)) == [swap]
    assert services.swap_requests_expire_stale() == 0  # names no assignment: not stale
    swap = services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert swap.status == Status.EXECUTED
    assert (fresh(mine).person, fresh(mine).version) == (bob, 2)
    assert (fresh(theirs).person, fresh(theirs).version) == (ann, 2)


def test_give_away_to_a_named_free_colleague_and_rollback(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    mine = shift(ann, day_type("D8", 8))
    swap = services.shift_swap_request_create(
        requester=ann, kind="give_away", offered_shift_id=mine.pk, counterpart=bob
    )
    services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert fresh(mine).person == bob
    services.swap_request_rollback(swap_request_id=swap.pk, by=None)
    assert (fresh(mine).person, fresh(swap).status) == (ann, Status.ROLLED_BACK)


def test_give_away_to_a_busy_colleague_is_refused_at_once(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    t = day_type("D8", 8)
    mine = shift(ann, t)
    shift(bob, day_type("D9", 4, start=datetime.time(10)))  # overlaps 08:00-16:00
    with pytest.raises(SwapRefused) as refused:
        services.shift_swap_request_create(
            requester=ann, kind="give_away", offered_shift_id=mine.pk, counterpart=bob
        )
    assert refused.value.reason == "ineligible" and "overlaps" in refused.value.message


def test_open_pool_first_taker_wins_and_later_taker_hears_taken(program):
    ann, bob, cid = (program.resident(n) for n in ("Ann", "Bob", "Cid"))
    mine = shift(ann, day_type("D8", 8))
    offer = services.shift_swap_request_create(requester=ann, kind="open", offered_shift_id=mine.pk)
    assert [o.pk for o in open_shift_offers(person=bob)] == [offer.pk]
    services.swap_request_accept(swap_request_id=offer.pk, person=bob)
    with pytest.raises(SwapRefused) as refused:
        services.swap_request_accept(swap_request_id=offer.pk, person=cid)
    assert refused.value.reason == "already_taken"
    assert fresh(mine).person == bob and open_shift_offers(person=cid) == []


def test_duty_hour_refusal_changes_nothing_and_is_recorded_on_the_request(program):
    """R at 77.5 h/week averaged over four weeks; a 12-h Saturday makes it 80.5."""
    ann, rita = program.resident("Ann"), program.resident("Rita")
    heavy_month(rita)
    mine = shift(ann, day_type("S12", 12), SATURDAY)
    offer = services.shift_swap_request_create(requester=ann, kind="open", offered_shift_id=mine.pk)
    assert open_shift_offers(person=rita) == []  # the pool does not offer it to her
    with pytest.raises(SwapRefused) as refused:
        services.swap_request_accept(swap_request_id=offer.pk, person=rita)
    assert refused.value.reason == "duty_hours" and refused.value.status_code == 422
    assert "80.5" in refused.value.message and "limit 80" in refused.value.message
    offer = fresh(offer)
    assert offer.status == Status.PENDING and offer.counterpart is None
    assert "80.5" in offer.refusal
    assert offer.events.last().note.startswith("Refused:")
    assert (fresh(mine).person, fresh(mine).version) == (ann, 1)


def test_duty_hours_are_checked_for_both_people(program):
    """Rita gives her 2-h shift and would receive Ann's 12-h one: refused for Rita."""
    ann, rita = program.resident("Ann"), program.resident("Rita")
    heavy_month(rita)
    big = shift(ann, day_type("S12", 12), SATURDAY)
    small = shift(rita, day_type("S2", 2), SATURDAY + DAY)
    with pytest.raises(SwapRefused) as refused:
        services.shift_swap_request_create(
            requester=ann, kind="one_to_one", offered_shift_id=big.pk, wanted_shift_id=small.pk
        )
    assert refused.value.reason == "duty_hours" and "Rita" in refused.value.message


def test_absence_and_pgy_rules(program):
    ann, bob = program.resident("Ann", pgy=1), program.resident("Bob", pgy=2)
    mine = shift(ann, day_type("D8", 8))
    rules(pgy_levels_may_cross=False)
    with pytest.raises(SwapRefused) as refused:
        services.shift_swap_request_create(
            requester=ann, kind="give_away", offered_shift_id=mine.pk, counterpart=bob
        )
    assert "PGY-1" in refused.value.message and "PGY-2" in refused.value.message
    cid = program.resident("Cid", pgy=1)
    AbsenceFactory(person=cid, start_date=MONDAY, end_date=MONDAY, status="approved")
    with pytest.raises(SwapRefused) as refused:
        services.shift_swap_request_create(
            requester=ann, kind="give_away", offered_shift_id=mine.pk, counterpart=cid
        )
    assert "away" in refused.value.message


def test_minimum_notice(program):
    ann = program.resident("Ann")
    mine = shift(ann, day_type("D8", 8))
    rules(shift_notice_hours=48)
    soon = mine.starts_at - datetime.timedelta(hours=47)
    with pytest.raises(SwapRefused) as refused:
        services.shift_swap_request_create(
            requester=ann, kind="open", offered_shift_id=mine.pk, now=soon
        )
    assert refused.value.reason == "too_late" and "48-hour" in refused.value.message
    services.shift_swap_request_create(
        requester=ann,
        kind="open",
        offered_shift_id=mine.pk,
        now=mine.starts_at - datetime.timedelta(hours=49),
    )


def test_give_away_cap_per_block(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    t = day_type("D8", 8)
    first, second = shift(ann, t, MONDAY), shift(ann, t, MONDAY + DAY)
    rules(give_away_cap_per_block=1)
    services.shift_swap_request_create(requester=ann, kind="open", offered_shift_id=first.pk)
    with pytest.raises(SwapRefused) as refused:
        services.shift_swap_request_create(
            requester=ann, kind="give_away", offered_shift_id=second.pk, counterpart=bob
        )
    assert refused.value.reason == "cap" and "1 per block" in refused.value.message


def test_approval_for_shift_trades_is_separate_from_blocks(program, settings):
    settings.ROTA_SWAPS_REQUIRE_APPROVAL = False
    rules(shift_trades_need_approval=True)
    ann, bob = program.resident("Ann"), program.resident("Bob")
    mine = shift(ann, day_type("D8", 8))
    swap = services.shift_swap_request_create(
        requester=ann, kind="give_away", offered_shift_id=mine.pk, counterpart=bob
    )
    assert services.swap_request_accept(swap_request_id=swap.pk, person=bob).status == (
        Status.ACCEPTED
    )
    assert fresh(mine).person == ann
    with pytest.raises(SwapRefused):
        services.swap_request_execute(swap_request_id=swap.pk)
    services.swap_request_approve(swap_request_id=swap.pk, by=None)
    assert services.swap_request_execute(swap_request_id=swap.pk).status == Status.EXECUTED
    assert fresh(mine).person == bob


def test_a_changed_shift_expires_the_request(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    mine = shift(ann, day_type("D8", 8))
    swap = services.shift_swap_request_create(
        requester=ann, kind="give_away", offered_shift_id=mine.pk, counterpart=bob
    )
    Shift.objects.filter(pk=mine.pk).update(version=5)
    with pytest.raises(SwapRefused) as refused:
        services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert refused.value.reason == "shift_changed" and refused.value.status_code == 409
    assert fresh(swap).status == Status.EXPIRED


def test_overlapping_shifts_trade_without_breaking_the_exclusion_constraint(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    early, late = day_type("E", 8), day_type("L", 8, start=datetime.time(12))
    mine, theirs = shift(ann, early), shift(bob, late)
    swap = services.shift_swap_request_create(
        requester=ann, kind="one_to_one", offered_shift_id=mine.pk, wanted_shift_id=theirs.pk
    )
    services.swap_request_accept(swap_request_id=swap.pk, person=bob)
    assert Shift.objects.get(person=ann).shift_type == late
    assert Shift.objects.get(person=bob).shift_type == early
    services.swap_request_rollback(swap_request_id=swap.pk, by=None)
    assert Shift.objects.get(person=ann).shift_type == early


def test_trade_options_offer_only_legal_trades(program):
    ann, bob, rita = (program.resident(n) for n in ("Ann", "Bob", "Rita"))
    heavy_month(rita)
    mine = shift(ann, day_type("S12", 12), SATURDAY)
    bobs = shift(bob, day_type("S4", 4, start=datetime.time(20)), SATURDAY + DAY)
    options = shift_trade_options(shift=mine, now=timezone.now())
    pairs = {(o.colleague.name, o.gets.pk if o.gets else None) for o in options}
    assert ("Bob", None) in pairs and ("Bob", bobs.pk) in pairs
    # Rita may not simply take it (80.5 h/week), but may trade one of her 15.5-h days for it.
    assert ("Rita", None) not in pairs
    assert any(name == "Rita" and got is not None for name, got in pairs)


def test_sick_call_ranked_replacements_assign_and_pool(program):
    ann, bob, cid, dan = (program.resident(n) for n in ("Ann", "Bob", "Cid", "Dan"))
    call_type = day_type("C", 8)
    backup = day_type("B", 4, start=datetime.time(20))
    backup.kind = "home_call"
    backup.in_house = False
    backup.save()
    sick = shift(ann, call_type)
    shift(dan, backup)  # Dan holds backup call that day: first
    ShiftFactory(person=bob, shift_type=day_type("X", 2), date=MONDAY + 3 * DAY)  # Bob has burden
    call = services.shift_sick_call_report(shift_id=sick.pk, by=None)
    ranked = [r.person.name for r in sick_call_replacements(sick_call=call)]
    assert ranked == ["Dan", "Cid", "Bob"]
    with pytest.raises(SwapRefused):
        services.shift_sick_call_report(shift_id=sick.pk, by=None)
    offer = services.shift_sick_call_post(sick_call_id=call.pk, by=None, bonus_note="Pizza")
    services.shift_sick_call_assign(sick_call_id=call.pk, person=cid, by=None)
    assert fresh(sick).person == cid
    call = fresh(call)
    assert (call.replaced_by, call.is_open) == (cid, False)
    assert fresh(offer).status == Status.EXPIRED
    with pytest.raises(RotaError):
        services.swap_request_accept(swap_request_id=offer.pk, person=bob)


def test_sick_call_pool_take_resolves_the_call(program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    sick = shift(ann, day_type("C", 8))
    call = services.shift_sick_call_report(shift_id=sick.pk, by=None)
    offer = services.shift_sick_call_post(sick_call_id=call.pk, by=None, bonus_note="Pizza")
    # Sick calls are urgent: the notice period does not apply to them.
    rules(shift_notice_hours=10_000_000)
    services.swap_request_accept(swap_request_id=offer.pk, person=bob)
    assert fresh(sick).person == bob
    assert SickCall.objects.get(pk=call.pk).replaced_by == bob


def test_matcher_executes_mutual_shift_requests_through_the_same_service(program):
    ann, bob, cid = (program.resident(n) for n in ("Ann", "Bob", "Cid"))
    t = day_type("D8", 8)
    a_shift, b_shift = shift(ann, t, MONDAY), shift(bob, t, MONDAY + DAY)
    c_shift = shift(cid, t, MONDAY + 2 * DAY)
    ann_asks = services.shift_swap_request_create(
        requester=ann, kind="one_to_one", offered_shift_id=a_shift.pk, wanted_shift_id=b_shift.pk
    )
    bob_asks = services.shift_swap_request_create(
        requester=bob, kind="one_to_one", offered_shift_id=b_shift.pk, wanted_shift_id=a_shift.pk
    )
    # A third, unmatched request is left alone.
    lonely = services.shift_swap_request_create(
        requester=cid, kind="one_to_one", offered_shift_id=c_shift.pk, wanted_shift_id=a_shift.pk
    )
    report = services.swap_requests_match()
    assert report.executed == [ann_asks.pk], report.summary()
    assert fresh(ann_asks).status == Status.EXECUTED
    assert fresh(bob_asks).status == Status.EXPIRED  # its shifts moved
    assert fresh(lonely).status == Status.EXPIRED  # Ann's shift it wanted moved
    assert fresh(a_shift).person == bob and fresh(b_shift).person == ann
    assert fresh(ann_asks).events.filter(actor_label="auto-matcher").exists()
