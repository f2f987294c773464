"""Shift requests (shifts/requests.py): the period and its deadline, the per-person limit, bad
input, contradictions, the selector generation reads and the pure "honoured" rule."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from residency.errors import Conflict, RuleViolation
from shifts import requests
from shifts.models import REQUEST_WEIGHTS, ShiftRequest, ShiftRequestPeriod
from tests.factories import PersonFactory, ShiftTypeFactory

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def open_period(*, days_ahead: int = 14, length: int = 28, deadline_in=datetime.timedelta(days=7)):
    """A period starting ``days_ahead`` days from today, open for requests ``deadline_in``
    from now (negative: closed)."""
    start = timezone.localdate() + days_ahead * DAY
    return requests.shift_request_period_create(
        start_date=start,
        end_date=start + (length - 1) * DAY,
        deadline=timezone.now() + deadline_in,
        note="Requests for the winter call schedule.",
    )


def ask(person, day, kind="off", shift_type=None, priority=2, note=""):
    return requests.shift_request_create(
        person=person, date=day, kind=kind, shift_type=shift_type, priority=priority, note=note
    )


@pytest.fixture
def period():
    return open_period()


@pytest.fixture
def night():
    return ShiftTypeFactory(code="NF", name="Night float")


def test_a_resident_asks_for_a_day_off_a_shift_and_to_be_spared_one(period, night):
    person = PersonFactory()
    day = period.start_date
    off = ask(person, day, priority=1, note="Sister's wedding")
    on = ask(person, day + DAY, "on", night, priority=3)
    spared = ask(person, day + 2 * DAY, "off", night)
    assert [r.pk for r in requests.shift_requests_for(start=day, end=day + 2 * DAY)] == [
        off.pk,
        on.pk,
        spared.pk,
    ]
    assert (off.weight, on.weight, spared.weight) == (10, 1, 4)
    assert [requests.describe(r) for r in (off, on, spared)] == [
        "day off",
        "Night float",
        "not Night float",
    ]


def test_faculty_ask_about_faculty_shifts_only(period, night):
    faculty = PersonFactory(faculty=True)
    backup = ShiftTypeFactory(name="Backup call", staffed_by="faculty")
    assert ask(faculty, period.start_date, "on", backup).shift_type == backup
    with pytest.raises(RuleViolation, match="not a shift faculty take") as error:
        ask(faculty, period.start_date + DAY, "off", night)
    assert error.value.field == "shift_type"
    with pytest.raises(RuleViolation, match="not a shift residents take"):
        ask(PersonFactory(), period.start_date, "on", backup)


def test_refused_outside_any_period(period):
    person = PersonFactory()
    for day in (period.start_date - DAY, period.end_date + DAY):
        with pytest.raises(RuleViolation, match="not being collected") as error:
            ask(person, day)
        assert error.value.status_code == 422 and error.value.field == "date"
    assert ask(person, period.end_date).date == period.end_date  # inclusive end


def test_refused_after_the_deadline_and_not_withdrawn_after_it_either(period):
    person = PersonFactory()
    kept = ask(person, period.start_date)
    ShiftRequestPeriod.objects.filter(pk=period.pk).update(
        deadline=timezone.now() - datetime.timedelta(seconds=1)
    )
    with pytest.raises(Conflict, match=r"deadline for requests .* has passed") as error:
        ask(person, period.start_date + DAY)
    assert error.value.status_code == 409
    with pytest.raises(Conflict, match="has passed"):
        requests.shift_request_delete(person=person, request_id=kept.pk)
    assert list(ShiftRequest.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_limit_per_person_and_period(period):
    person, other = PersonFactory(), PersonFactory()
    for n in range(requests.MAX_REQUESTS_PER_PERIOD):
        ask(person, period.start_date + n * DAY)
    with pytest.raises(RuleViolation, match="already have 10 requests"):
        ask(person, period.end_date)
    ask(other, period.end_date)  # the limit is per person
    # A later period has its own allowance.
    later = open_period(days_ahead=14 + 28)
    ask(person, later.start_date)
    # Withdrawing one makes room again.
    first = ShiftRequest.objects.filter(person=person).order_by("date").first()
    assert requests.shift_request_delete(person=person, request_id=first.pk) is True
    ask(person, period.end_date)
    assert ShiftRequest.objects.filter(person=person, date__lte=period.end_date).count() == 10


@pytest.mark.parametrize(
    ("kind", "type_", "priority", "note", "field", "message"),
    [
        ("maybe", None, 2, "", "kind", "Choose"),
        ("on", None, 2, "", "shift_type", "Name the shift"),
        ("off", None, 0, "", "priority", "Priority is 1"),
        ("off", None, 4, "", "priority", "Priority is 1"),
        ("off", None, True, "", "priority", "Priority is 1"),
        ("off", None, 2, "x" * 301, "note", "300 characters"),
    ],
)
def test_bad_input_is_refused_with_the_field(period, kind, type_, priority, note, field, message):
    with pytest.raises(RuleViolation, match=message) as error:
        ask(PersonFactory(), period.start_date, kind, type_, priority, note)
    assert error.value.field == field
    assert not ShiftRequest.objects.exists()


def test_inactive_people_and_retired_shift_types_are_refused(period, night):
    with pytest.raises(RuleViolation, match="inactive"):
        ask(PersonFactory(active=False), period.start_date)
    night.active = False
    night.save()
    with pytest.raises(RuleViolation, match="not a shift"):
        ask(PersonFactory(), period.start_date, "on", night)


def test_duplicates_and_contradictions_are_refused(period, night):
    person = PersonFactory()
    day = period.start_date
    other_type = ShiftTypeFactory()
    ask(person, day, "on", night)
    with pytest.raises(RuleViolation, match="already have this request"):
        ask(person, day, "on", night)
    with pytest.raises(RuleViolation, match="contradicts your request “Night float”"):
        ask(person, day, "off")
    with pytest.raises(RuleViolation, match="contradicts"):
        ask(person, day, "off", night)
    ask(person, day, "off", other_type)  # not the other shift: consistent
    ask(person, day + DAY, "off")
    with pytest.raises(RuleViolation, match="already have this request"):
        ask(person, day + DAY, "off")
    with pytest.raises(RuleViolation, match="contradicts your request “day off”"):
        ask(person, day + DAY, "on", night)
    assert ShiftRequest.objects.filter(person=person).count() == 3


def test_the_database_refuses_what_the_service_would(period, night):
    person = PersonFactory()
    day = period.start_date
    ShiftRequest.objects.create(person=person, date=day, kind="off")
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftRequest.objects.create(person=person, date=day, kind="off")  # NULL type: still one
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftRequest.objects.create(person=person, date=day + DAY, kind="on")  # on needs a type
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftRequest.objects.create(person=person, date=day, kind="off", shift_type=night,
                                    priority=4)  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        ShiftRequestPeriod.objects.create(
            start_date=day, end_date=day - DAY, deadline=timezone.now()
        )


def test_periods_do_not_overlap(period):
    with pytest.raises(RuleViolation, match="overlaps"):
        requests.shift_request_period_create(
            start_date=period.end_date, end_date=period.end_date + 3 * DAY, deadline=timezone.now()
        )
    with pytest.raises(RuleViolation, match="end date"):
        requests.shift_request_period_create(
            start_date=period.end_date + 9 * DAY,
            end_date=period.end_date + 8 * DAY,
            deadline=timezone.now(),
        )
    assert ShiftRequestPeriod.objects.count() == 1


def test_withdrawing_someone_elses_or_a_missing_request_does_nothing(period):
    person, other = PersonFactory(), PersonFactory()
    theirs = ask(other, period.start_date)
    assert requests.shift_request_delete(person=person, request_id=theirs.pk) is False
    assert requests.shift_request_delete(person=person, request_id=10**9) is False
    assert ShiftRequest.objects.filter(pk=theirs.pk).exists()


def test_current_periods_and_a_persons_requests_by_period(period):
    closed = open_period(days_ahead=14 + 28, deadline_in=-datetime.timedelta(hours=1))
    past = requests.shift_request_period_create(
        start_date=timezone.localdate() - 40 * DAY,
        end_date=timezone.localdate() - 10 * DAY,
        deadline=timezone.now() - 50 * DAY,
    )
    person = PersonFactory()
    mine = ask(person, period.start_date)
    ShiftRequest.objects.create(person=person, date=closed.start_date, kind="off")
    ShiftRequest.objects.create(person=person, date=past.start_date, kind="off")
    ask(PersonFactory(), period.start_date)
    current = requests.shift_request_periods_current()
    assert current == [period, closed]
    assert [p.is_open for p in current] == [True, False]
    by_period = requests.shift_requests_of(person=person, periods=current)
    assert [r.pk for r in by_period[period.pk]] == [mine.pk]
    assert [r.date for r in by_period[closed.pk]] == [closed.start_date]


# -- honoured or not: a pure function over requests and a roster --------------------------------


def request(person_id, day, kind, type_id=None, priority=2):
    return ShiftRequest(person_id=person_id, date=day, kind=kind, shift_type_id=type_id,
                        priority=priority)  # fmt: skip


D0 = datetime.date(2041, 1, 6)


@pytest.mark.parametrize(
    ("req", "rows", "honoured"),
    [
        # Day off: no shift at all that day (another day's shift does not matter).
        (request(1, D0, "off"), [(1, D0 + DAY, 5)], True),
        (request(1, D0, "off"), [(1, D0, 5)], False),
        (request(1, D0, "off"), [(2, D0, 5)], True),  # someone else works
        # Not this shift: any other shift that day is fine.
        (request(1, D0, "off", 5), [(1, D0, 6)], True),
        (request(1, D0, "off", 5), [(1, D0, 5)], False),
        # This shift: exactly that type that day, for that person.
        (request(1, D0, "on", 5), [(1, D0, 5)], True),
        (request(1, D0, "on", 5), [(1, D0, 6)], False),
        (request(1, D0, "on", 5), [(1, D0 + DAY, 5)], False),
        (request(1, D0, "on", 5), [(2, D0, 5)], False),
        (request(1, D0, "on", 5), [], False),
    ],
)
def test_honoured(req, rows, honoured):
    assert requests.shift_requests_honoured(requests=[req], rows=rows) == [(req, honoured)]


def test_honoured_keeps_the_order_and_tallies_by_person_and_weight():
    asks = [
        request(1, D0, "off", priority=1),  # broken: 1 works D0
        request(1, D0 + DAY, "on", 7, priority=3),  # honoured
        request(2, D0, "off", 7, priority=2),  # honoured: 2 works type 8
    ]
    rows = iter([(1, D0, 7), (1, D0 + DAY, 7), (2, D0, 8)])  # any iterable, read once
    outcomes = requests.shift_requests_honoured(requests=asks, rows=rows)
    assert [honoured for _, honoured in outcomes] == [False, True, True]
    assert [r for r, _ in outcomes] == asks
    tally = requests.shift_requests_tally(outcomes=outcomes)
    assert (tally[1].asked, tally[1].honoured) == (2, 1)
    assert (tally[1].weight_asked, tally[1].weight_honoured) == (
        REQUEST_WEIGHTS[1] + REQUEST_WEIGHTS[3],
        REQUEST_WEIGHTS[3],
    )
    assert tally[1].share == pytest.approx(1 / 11)
    assert tally[2].share == 1.0
    assert REQUEST_WEIGHTS[1] > REQUEST_WEIGHTS[2] > REQUEST_WEIGHTS[3] > 0
