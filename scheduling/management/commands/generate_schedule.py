from django.core.management.base import BaseCommand, CommandError

from residency.errors import RotaError
from residency.models import AcademicYear
from scheduling import services
from scheduling.models import GenerationRun


class Command(BaseCommand):
    help = (
        "Generate the schedule of an academic year. Queues a run for the rq worker, or with "
        "--now runs it in this process (still taking the year's lock). The run ends with a draft "
        "to review and publish (/generation/), unless --publish publishes it at once (the same "
        "version-checked diff write)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("year", help="The academic year's label, e.g. 2026-27.")
        parser.add_argument("--first-block", type=int)
        parser.add_argument("--last-block", type=int)
        parser.add_argument("--time-limit", type=int, help="Seconds.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--workers", type=int)
        parser.add_argument("--now", action="store_true", help="Run here, not on the worker.")
        parser.add_argument(
            "--publish", action="store_true", help="Publish automatically instead of a draft."
        )

    def handle(self, *args, **options) -> None:
        year = AcademicYear.objects.filter(label=options["year"]).first()
        if year is None:
            raise CommandError(f"No academic year labelled {options['year']!r}.")
        try:
            run = services.generation_run_start(
                academic_year_id=year.pk,
                first_block=options["first_block"],
                last_block=options["last_block"],
                time_limit_seconds=options["time_limit"],
                seed=options["seed"],
                workers=options["workers"],
                auto_publish=options["publish"],
                enqueue=not options["now"],
            )
        except RotaError as error:
            raise CommandError(error.message) from error
        if not options["now"]:
            self.stdout.write(f"Generation #{run.pk} queued.")
            return
        services.generation_run_execute(run_id=run.pk)
        run.refresh_from_db()
        summary = f"Generation #{run.pk}: {run.status}. {run.progress_message}"
        if run.status != GenerationRun.Status.SUCCEEDED:
            # Cron and scripts tell by the exit status: 1, and the reason on stderr.
            raise CommandError("\n".join(filter(None, [summary, run.error])))
        self.stdout.write(summary)
