"""How dates, moments and hours read in the duty-hour engine's messages and on pages: one
wording everywhere ("4 Jul 2026", "1 Jul - 28 Jul 2026", "80.5")."""

from __future__ import annotations

import datetime
from fractions import Fraction


def fmt_hours(hours: float | Fraction) -> str:
    """80 -> "80", 86.5 -> "86.5", 13.9833 -> "14" (one decimal at most)."""
    text = f"{float(hours):.1f}"
    return text[:-2] if text.endswith(".0") else text


def fmt_day(day: datetime.date) -> str:
    return f"{day.day} {day:%b %Y}"


def fmt_span(start: datetime.date, end: datetime.date) -> str:
    if start.year == end.year:
        return f"{start.day} {start:%b} - {end.day} {end:%b %Y}"
    return f"{fmt_day(start)} - {fmt_day(end)}"


def fmt_moment(moment: datetime.datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y} {moment:%H:%M}"
