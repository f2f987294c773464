"""Shift generation on the generation-run machinery (scheduling/shift_runs.py): start checks,
one active run per year whatever its kind, the job (in-process and through a real rq worker),
the independent validator, and the run page. Publishing against concurrent edits is in
test_shift_runs_publish.py; cancellation and edits racing the solve or the publish in
test_shift_runs_races.py.

The reader (scheduling/shift_problem.py) is replaced by tests/scheduling/shift_standin.py: the
machinery is tested on its own; the week it runs over is tests/scheduling/shift_ward.py."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from residency.errors import RuleViolation
from residency.notification_models import Notification
from scheduling import services, shift_runs
from scheduling.models import GenerationRun, ShiftChange
from shifts.models import Shift
from tests.factories import AbsenceFactory, ShiftTypeFactory
from tests.scheduling import shift_standin
from tests.scheduling.shift_ward import DAY, run_changes, run_draft, run_start

# The reader (scheduling/shift_problem.py) is replaced by tests/scheduling/shift_standin.py.
pytestmark = pytest.mark.usefixtures("standin")
Status = GenerationRun.Status


# -- start -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda w: {"end": w.start - DAY}, "end"),
        (lambda w: {"start": w.year.start_date - DAY}, "start"),
        (lambda w: {"end": w.year.end_date + DAY}, "end"),
        (lambda w: {"start": w.year.start_date - 400 * DAY}, "start"),
        (lambda w: {"keep": "most"}, "keep"),
        (lambda w: {"time_limit_seconds": 3601}, "time_limit_seconds"),
        (lambda w: {"workers": 17}, "workers"),
        (lambda w: {"seed": -1}, "seed"),
        (lambda w: {"shift_type_ids": [w.nc.pk + 1000]}, "shift_types"),
        (lambda w: {"shift_type_ids": [ShiftTypeFactory(active=False).pk]}, "shift_types"),
    ],
)
def test_start_refuses_what_the_worker_could_not_use(ward, change, field):
    arguments = {"academic_year_id": ward.year.pk, "start": ward.start, "end": ward.end}
    with pytest.raises(RuleViolation) as refused:
        shift_runs.shift_generation_start(**{**arguments, **change(ward)})
    assert refused.value.field == field
    assert refused.value.status_code == 422
    assert not GenerationRun.objects.exists()


@pytest.mark.django_db
def test_start_refuses_an_unknown_year():
    with pytest.raises(RuleViolation) as refused:
        shift_runs.shift_generation_start(
            academic_year_id=987654, start=datetime.date(2040, 7, 1), end=datetime.date(2040, 7, 2)
        )
    assert refused.value.field == "academic_year"


@pytest.mark.django_db
def test_the_api_answers_422_with_the_field_and_400_for_bad_input(ward, coordinator, redis_conn):
    client = Client()
    client.force_login(coordinator)
    body = {"kind": "shifts", "academic_year": ward.year.pk, "start": str(ward.start)}
    outside = client.post(
        "/api/generation-runs",
        {**body, "end": str(ward.year.end_date + DAY)},
        content_type="application/json",
    )
    missing = client.post("/api/generation-runs", body, content_type="application/json")
    reversed_ = client.post(
        "/api/generation-runs",
        {**body, "end": str(ward.start - DAY)},
        content_type="application/json",
    )
    unknown_kind = client.post(
        "/api/generation-runs",
        {**body, "kind": "weeks", "end": str(ward.end)},
        content_type="application/json",
    )
    assert outside.status_code == 422 and list(outside.json()["errors"]) == ["end"]
    assert missing.status_code == 400 and "end" in missing.json()["errors"]
    assert reversed_.status_code == 400 and "end" in reversed_.json()["errors"]
    assert unknown_kind.status_code == 400 and "kind" in unknown_kind.json()["errors"]
    assert not GenerationRun.objects.exists()


@pytest.mark.django_db
def test_one_active_run_per_year_whatever_its_kind(ward, coordinator, redis_conn):
    shifts_run = run_start(ward, requested_by=coordinator)
    assert (shifts_run.kind, shifts_run.start_date, shifts_run.end_date) == (
        "shifts", ward.start, ward.end,
    )  # fmt: skip
    with pytest.raises(services.GenerationAlreadyRunning) as second_shifts:
        run_start(ward)
    with pytest.raises(services.GenerationAlreadyRunning) as blocks:
        services.generation_run_start(academic_year_id=ward.year.pk)
    assert second_shifts.value.run.pk == blocks.value.run.pk == shifts_run.pk

    client = Client()
    client.force_login(coordinator)
    response = client.post(
        "/api/generation-runs",
        {"kind": "shifts", "academic_year": ward.year.pk, "start": str(ward.start),
         "end": str(ward.end)},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 409
    assert response.json()["running_run"]["id"] == shifts_run.pk
    assert GenerationRun.objects.count() == 1

    # And the other way round: a blocks run holds the year against a shifts run.
    services.generation_run_cancel(run_id=shifts_run.pk)
    blocks_run = services.generation_run_start(academic_year_id=ward.year.pk)
    with pytest.raises(services.GenerationAlreadyRunning) as shifts_after:
        run_start(ward)
    assert shifts_after.value.run.pk == blocks_run.pk


@pytest.mark.django_db
def test_the_database_refuses_a_shifts_run_without_dates(ward):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationRun.objects.create(academic_year=ward.year, kind="shifts", start_date=ward.start)
    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationRun.objects.create(
            academic_year=ward.year, start_date=ward.start, end_date=ward.end
        )


# -- the job -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_job_leaves_a_draft_of_exactly_the_needed_change_and_publish_writes_it(
    ward, coordinator, redis_conn
):
    before = ward.rows()
    annes_night = ward.shift(ward.ann, ward.leave_day)
    run = run_draft(ward, requested_by=coordinator)

    assert run.status == Status.READY, run.error
    assert run.snapshot_at is not None and run.kind == "shifts"
    assert run_changes(run) == [
        ("add", "Ben", ward.leave_day, "NC", None, None),
        ("remove", "Ann", ward.leave_day, "NC", annes_night.pk, 1),
    ]
    assert (run.rows_added, run.rows_removed, run.rows_changed, run.rows_kept) == (1, 1, 0, 6)
    assert run.report == {"shifts": 7}
    assert ward.rows() == before  # a draft writes no shift

    published = services.generation_run_publish(run_id=run.pk, by=coordinator)

    assert published.status == Status.SUCCEEDED
    assert published.assignments_written == 2 and published.published_by == coordinator
    assert not Shift.objects.filter(pk=annes_night.pk).exists()
    bens = ward.shift(ward.ben, ward.leave_day)
    assert (bens.version, bens.updated_by_id) == (1, coordinator.pk)
    assert bens.starts_at.date() == ward.leave_day and bens.ends_at > bens.starts_at
    # The other six nights: not touched (same id, version, updated_at).
    untouched = [row for row in before if row[0] != annes_night.pk]
    assert [row for row in ward.rows() if row[0] != bens.pk] == untouched
    subjects = set(Notification.objects.values_list("subject", flat=True))
    assert "Your shifts changed" in subjects
    assert f"Generation run #{run.pk} succeeded" in subjects


@pytest.mark.django_db(transaction=True)
def test_a_real_rq_worker_runs_it_and_automatic_publishing_writes(
    ward, coordinator, run_worker, redis_conn
):
    run = run_start(ward, requested_by=coordinator, auto_publish=True)
    run_worker()
    run.refresh_from_db()

    assert run.status == Status.SUCCEEDED, run.error
    assert run.progress_message.startswith("Shifts published: 1 shift(s) added, 1 removed")
    assert run.fence_token is not None and run.published_at is not None
    assert sorted(
        Shift.objects.filter(date=ward.leave_day).values_list("person__name", flat=True)
    ) == ["Ben"]
    assert Shift.objects.filter(person=ward.ann).count() == 6
    assert not redis_conn.exists(services.lock_name(ward.year.pk))


@pytest.mark.django_db(transaction=True)
def test_nothing_to_change_succeeds_writing_nothing(ward, redis_conn):
    Shift.objects.filter(date=ward.leave_day).update(person=ward.ben)
    before = ward.rows()
    run = run_draft(ward)
    assert run.status == Status.SUCCEEDED
    assert run.progress_message.startswith("No changes")
    assert ward.rows() == before and not ShiftChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_pinned_shifts_are_never_changed(ward, redis_conn):
    # Ben pinned to every other night: the run must leave those rows alone (and may not add
    # them again), and Ann's leave night goes to Ben only because nobody else can take it.
    for offset in (0, 4):
        shift = ward.shift(ward.ann, ward.start + offset * DAY)
        Shift.objects.filter(pk=shift.pk).update(person=ward.ben, pinned=True)
    pinned = sorted(Shift.objects.filter(pinned=True).values_list("pk", "version", "updated_at"))
    run = run_draft(ward)
    assert run.status == Status.READY, run.error
    assert run_changes(run) == [
        ("add", "Ben", ward.leave_day, "NC", None, None),
        ("remove", "Ann", ward.leave_day, "NC", ward.shift(ward.ann, ward.leave_day).pk, 1),
    ]
    services.generation_run_publish(run_id=run.pk)
    assert (
        sorted(Shift.objects.filter(pinned=True).values_list("pk", "version", "updated_at"))
        == pinned
    )


@pytest.mark.django_db(transaction=True)
def test_an_impossible_week_is_explained_before_solving(ward, redis_conn):
    AbsenceFactory(person=ward.ben, start_date=ward.leave_day, end_date=ward.leave_day)
    run = run_draft(ward)
    assert run.status == Status.FAILED
    assert run.solver_status == "PRECHECK"
    day = f"{ward.leave_day.day} {ward.leave_day:%b %Y}"
    assert f"Nobody eligible for NC on {day}" in run.error
    assert "Ann (away)" in run.error and "Ben (away)" in run.error
    assert not ShiftChange.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_validator_rejects_a_roster_and_the_run_fails_naming_it(ward, redis_conn, monkeypatch):
    before = ward.rows()
    monkeypatch.setattr(
        shift_standin,
        "shift_rows_validate",
        lambda *, snapshot, rows: ["Ben works 30 hours in a row from 9 Jul 2040 (limit 28)."],
    )
    run = run_draft(ward, auto_publish=True)
    assert run.status == Status.FAILED
    assert "broke 1 rule(s) (independent validator)" in run.error
    assert "Ben works 30 hours in a row from 9 Jul 2040 (limit 28)." in run.error
    assert ward.rows() == before and not ShiftChange.objects.exists()


# -- pages and API ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_run_page_and_the_api_show_a_shifts_run(ward, coordinator, redis_conn):
    run = run_draft(ward)
    client = Client()
    client.force_login(coordinator)

    page = client.get(f"/generation/runs/{run.pk}/")
    data = client.get(f"/api/generation-runs/{run.pk}").json()
    listing = client.get("/generation/")

    assert page.status_code == 200
    text = page.content.decode()
    assert f"shifts {ward.start:%d %b %Y} - {ward.end:%d %b %Y}" in text
    assert "Proposed shift changes: 2, 2 people" in text and "Night call" in text
    assert "heavy blocks" not in text
    assert (
        listing.status_code == 200 and f"shifts {ward.start:%d %b %Y}" in listing.content.decode()
    )
    assert (data["kind"], data["start_date"], data["end_date"]) == (
        "shifts", ward.start.isoformat(), ward.end.isoformat(),
    )  # fmt: skip
    assert sorted((c["kind"], c["person"]["name"], c["date"]) for c in data["shift_changes"]) == [
        ("add", "Ben", ward.leave_day.isoformat()),
        ("remove", "Ann", ward.leave_day.isoformat()),
    ]
