from django.core.management.base import BaseCommand, CommandError

from residency.models import AcademicYear
from shifts.validator import shifts_validate_year


class Command(BaseCommand):
    help = (
        "List every coverage, eligibility and duty-hour rule the shifts of an academic year "
        "break (exit status 1 if any)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("year", help="The academic year's label, e.g. 2026-27.")

    def handle(self, *args, year: str, **options) -> None:
        academic_year = AcademicYear.objects.filter(label=year).first()
        if academic_year is None:
            raise CommandError(f"No academic year labelled {year!r}.")
        violations = shifts_validate_year(academic_year=academic_year)
        for violation in violations:
            self.stdout.write(str(violation))
        self.stdout.write(f"{len(violations)} violation(s) in the shifts of {academic_year}.")
        if violations:
            raise SystemExit(1)
