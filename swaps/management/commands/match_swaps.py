from django.core.management.base import BaseCommand, CommandError

from residency.errors import RotaError
from residency.models import AcademicYear
from swaps.services import swap_requests_match


class Command(BaseCommand):
    help = (
        "Execute pending swap requests that satisfy each other (the auto-matcher). Exits 1 if "
        "the matcher could not run (unknown year, schedule busy); requests it refused are "
        "listed but are an answer, not a failure."
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, help="Only this academic year (its id).")

    def handle(self, *args, year=None, **options):
        if year is not None and not AcademicYear.objects.filter(pk=year).exists():
            raise CommandError(f"No academic year with id {year}.")
        try:
            report = swap_requests_match(academic_year_id=year)
        except RotaError as error:
            raise CommandError(f"The swap matcher did not run: {error.message}") from error
        self.stdout.write(report.summary())
