"""Pages (/generation/), the JSON API (/api/generation-runs) and the admin actions."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rq.job import Job, JobStatus

from scheduling import services
from scheduling.models import GenerationRun
from tests.factories import BlockFactory, GenerationRunFactory

pytestmark = pytest.mark.django_db
Status = GenerationRun.Status


@pytest.fixture
def year():
    return BlockFactory().academic_year


@pytest.fixture
def running(year, redis_conn):
    """A run a live worker is solving: it holds the year's Redis lock (so it is not reaped)."""
    run = GenerationRunFactory(academic_year=year, status=Status.RUNNING)
    redis_conn.set(services.lock_name(year.pk), services.lock_token(run.pk), ex=60)
    return run


@pytest.fixture
def coordinator_client(client, coordinator):
    client.force_login(coordinator)
    return client


def test_pages_are_for_coordinators_only(client, resident, year):
    assert client.get("/generation/").status_code == 302  # to the login page
    client.force_login(resident.user)
    assert client.get("/generation/").status_code == 403
    run = GenerationRunFactory(academic_year=year)
    assert client.get(f"/generation/runs/{run.pk}/").status_code == 403
    assert client.post(f"/generation/runs/{run.pk}/cancel/").status_code == 403


def test_start_form_queues_a_run_and_shows_it(coordinator_client, year, coordinator):
    response = coordinator_client.post(
        "/generation/", {"academic_year": year.pk, "time_limit_seconds": 15, "seed": 3}
    )
    run = GenerationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/generation/runs/{run.pk}/"
    assert (run.status, run.requested_by, run.parameters["time_limit_seconds"]) == (
        Status.QUEUED,
        coordinator,
        15,
    )
    page = coordinator_client.get(response["Location"])
    assert b'<progress id="run-progress"' in page.content
    assert f"/api/generation-runs/{run.pk}".encode() in page.content


def test_start_form_rerenders_with_the_error(coordinator_client, year):
    response = coordinator_client.post("/generation/", {"academic_year": year.pk, "first_block": 1})
    assert response.status_code == 400
    assert "Give both the first and the last block, or neither." in response.content.decode()
    response = coordinator_client.post(
        "/generation/", {"academic_year": year.pk, "first_block": 1, "last_block": 5}
    )
    assert response.status_code == 422
    assert f"{year} has no block 5." in response.content.decode()
    assert not GenerationRun.objects.exists()


def test_start_while_one_runs_redirects_to_it(coordinator_client, year, running):
    response = coordinator_client.post("/generation/", {"academic_year": year.pk})
    assert response["Location"] == f"/generation/runs/{running.pk}/"
    assert GenerationRun.objects.count() == 1


def test_cancel_button(coordinator_client, year):
    run = GenerationRunFactory(academic_year=year)
    response = coordinator_client.post(f"/generation/runs/{run.pk}/cancel/", follow=True)
    assert "Cancelled before it started." in response.content.decode()
    run.refresh_from_db()
    assert run.status == Status.CANCELLED


def test_api_requires_a_coordinator(client, resident, year):
    run = GenerationRunFactory(academic_year=year)
    assert client.get(f"/api/generation-runs/{run.pk}").status_code == 401
    client.force_login(resident.user)
    assert client.get(f"/api/generation-runs/{run.pk}").status_code == 403
    response = client.post(
        "/api/generation-runs", {"academic_year": year.pk}, content_type="application/json"
    )
    assert response.status_code == 403
    assert client.post(f"/api/generation-runs/{run.pk}/cancel").status_code == 403
    assert not GenerationRun.objects.exclude(pk=run.pk).exists()


def test_api_start_progress_and_cancel(coordinator_client, year, redis_conn):
    response = coordinator_client.post(
        "/api/generation-runs",
        {"academic_year": year.pk, "time_limit_seconds": 5},
        content_type="application/json",
    )
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/generation-runs/{body['id']}"
    assert (body["status"], body["progress"], body["parameters"]["time_limit_seconds"]) == (
        "queued",
        0,
        5,
    )
    GenerationRun.objects.filter(pk=body["id"]).update(
        status=Status.RUNNING, progress=42, progress_message="3 schedule(s) found"
    )
    # ...on a worker (rq says so; the run page fails a run whose rq job is gone).
    job = Job.create("scheduling.jobs.generation_run_job", id=f"generation-run-{body['id']}",
                     connection=redis_conn)  # fmt: skip
    job.save()
    job.set_status(JobStatus.STARTED)
    redis_conn.set(services.lock_name(year.pk), services.lock_token(body["id"]), ex=30)
    detail = coordinator_client.get(f"/api/generation-runs/{body['id']}").json()
    assert (detail["status"], detail["progress"], detail["message"]) == (
        "running",
        42,
        "3 schedule(s) found",
    )
    first = coordinator_client.post(f"/api/generation-runs/{body['id']}/cancel")
    second = coordinator_client.post(f"/api/generation-runs/{body['id']}/cancel")
    assert (first.status_code, first.json()["status"]) == (200, "cancelling")
    assert second.json()["detail"] == "Already being cancelled."


def test_api_bad_input_and_unknown_runs(coordinator_client, year):
    response = coordinator_client.post(
        "/api/generation-runs", {"academic_year": 0}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "academic_year" in response.json()["errors"]
    response = coordinator_client.post(
        "/api/generation-runs", b"not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert coordinator_client.get("/api/generation-runs/999999").status_code == 404
    assert coordinator_client.post("/api/generation-runs/999999/cancel").status_code == 404


def test_api_409_links_to_the_running_run(coordinator_client, year, running):
    response = coordinator_client.post(
        "/api/generation-runs", {"academic_year": year.pk}, content_type="application/json"
    )
    assert response.status_code == 409
    assert response.json()["running_run"]["url"] == f"/generation/runs/{running.pk}/"


def test_finished_run_page_has_no_cancel_button(coordinator_client, year):
    run = GenerationRunFactory(
        academic_year=year, status=Status.FAILED, finished_at=timezone.now(), error="- ICU rule"
    )
    page = coordinator_client.get(f"/generation/runs/{run.pk}/").content.decode()
    assert "- ICU rule" in page
    assert 'id="run-cancel"' not in page


def test_admin_schedules_actions(client, year, coordinator):
    client.force_login(coordinator)  # a coordinator without model permissions
    url = "/admin/scheduling/scheduleyear/"
    assert client.get(url).status_code == 200

    response = client.post(url, {"action": "validate", "_selected_action": [year.pk]}, follow=True)
    assert f"{year}: no violations." in response.content.decode()

    response = client.post(url, {"action": "generate", "_selected_action": [year.pk]}, follow=True)
    run = GenerationRun.objects.get()
    assert f"Generation #{run.pk} for {year} queued." in response.content.decode()

    response = client.post(
        "/admin/scheduling/generationrun/",
        {"action": "cancel_runs", "_selected_action": [run.pk]},
        follow=True,
    )
    assert f"#{run.pk}: Cancelled before it started." in response.content.decode()

    # Shifts need a period: the action opens the coordinators' form for the chosen year.
    response = client.post(url, {"action": "generate_shifts", "_selected_action": [year.pk]})
    assert response.status_code == 302
    assert response["Location"] == f"/generation/shifts/?academic_year={year.pk}"
    form = client.get(response["Location"]).content.decode()
    assert f'<option value="{year.pk}" selected>' in form
