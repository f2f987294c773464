"""Signals residency sends so that apps depending on it can add to its work without residency
importing them (dependencies point one way: see docs/architecture.md)."""

from django.dispatch import Signal

# Sent by ``manage.py seed_demo`` after the demo program is seeded, with ``summary`` (a
# residency.demo.DemoSummary) and ``today``. Receivers add their own demo data (shifts adds the
# call system) and count what they created in ``summary.created``.
demo_program_seeded = Signal()
