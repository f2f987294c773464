from django.apps import AppConfig


def _seed_demo_shifts(sender, summary, today, **kwargs) -> None:
    from shifts.demo import demo_shifts_seed

    for what, count in demo_shifts_seed(year=summary.year, today=today).items():
        summary.created[what] += count


class ShiftsConfig(AppConfig):
    name = "shifts"
    verbose_name = "Shifts and duty hours"

    def ready(self) -> None:
        from residency.signals import demo_program_seeded

        demo_program_seeded.connect(_seed_demo_shifts, dispatch_uid="rota_shifts_demo")

        from residency.hooks import block_change_guard_register
        from shifts.services import block_changes_guard

        block_change_guard_register("shifts", block_changes_guard)

        # Shifts in the personal calendar feed (once, however often ready() runs).
        from residency.calendar import CALENDAR_EVENT_SOURCES
        from residency.hooks import upcoming_source_register
        from shifts.calendar import shift_events, upcoming_shifts

        if shift_events not in CALENDAR_EVENT_SOURCES:
            CALENDAR_EVENT_SOURCES.append(shift_events)
        upcoming_source_register("shifts", upcoming_shifts)
