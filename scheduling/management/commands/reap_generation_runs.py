from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from scheduling.services import generation_runs_reap


class Command(BaseCommand):
    help = "Mark failed the generation runs whose worker died (lock expired, rq job gone)."

    def handle(self, *args, **options) -> None:
        try:
            reaped = generation_runs_reap()
        except RedisError as error:
            # Without Redis nobody can tell which runs are dead: nothing was reaped.
            raise CommandError(
                f"Nothing reaped: the job queue (Redis) is unavailable: {error}"
            ) from error
        self.stdout.write(f"Reaped {len(reaped)} run(s): {', '.join(map(str, reaped)) or '-'}")
