from django.core.management.base import BaseCommand, CommandError

from residency.errors import RotaError
from shifts.services import holidays_seed


class Command(BaseCommand):
    help = "Add a calendar year's public holidays (the program's country) to the holiday list."

    def add_arguments(self, parser) -> None:
        parser.add_argument("year", type=int)

    def handle(self, *args, year: int, **options) -> None:
        if not 1900 <= year <= 9000:
            raise CommandError("Give a year between 1900 and 9000.")
        try:
            added = holidays_seed(year=year)
        except RotaError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Added {len(added)} holiday(s) for {year}.")
