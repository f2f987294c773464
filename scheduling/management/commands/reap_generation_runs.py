from django.core.management.base import BaseCommand

from scheduling.services import generation_runs_reap


class Command(BaseCommand):
    help = "Mark failed the generation runs whose worker died (lock expired, rq job gone)."

    def handle(self, *args, **options) -> None:
        reaped = generation_runs_reap()
        self.stdout.write(f"Reaped {len(reaped)} run(s): {', '.join(map(str, reaped)) or '-'}")
