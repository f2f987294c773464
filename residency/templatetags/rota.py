"""Template filters for plain words on user pages."""

from __future__ import annotations

from django import template
from django.core.exceptions import ObjectDoesNotExist

register = template.Library()


@register.filter
def display_name(user) -> str:
    """A login as people know it: the linked person's name, else the full name; never the
    username (half of a credential), as ``selectors.user_display_name``. Reads ``user.person``
    so a page that selected it with the row (``updated_by__person``) makes no query."""
    if user is None:
        return ""
    try:
        person = user.person
    except (ObjectDoesNotExist, AttributeError):
        person = None
    if person is not None:
        return person.name
    # Staff without a person of their own are the program's coordinators (or its admins).
    return user.get_full_name() or ("a coordinator" if user.is_staff else "a Rota user")


@register.simple_tag
def changed_by(obj) -> str:
    """ "Changed by Dr Chen on 26 Nov" from ``updated_by`` / ``updated_at``."""
    who = display_name(obj.updated_by) if obj.updated_by_id else ""
    when = obj.updated_at
    from django.utils import timezone
    from django.utils.formats import date_format

    day = date_format(timezone.localtime(when), "j M Y, H:i") if when else ""
    return f"Changed by {who} on {day}" if who else f"Changed on {day}"
