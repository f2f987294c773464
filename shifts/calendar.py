"""Shifts in a person's calendar feed (residency.calendar: one timed event per shift, in the
program's time zone) and in "Coming up" on their schedule page (residency.hooks). Residency
does not import shifts; the app registers both when it is ready."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.utils import timezone

from residency.calendar import UID_DOMAIN, CalendarEvent
from residency.hooks import UpcomingItem
from residency.models import Person
from shifts.models import Shift


def shift_events(*, person: Person) -> Iterator[CalendarEvent]:
    rows = Shift.objects.filter(person=person).select_related("shift_type").order_by("starts_at")
    for shift in rows:
        where = "in house" if shift.shift_type.in_house else "from home"
        yield CalendarEvent(
            uid=f"shift-{shift.pk}@{UID_DOMAIN}",
            summary=f"{shift.shift_type.name} ({where})",
            start=shift.starts_at,
            end=shift.ends_at,
            description=shift.notes,
            sequence=shift.version,
        )


UPCOMING_DAYS = 14


def upcoming_shifts(*, person: Person, today: datetime.date) -> list[UpcomingItem]:
    """The person's shifts from today for two weeks, for "Coming up" on their schedule page."""
    rows = (
        Shift.objects.filter(
            person=person, date__gte=today, date__lt=today + datetime.timedelta(UPCOMING_DAYS)
        )
        .select_related("shift_type")
        .order_by("starts_at")
    )
    return [
        UpcomingItem(
            when=shift.starts_at,
            text=f"{timezone.localtime(shift.starts_at):%a %-d %b, %H:%M}: {shift.shift_type.name}"
            f" ({float(shift.shift_type.length_hours):g} h)",
            url=f"/shifts/calendar/?month={shift.date:%Y-%m}",
        )
        for shift in rows
    ]
