from django.core.management.base import BaseCommand, CommandError

from residency.models import AcademicYear
from scheduling.validator import schedule_validate


class Command(BaseCommand):
    help = "List every rule the schedule of an academic year breaks (exit status 1 if any)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("year", help="The academic year's label, e.g. 2026-27.")

    def handle(self, *args, year: str, **options) -> None:
        academic_year = AcademicYear.objects.filter(label=year).first()
        if academic_year is None:
            raise CommandError(f"No academic year labelled {year!r}.")
        violations = schedule_validate(academic_year=academic_year)
        for violation in violations:
            self.stdout.write(str(violation))
        if violations:
            raise CommandError(f"{len(violations)} violation(s) in {academic_year}.")
        self.stdout.write(f"0 violation(s) in {academic_year}.")
