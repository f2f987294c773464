"""The reaper: marks failed the active generation runs whose worker is gone, so that a dead run
never blocks the year's next one for long (docs/scheduling.md, "The reaper"). Also the names of
the year's Redis lock, which the job (scheduling/execute.py) takes and the reaper reads."""

from __future__ import annotations

import datetime
import logging

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from scheduling.models import GenerationRun
from scheduling.notifications import generation_run_end_notify

logger = logging.getLogger(__name__)
Status = GenerationRun.Status


def _redis():
    return django_rq.get_connection("default")


def lock_name(academic_year_id: int) -> str:
    return f"rota:generation-lock:year:{academic_year_id}"


def lock_token(run_id: int) -> str:
    return f"generation-run-{run_id}"


# rq's word that a job will never (again) run the run's body.
_JOB_ENDED = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED)


def _job_status(run: GenerationRun, redis) -> str | None:
    """The run's rq job status, or None if rq has no such job."""
    try:
        return Job.fetch(run.rq_job_id, connection=redis).get_status()
    except NoSuchJobError:
        return None


def generation_runs_reap(
    *, academic_year_id: int | None = None, run_id: int | None = None
) -> list[int]:
    """Mark failed the active runs whose worker is gone:
    - a running run whose rq job rq reports failed, stopped, cancelled, finished or missing
      (a killed work-horse: rq records the failure at once, so the run page need not wait for
      the lock to expire);
    - a running run whose Redis lock is no longer held by it (expired: the worker stopped
      renewing it; the only check for runs executed in-process, which have no rq job);
    - a queued run whose rq job is missing or ended without running it (after a grace period:
      it may be mid-enqueue).
    Every mark is a conditional UPDATE on the status read, so a run that finished meanwhile is
    left as it finished."""
    redis = _redis()
    runs = GenerationRun.objects.filter(status__in=GenerationRun.ACTIVE_STATUSES)
    if academic_year_id is not None:
        runs = runs.filter(academic_year_id=academic_year_id)
    if run_id is not None:
        runs = runs.filter(pk=run_id)
    grace = timezone.now() - datetime.timedelta(seconds=settings.ROTA_GENERATION_REAP_GRACE_SECONDS)
    reaped = []
    for run in runs:
        reason = ""
        if run.status in (Status.RUNNING, Status.CANCELLING):
            job_status = _job_status(run, redis) if run.rq_job_id else JobStatus.STARTED
            if job_status is None and run.parameters.get("in_process"):
                job_status = JobStatus.STARTED  # no job by design: the lock tells
            holder = redis.get(lock_name(run.academic_year_id))
            if job_status is None or job_status in _JOB_ENDED:
                reason = (
                    f"The worker running this generation stopped (rq reports its job "
                    f"{job_status.value if job_status else 'missing'})."
                )
            elif holder != lock_token(run.pk).encode():
                reason = "The worker running this generation stopped (its lock expired)."
        elif run.created_at < grace and (
            not run.rq_job_id or _job_status(run, redis) in (None, *_JOB_ENDED)
        ):
            reason = "The queued job for this generation is gone; it never ran."
        if not reason:
            continue
        with transaction.atomic():  # the run's end and the coordinators' notice together
            if GenerationRun.objects.filter(pk=run.pk, status=run.status).update(
                status=Status.FAILED,
                finished_at=timezone.now(),
                error=reason,
                progress_message=reason,
            ):
                generation_run_end_notify(run_id=run.pk, succeeded=False, message=reason)
                logger.warning("reaped generation run %s: %s", run.pk, reason)
                reaped.append(run.pk)
    return reaped
