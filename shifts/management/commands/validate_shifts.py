import datetime
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from residency.models import AcademicYear
from shifts.formatting import fmt_day
from shifts.validator import RULES, shifts_validate


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = (
        "List every coverage, eligibility and duty-hour rule the shifts of an academic year "
        "(or of a period within it) break, with a count per rule (exit status 1 if any)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("year", help="The academic year's label, e.g. 2026-27.")
        parser.add_argument(
            "--from", dest="start", help="First day to check (YYYY-MM-DD; default: the year's)."
        )
        parser.add_argument(
            "--to", dest="end", help="Last day to check (YYYY-MM-DD; default: the year's)."
        )

    def handle(self, *args, year: str, start: str | None, end: str | None, **options) -> None:
        academic_year = AcademicYear.objects.filter(label=year).first()
        if academic_year is None:
            raise CommandError(f"No academic year labelled {year!r}.")
        first = _date(start) if start else academic_year.start_date
        last = _date(end) if end else academic_year.end_date
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}.")
        if first < academic_year.start_date or last > academic_year.end_date:
            raise CommandError(
                f"{academic_year} runs from {academic_year.start_date} to "
                f"{academic_year.end_date}; {first} to {last} is not within it."
            )
        violations = shifts_validate(start=first, end=last)
        for violation in violations:
            self.stdout.write(str(violation))
        # The total alone hides what kind of trouble it is: a year whose later months have no
        # shifts yet is all coverage findings, which a coordinator reads differently from
        # duty-hour ones.
        per_rule = Counter(violation.rule for violation in violations)
        counts = ", ".join(f"{per_rule[rule]} {label}" for rule, label in RULES.items())
        self.stdout.write(
            f"{len(violations)} violation(s) in the shifts of {academic_year}, "
            f"{fmt_day(first)} to {fmt_day(last)} ({counts})."
        )
        if violations:
            raise SystemExit(1)
