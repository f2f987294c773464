"""Shifts appear in the person's private calendar feed as timed events with stable UIDs."""

from __future__ import annotations

import datetime
import zoneinfo

import icalendar
import pytest
from django.test import Client

from shifts import services
from tests.factories import ShiftFactory, ShiftTypeFactory
from tests.residency.test_calendar_feed import events, subscribe

pytestmark = pytest.mark.django_db


def test_feed_lists_shifts_as_timed_events_that_update_in_place(resident, settings):
    call = ShiftTypeFactory(name="Ward call", start_time=datetime.time(17, 0), length_hours=14)
    shift = ShiftFactory(person=resident, shift_type=call, date=datetime.date(2040, 7, 2))
    url = subscribe(resident)
    client = Client()  # the feed is read by calendar apps: the token is the credential

    feed = events(client.get(url).content)
    event = feed[f"shift-{shift.pk}@rota.invalid"]
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    assert str(event["SUMMARY"]) == "Ward call (in house)"
    assert event.decoded("DTSTART") == datetime.datetime(2040, 7, 2, 17, 0, tzinfo=zone)
    assert event.decoded("DTEND") == datetime.datetime(2040, 7, 3, 7, 0, tzinfo=zone)
    assert int(event["SEQUENCE"]) == shift.version

    # An edit keeps the UID and raises SEQUENCE, so calendar apps update the event.
    services.shift_update(shift_id=shift.pk, version=shift.version, by=None, notes="swap later")
    again = events(client.get(url).content)[f"shift-{shift.pk}@rota.invalid"]
    assert int(again["SEQUENCE"]) == shift.version + 1
    assert str(again["DESCRIPTION"]) == "swap later"
    assert isinstance(icalendar.Calendar.from_ical(client.get(url).content), icalendar.Calendar)


def test_my_schedule_lists_the_next_two_weeks_of_shifts(resident):
    from django.utils import timezone

    from tests.residency.editing_support import client_for

    today = timezone.localdate()
    call = ShiftTypeFactory(name="Ward call", start_time=datetime.time(17, 0), length_hours=14)
    ShiftFactory(person=resident, shift_type=call, date=today + datetime.timedelta(days=1))
    ShiftFactory(person=resident, shift_type=call, date=today + datetime.timedelta(days=20))
    page = client_for(resident.user).get("/schedule/").content.decode()
    assert "Coming up: shifts and calls" in page
    tomorrow = today + datetime.timedelta(days=1)
    assert f"{tomorrow:%a} {tomorrow.day} {tomorrow:%b}, 17:00: Ward call (14 h)" in page
    assert page.count("Ward call (14 h)") == 1  # the one in 20 days is beyond the fortnight
