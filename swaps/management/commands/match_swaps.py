from django.core.management.base import BaseCommand

from swaps.services import swap_requests_match


class Command(BaseCommand):
    help = "Execute pending swap requests that satisfy each other (the auto-matcher)."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, help="Only this academic year (its id).")

    def handle(self, *args, year=None, **options):
        report = swap_requests_match(academic_year_id=year)
        self.stdout.write(report.summary())
