from django.core.management.base import BaseCommand, CommandError

from residency.errors import RotaError
from scheduling import services


class Command(BaseCommand):
    help = (
        "Publish a generation run's draft (all or nothing, only where the rows are still as the "
        "run read them), or discard it with --discard."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--discard", action="store_true")

    def handle(self, *args, **options) -> None:
        try:
            if options["discard"]:
                run, message = services.generation_run_discard(run_id=options["run_id"])
                self.stdout.write(f"Generation #{run.pk}: {message}")
                return
            run = services.generation_run_publish(run_id=options["run_id"])
        except RotaError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Generation #{run.pk}: {run.progress_message}")
