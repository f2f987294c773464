"""The private calendar feed: token lifecycle, events parsed back with icalendar, stable UIDs."""

from __future__ import annotations

import datetime
import zoneinfo

import icalendar
import pytest
from django.test import Client

from residency import calendar
from residency.calendar import CalendarEvent
from residency.models import Person
from residency.services import assignment_update
from tests.factories import AbsenceFactory, AssignmentFactory, BlockFactory, RotationTemplateFactory
from tests.residency.editing_support import client_for

pytestmark = pytest.mark.django_db


def subscribe(person) -> str:
    client = client_for(person.user)
    assert b"Get my calendar address" in client.get("/schedule/").content
    response = client.post("/schedule/calendar/new/")
    assert response.status_code == 302 and response.url == "/schedule/#calendar"
    person.refresh_from_db()
    assert person.calendar_token and len(person.calendar_token) >= 40
    page = client.get("/schedule/").content.decode()
    url = f"/calendar/{person.calendar_token}.ics"
    assert f"http://testserver{url}" in page  # the "Subscribe in your calendar" box
    return url


def events(body: bytes) -> dict[str, icalendar.Event]:
    cal = icalendar.Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_feed_has_rotations_and_absences_as_all_day_events(resident, settings):
    block = BlockFactory()
    rotation = RotationTemplateFactory(name="Night Float")
    mine = AssignmentFactory(person=resident, block=block, rotation=rotation, notes="bring coffee")
    AssignmentFactory(block=block, rotation=rotation)  # someone else's: not in my feed
    away = AbsenceFactory(person=resident, start_date=block.start_date, end_date=block.start_date)
    AbsenceFactory(start_date=block.start_date)  # someone else's absence
    url = subscribe(resident)

    response = Client().get(url)  # no login: the token is the credential
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(response.content)
    assert str(cal["X-WR-TIMEZONE"]) == settings.TIME_ZONE
    found = events(response.content)
    assert set(found) == {f"assignment-{mine.pk}@rota.invalid", f"absence-{away.pk}@rota.invalid"}
    rotation_event = found[f"assignment-{mine.pk}@rota.invalid"]
    assert str(rotation_event["SUMMARY"]) == "Night Float"
    assert rotation_event["DTSTART"].dt == block.start_date  # a date: an all-day event
    assert not isinstance(rotation_event["DTSTART"].dt, datetime.datetime)
    assert rotation_event["DTEND"].dt == block.end_date + datetime.timedelta(days=1)
    assert "bring coffee" in str(rotation_event["DESCRIPTION"])
    absence_event = found[f"absence-{away.pk}@rota.invalid"]
    assert str(absence_event["SUMMARY"]) == "Vacation"
    assert absence_event["DTEND"].dt == block.start_date + datetime.timedelta(days=1)


def test_uids_are_stable_and_an_edit_raises_the_sequence(resident, coordinator):
    block = BlockFactory()
    a = AssignmentFactory(person=resident, block=block)
    url = subscribe(resident)
    first = events(Client().get(url).content)
    assignment_update(assignment_id=a.pk, version=a.version, by=coordinator, notes="changed")
    second = events(Client().get(url).content)
    uid = f"assignment-{a.pk}@rota.invalid"
    assert set(first) == set(second) == {uid}
    assert int(second[uid]["SEQUENCE"]) == int(first[uid]["SEQUENCE"]) + 1


def test_a_new_address_revokes_the_old_one(resident):
    old = subscribe(resident)
    assert Client().get(old).status_code == 200
    client = client_for(resident.user)
    client.post("/schedule/calendar/new/")
    resident.refresh_from_db()
    new = f"/calendar/{resident.calendar_token}.ics"
    assert new != old
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200
    assert Client().get("/calendar/guess.ics").status_code == 404


def test_someone_without_a_person_cannot_make_a_feed(coordinator):
    response = client_for(coordinator).post("/schedule/calendar/new/")
    assert response.status_code == 403
    assert not Person.objects.exclude(calendar_token=None).exists()


def test_timed_events_carry_the_program_time_zone(resident, monkeypatch, settings):
    """Shifts will be timed events: they are written in the program's zone with a VTIMEZONE."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = datetime.datetime(2040, 7, 3, 19, 0, tzinfo=zone)

    def shift_events(*, person):
        yield CalendarEvent(
            uid="shift-1@rota.invalid",
            summary="Night call",
            start=start.astimezone(datetime.UTC),
            end=start.astimezone(datetime.UTC) + datetime.timedelta(hours=12),
        )

    monkeypatch.setattr(calendar, "CALENDAR_EVENT_SOURCES", [shift_events])
    cal = icalendar.Calendar.from_ical(calendar.calendar_for_person(person=resident))
    event = next(iter(cal.walk("VEVENT")))
    assert event["DTSTART"].dt == start and event["DTSTART"].params["TZID"] == settings.TIME_ZONE
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == [settings.TIME_ZONE]
