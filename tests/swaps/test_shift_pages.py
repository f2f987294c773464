"""Shift-trade and sick-call pages through the test client: the builder offers only legal
trades, confirmation before sending or taking, refusals shown, coordinators only for sick calls,
bad input is a 400/404 and never a 500."""

import pytest
from django.contrib.messages import get_messages

from shifts.models import Shift, SickCall
from swaps import services
from swaps.models import SwapRequest
from tests.factories import PASSWORD
from tests.swaps.conftest import fresh
from tests.swaps.shift_support import DAY, MONDAY, day_type, heavy_month, make_program, shift

pytestmark = pytest.mark.django_db
SATURDAY = MONDAY + 5 * DAY


@pytest.fixture
def program(db):
    return make_program()


def login(client, person_or_user):
    user = getattr(person_or_user, "user", person_or_user)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_builder_lists_only_legal_trades_then_confirm_and_send(client, program):
    ann, bob, rita = (program.resident(n) for n in ("Ann", "Bob", "Rita"))
    heavy_month(rita)
    mine = shift(ann, day_type("S12", 12), SATURDAY)
    login(client, ann)
    page = client.get(f"/swaps/shifts/{mine.pk}/trade/").content.decode()
    assert f"counterpart={bob.pk}" in page and f"counterpart={rita.pk}" not in page
    confirm = client.get(
        f"/swaps/shifts/{mine.pk}/trade/confirm/?kind=give_away&counterpart={bob.pk}"
    )
    assert confirm.status_code == 200 and "you get nothing back" in confirm.content.decode()
    assert not SwapRequest.objects.exists()  # nothing sent before confirming
    sent = client.post(
        f"/swaps/shifts/{mine.pk}/trade/confirm/", {"kind": "give_away", "counterpart": bob.pk}
    )
    assert sent.status_code == 302
    swap = SwapRequest.objects.get()
    assert (swap.unit, swap.counterpart) == ("shift", bob)


def test_confirm_refused_shows_the_reason_and_keeps_nothing(client, program):
    ann, rita = program.resident("Ann"), program.resident("Rita")
    heavy_month(rita)
    mine = shift(ann, day_type("S12", 12), SATURDAY)
    login(client, ann)
    response = client.post(
        f"/swaps/shifts/{mine.pk}/trade/confirm/", {"kind": "give_away", "counterpart": rita.pk}
    )
    assert response.status_code == 422 and "80.5" in response.content.decode()
    assert not SwapRequest.objects.exists()


def test_pool_take_confirmation_then_take(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    mine = shift(ann, day_type("D8", 8))
    offer = services.shift_swap_request_create(requester=ann, kind="open", offered_shift_id=mine.pk)
    login(client, bob)
    assert f"/swaps/shifts/pool/{offer.pk}/take/" in client.get("/swaps/shifts/").content.decode()
    assert client.get(f"/swaps/shifts/pool/{offer.pk}/take/").status_code == 200
    assert fresh(mine).person == ann
    response = client.post(f"/swaps/shifts/pool/{offer.pk}/take/")
    assert response.status_code == 302 and "You took" in texts(response)[0]
    assert fresh(mine).person == bob
    again = client.post(f"/swaps/shifts/pool/{offer.pk}/take/")
    assert "already been taken" in texts(again)[-1]


def test_someone_elses_shift_and_bad_input(client, program):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    mine = shift(ann, day_type("D8", 8))
    login(client, bob)
    assert client.get(f"/swaps/shifts/{mine.pk}/trade/").status_code == 404
    login(client, ann)
    base = f"/swaps/shifts/{mine.pk}/trade/confirm/"
    assert client.get(base + "?kind=nonsense").status_code == 400
    for data in (
        {"kind": "give_away", "counterpart": "x"},
        {"kind": "one_to_one", "wanted": "99999999"},
        {"kind": "give_away", "counterpart": "²"},
        {"kind": "open", "counterpart": str(bob.pk)},
    ):
        assert client.post(base, data).status_code in (400, 404, 422), data
    assert Shift.objects.get().person == ann


def test_sick_call_pages_for_coordinators(client, program, coordinator):
    ann, bob = program.resident("Ann"), program.resident("Bob")
    sick = shift(ann, day_type("C", 8))
    login(client, bob)
    assert client.get("/swaps/sick-calls/").status_code == 404
    login(client, coordinator)
    calendar = client.get("/shifts/calendar/?month=2040-07").content.decode()
    assert "uncovered by sick calls" not in calendar  # not an alarm reading "0 uncovered"
    assert '<a href="/swaps/sick-calls/">Sick calls</a>' in calendar
    calls = client.get("/swaps/sick-calls/").content.decode()
    assert "uncovered shift" not in calls and "No sick call is waiting for cover." in calls
    response = client.post(
        "/swaps/sick-calls/", {"person": ann.pk, "date": MONDAY.isoformat(), "note": "flu"}
    )
    call = SickCall.objects.get()
    assert response.status_code == 302 and response.url == f"/swaps/sick-calls/{call.pk}/"
    calendar = client.get("/shifts/calendar/?month=2040-07").content.decode()
    assert "1 uncovered by sick calls" in calendar and " sick" in calendar
    calls = client.get("/swaps/sick-calls/").content.decode()
    assert "1 uncovered shift<" in calls and "No sick call is waiting" not in calls
    page = client.get(f"/swaps/sick-calls/{call.pk}/").content.decode()
    assert "Assign Bob" in page
    client.post(f"/swaps/sick-calls/{call.pk}/", {"action": "post", "bonus": "Pizza"})
    assert SwapRequest.objects.get().message == "Pizza"
    done = client.post(f"/swaps/sick-calls/{call.pk}/", {"action": "assign", "person": bob.pk})
    assert done.status_code == 302 and fresh(sick).person == bob
    assert client.post(f"/swaps/sick-calls/{call.pk}/", {"action": "bogus"}).status_code == 400
    assert client.post("/swaps/sick-calls/", {"person": "x", "date": "no"}).status_code == 400
