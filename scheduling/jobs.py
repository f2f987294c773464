"""rq entry points: thin, they take ids and call a service."""

from scheduling import services


def generation_run_job(run_id: int) -> None:
    services.generation_run_execute(run_id=run_id)
