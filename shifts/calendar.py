"""Shifts in a person's calendar feed (residency.calendar): one timed event per shift, in the
program's time zone. Residency does not import shifts; this module adds itself to the feed's
sources when the app is ready."""

from __future__ import annotations

from collections.abc import Iterator

from residency.calendar import UID_DOMAIN, CalendarEvent
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
