"""A person's private iCalendar feed: their rotations and absences as all-day events.

Events come from the functions in ``CALENDAR_EVENT_SOURCES``, each yielding ``CalendarEvent``s
for one person; another kind of event (shifts) is one more function in that list. UIDs are
derived from the row's primary key, so a calendar app that re-reads the feed updates an event
instead of adding a duplicate, and SEQUENCE is the row's version where it has one.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import icalendar
from django.conf import settings
from django.utils import timezone

from residency.models import Absence, Assignment, Person

UID_DOMAIN = "rota.invalid"  # any fixed domain: UIDs only need to be globally unique and stable


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    summary: str
    start: datetime.date | datetime.datetime  # a date: an all-day event
    end: datetime.date | datetime.datetime  # exclusive, as iCalendar wants for DTEND
    description: str = ""
    sequence: int = 0


def rotation_events(*, person: Person) -> Iterator[CalendarEvent]:
    rows = (
        Assignment.objects.filter(person=person)
        .select_related("block", "block__academic_year", "rotation")
        .order_by("block__start_date")
    )
    for a in rows:
        block = a.block
        role = "" if a.role == Assignment.Role.PRIMARY else f" ({a.get_role_display().lower()})"
        yield CalendarEvent(
            uid=f"assignment-{a.pk}@{UID_DOMAIN}",
            summary=f"{a.rotation.name}{role}",
            start=block.start_date,
            end=block.end_date + datetime.timedelta(days=1),
            description=f"Block {block.number} of {block.academic_year}."
            + (f"\n{a.notes}" if a.notes else ""),
            sequence=a.version,
        )


def absence_events(*, person: Person) -> Iterator[CalendarEvent]:
    rows = Absence.objects.filter(
        person=person, status__in=[Absence.Status.APPROVED, Absence.Status.REQUESTED]
    ).order_by("start_date")
    for absence in rows:
        pending = "" if absence.status == Absence.Status.APPROVED else " (requested)"
        yield CalendarEvent(
            uid=f"absence-{absence.pk}@{UID_DOMAIN}",
            summary=f"{absence.get_kind_display()}{pending}",
            start=absence.start_date,
            end=absence.end_date + datetime.timedelta(days=1),
            description=absence.note,
        )


CALENDAR_EVENT_SOURCES: list[Callable[..., Iterator[CalendarEvent]]] = [
    rotation_events,
    absence_events,
]


def calendar_for_person(*, person: Person) -> bytes:
    """The person's feed as an iCalendar document."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Rota//Residency schedule//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Rota: {person.name}")
    cal.add("x-wr-timezone", settings.TIME_ZONE)
    stamp = timezone.now()
    for source in CALENDAR_EVENT_SOURCES:
        for item in source(person=person):
            event = icalendar.Event()
            event.add("uid", item.uid)
            event.add("dtstamp", stamp)
            event.add("summary", item.summary)
            # Timed events (shifts) are given in the program's zone; the VTIMEZONE is added below.
            start, end = item.start, item.end
            if isinstance(start, datetime.datetime):
                start, end = start.astimezone(zone), end.astimezone(zone)
            event.add("dtstart", start)
            event.add("dtend", end)
            event.add("sequence", item.sequence)
            event.add(
                "transp", "TRANSPARENT" if not isinstance(start, datetime.datetime) else "OPAQUE"
            )
            if item.description:
                event.add("description", item.description)
            cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
