"""Shift generation on the generation-run machinery (scheduling/shift_runs.py): start checks,
one active run per year whatever its kind, the job (in-process and through a real rq worker),
cancellation during the solve, the independent validator, and publishing a draft that never
overwrites a shift changed after the snapshot.

The reader (scheduling/shift_problem.py) is replaced by tests/scheduling/shift_standin.py: the
machinery is tested on its own."""

from __future__ import annotations

import datetime
import random
import threading
import time
from dataclasses import dataclass

import pytest
from django.test import Client

from residency.errors import RuleViolation
from residency.notification_models import Notification
from scheduling import services, shift_runs
from scheduling.models import GenerationRun, ShiftChange
from scheduling.roster import Cover, Fairness, Request, RosterProblem
from scheduling.roster import Person as RosterPerson
from scheduling.roster import ShiftType as RosterType
from shifts import services as shift_services
from shifts.models import Shift
from tests.concurrency import Outcome, join_all, run_in_thread, wait_for_lock_waiters
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    CoverageRuleFactory,
    PersonFactory,
    ShiftFactory,
    ShiftTypeFactory,
)
from tests.scheduling import shift_standin

Status = GenerationRun.Status
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def standin(monkeypatch):
    monkeypatch.setattr(shift_runs, "_reader", lambda: shift_standin)
    yield shift_standin
    shift_standin.override.clear()


@dataclass
class Ward:
    """Night call (NC) needs exactly one resident a night. Ann holds it every night of the week
    ``start``..``end``; then she gets approved leave on the third night. So any run must change
    exactly that night: remove Ann's shift and give it to Ben (nobody else may)."""

    year: object
    nc: object
    ann: object
    ben: object
    start: datetime.date
    end: datetime.date

    @property
    def leave_day(self) -> datetime.date:
        return self.start + 2 * DAY

    def shift(self, person, day) -> Shift:
        return Shift.objects.get(person=person, date=day, shift_type=self.nc)

    def rows(self) -> list[tuple]:
        return sorted(
            Shift.objects.values_list(
                "pk", "person_id", "date", "shift_type_id", "version", "notes", "updated_at"
            )
        )


@pytest.fixture
def ward(db) -> Ward:
    year = AcademicYearFactory()
    nc = ShiftTypeFactory(code="NC", name="Night call")
    CoverageRuleFactory(shift_type=nc)
    ann = PersonFactory(name="Ann", with_login=True)
    ben = PersonFactory(name="Ben", with_login=True)
    start = year.start_date + 7 * DAY
    end = start + 6 * DAY
    for offset in range(7):
        ShiftFactory(person=ann, shift_type=nc, date=start + offset * DAY)
    AbsenceFactory(person=ann, start_date=start + 2 * DAY, end_date=start + 2 * DAY)
    return Ward(year, nc, ann, ben, start, end)


def _start(ward: Ward, **kwargs) -> GenerationRun:
    kwargs.setdefault("time_limit_seconds", 10)
    kwargs.setdefault("workers", 1)
    return shift_runs.shift_generation_start(
        academic_year_id=ward.year.pk, start=ward.start, end=ward.end, **kwargs
    )


def _draft(ward: Ward, **kwargs) -> GenerationRun:
    run = _start(ward, enqueue=False, **kwargs)
    services.generation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def _changes(run) -> list[tuple]:
    return sorted(
        ShiftChange.objects.filter(run=run).values_list(
            "kind", "person__name", "date", "shift_type__code", "shift_id", "version_read"
        )
    )


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
    shifts_run = _start(ward, requested_by=coordinator)
    assert (shifts_run.kind, shifts_run.start_date, shifts_run.end_date) == (
        "shifts", ward.start, ward.end,
    )  # fmt: skip
    with pytest.raises(services.GenerationAlreadyRunning) as second_shifts:
        _start(ward)
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
        _start(ward)
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
    run = _draft(ward, requested_by=coordinator)

    assert run.status == Status.READY, run.error
    assert run.snapshot_at is not None and run.kind == "shifts"
    assert _changes(run) == [
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
    run = _start(ward, requested_by=coordinator, auto_publish=True)
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
    run = _draft(ward)
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
    run = _draft(ward)
    assert run.status == Status.READY, run.error
    assert _changes(run) == [
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
    run = _draft(ward)
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
    run = _draft(ward, auto_publish=True)
    assert run.status == Status.FAILED
    assert "broke 1 rule(s) (independent validator)" in run.error
    assert "Ben works 30 hours in a row from 9 Jul 2040 (limit 28)." in run.error
    assert ward.rows() == before and not ShiftChange.objects.exists()


# -- cancellation --------------------------------------------------------------------------------


def _long_problem(days: int, people: list[str]) -> RosterProblem:
    """Soft cover, requests and fairness: a first roster comes fast, a proof never within the
    test's time (the solve would run its full 120 s)."""
    rng = random.Random(1)
    types = (
        RosterType("NC", 600, points=2),
        RosterType("D", 480, points=1),
        RosterType("E", 480, cannot_follow=frozenset({"D"}), points=1),
    )
    return RosterProblem(
        days=days,
        shift_types=types,
        people=tuple(RosterPerson(pid, max_consecutive_shifts=5, cohort="a") for pid in people),
        cover=tuple(
            Cover(d, t.id, preferred=rng.randint(3, 8), under_weight=100, over_weight=1)
            for d in range(days)
            for t in types
        ),
        requests=tuple(
            Request(
                rng.choice(people),
                rng.randrange(days),
                rng.choice(["NC", "D", "E"]),
                rng.randint(1, 3),
                rng.random() < 0.5,
            )
            for _ in range(len(people) * 10)
        ),
        fairness=(Fairness("points", 5),),
    )


@pytest.mark.django_db(transaction=True)
def test_cancel_during_the_solve_stops_within_two_seconds_writing_nothing(
    ward, coordinator, run_worker, redis_conn
):
    people = [str(PersonFactory().pk) for _ in range(12)]
    shift_standin.override["problem"] = _long_problem(28, people)
    before = ward.rows()
    run = shift_runs.shift_generation_start(
        academic_year_id=ward.year.pk, start=ward.start, end=ward.start + 27 * DAY,
        requested_by=coordinator, time_limit_seconds=120, workers=2, auto_publish=True,
    )  # fmt: skip
    first_progress = threading.Event()
    services.hooks.after_progress_write = lambda run_id: first_progress.set()

    def cancel_on_first_progress():
        assert first_progress.wait(90), "no progress was written"
        client = Client()
        client.force_login(coordinator)
        progress = client.get(f"/api/generation-runs/{run.pk}").json()
        cancel = client.post(f"/api/generation-runs/{run.pk}/cancel")
        return progress, cancel.status_code

    cancelled = Outcome()
    thread = run_in_thread(cancel_on_first_progress, cancelled)
    started = time.monotonic()
    run_worker()
    elapsed = time.monotonic() - started
    join_all([thread])

    assert cancelled.error is None, cancelled.error
    progress, cancel_status = cancelled.result
    assert progress["status"] == "running" and progress["kind"] == "shifts"
    assert progress["progress"] >= 10 and "found" in progress["message"]
    assert cancel_status == 200
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert (run.finished_at - run.cancelled_at).total_seconds() < 2
    assert elapsed < 100
    assert ward.rows() == before and not ShiftChange.objects.exists()
    assert not redis_conn.exists(services.lock_name(ward.year.pk))


# -- publishing against concurrent shift edits ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_edit_after_the_snapshot_refuses_the_publish_naming_it(ward, coordinator, redis_conn):
    run = _draft(ward)
    annes_night = ward.shift(ward.ann, ward.leave_day)

    edited = Outcome()
    join_all([run_in_thread(lambda: shift_services.shift_update(
        shift_id=annes_night.pk, version=1, notes="Swapping with Cal, agreed", by=coordinator,
    ), edited)])  # fmt: skip
    assert edited.error is None, edited.error
    before = ward.rows()

    client = Client()
    client.force_login(coordinator)
    response = client.post(f"/api/generation-runs/{run.pk}/publish")

    assert response.status_code == 409
    texts = [row["text"] for row in response.json()["stale_rows"]]
    day = f"{ward.leave_day.day} {ward.leave_day:%b %Y}"
    assert texts == [f"Ann, Night call on {day} (changed since (version 1 -> 2))"]
    assert ward.rows() == before
    run.refresh_from_db()
    assert run.status == Status.READY  # still a draft; a coordinator decides


@pytest.mark.django_db(transaction=True)
def test_a_shift_created_after_the_snapshot_on_a_changed_day_refuses_the_publish(
    ward, coordinator, redis_conn
):
    run = _draft(ward)
    annes_night = ward.shift(ward.ann, ward.leave_day)
    # Meanwhile a coordinator gave Ben that night by hand (deleting Ann's, adding Ben's).
    shift_services.shift_delete(shift_id=annes_night.pk, version=1)
    shift_services.shift_create(person=ward.ben, shift_type=ward.nc, date=ward.leave_day)
    before = ward.rows()

    with pytest.raises(services.StaleRows) as refused:
        services.generation_run_publish(run_id=run.pk, by=coordinator)

    day = f"{ward.leave_day.day} {ward.leave_day:%b %Y}"
    assert [row["text"] for row in refused.value.rows] == [
        f"Ann, Night call on {day} (deleted since)",
        f"Ben, Night call on {day} (created or changed since the run read the shifts)",
    ]
    assert ward.rows() == before


@pytest.mark.django_db(transaction=True)
def test_an_overlapping_shift_booked_on_another_day_is_a_409_not_a_500(
    ward, coordinator, redis_conn
):
    run = _draft(ward)
    # Meanwhile Ben gets an early shift the next morning (05:00-09:00). Ben's night call the
    # draft adds (17:00-07:00) would overlap it; that day is not one the draft changes, so only
    # the database's exclusion constraint sees it.
    early = ShiftTypeFactory(
        code="EM", name="Early", start_time=datetime.time(5, 0), length_hours=4
    )
    shift_services.shift_create(person=ward.ben, shift_type=early, date=ward.leave_day + DAY)
    before = ward.rows()

    client = Client()
    client.force_login(coordinator)
    response = client.post(f"/api/generation-runs/{run.pk}/publish")

    assert response.status_code == 409
    day, next_day = (f"{d.day} {d:%b %Y}" for d in (ward.leave_day, ward.leave_day + DAY))
    assert [row["text"] for row in response.json()["stale_rows"]] == [
        f"Ben, Early on {next_day} (booked since; it overlaps the shift this run adds on {day})"
    ]
    assert ward.rows() == before
    run.refresh_from_db()
    assert run.status == Status.READY


@pytest.mark.django_db(transaction=True)
def test_an_edit_waiting_on_the_publish_lands_after_it_and_is_not_lost(
    ward, coordinator, redis_conn
):
    run = _draft(ward)
    # Ann's last night moves to the day after the period: a move takes Ann's person lock,
    # which the publish holds (it changes Ann's shifts).
    last = ward.shift(ward.ann, ward.end)
    held, release = threading.Event(), threading.Event()

    def hold(run_id: int) -> None:
        held.set()
        assert release.wait(30), "the publish was never released"

    services.hooks.in_publish = hold
    published, moved = Outcome(), Outcome()
    publisher = run_in_thread(
        lambda: services.generation_run_publish(run_id=run.pk, by=coordinator), published
    )
    assert held.wait(30), "the publish never took its locks"
    mover = run_in_thread(
        lambda: shift_services.shift_update(
            shift_id=last.pk, version=1, date=ward.end + DAY, by=coordinator
        ),
        moved,
    )
    wait_for_lock_waiters(1)  # the edit waits behind the publish's lock on Ann
    release.set()
    join_all([publisher, mover])

    assert published.error is None, published.error
    assert moved.error is None, moved.error
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    last.refresh_from_db()
    assert (last.date, last.version) == (ward.end + DAY, 2)  # the edit landed after
    assert ward.shift(ward.ben, ward.leave_day).version == 1  # and the publish stays
    assert not Shift.objects.filter(person=ward.ann, date=ward.leave_day).exists()


@pytest.mark.django_db(transaction=True)
def test_an_edit_during_the_solve_makes_the_draft_refuse_to_publish(ward, coordinator, redis_conn):
    annes_night = ward.shift(ward.ann, ward.leave_day)
    read, release = threading.Event(), threading.Event()

    def hold(run_id: int) -> None:  # at the solve's first roster: the snapshot was read
        if not read.is_set():
            read.set()
            assert release.wait(60), "the held solve was never released"

    services.hooks.on_solution = hold
    run = _start(ward, enqueue=False)
    solving = Outcome()
    job = run_in_thread(lambda: services.generation_run_execute(run_id=run.pk), solving)
    assert read.wait(60), "the solve never found a roster"
    shift_services.shift_update(
        shift_id=annes_night.pk, version=1, notes="Cover arranged", by=coordinator
    )
    release.set()
    join_all([job])
    assert solving.error is None, solving.error
    run.refresh_from_db()
    assert run.status == Status.READY, run.error
    before = ward.rows()

    with pytest.raises(services.StaleRows) as refused:
        services.generation_run_publish(run_id=run.pk, by=coordinator)

    assert [row["person"] for row in refused.value.rows] == ["Ann"]
    assert "changed since (version 1 -> 2)" in refused.value.rows[0]["text"]
    assert ward.rows() == before
    assert ward.shift(ward.ann, ward.leave_day).notes == "Cover arranged"


@pytest.mark.django_db(transaction=True)
def test_automatic_publishing_solves_again_after_an_edit_during_the_solve(
    ward, coordinator, redis_conn
):
    annes_night = ward.shift(ward.ann, ward.leave_day)
    read, release = threading.Event(), threading.Event()

    def hold(run_id: int) -> None:  # only the first solve is held
        if not read.is_set():
            read.set()
            assert release.wait(60), "the held solve was never released"

    services.hooks.on_solution = hold
    run = _start(ward, enqueue=False, auto_publish=True)
    solving = Outcome()
    job = run_in_thread(lambda: services.generation_run_execute(run_id=run.pk), solving)
    assert read.wait(60), "the solve never found a roster"
    shift_services.shift_update(shift_id=annes_night.pk, version=1, notes="Cover arranged")
    release.set()
    join_all([job])

    assert solving.error is None, solving.error
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error
    assert run.resolves == 1
    assert "Solved again 1 time(s) from the current shifts" in run.progress_message
    assert "Ann, Night call on" in run.progress_message
    # The second solve read the edited row (version 2) and removed that one, knowingly.
    assert _changes(run)[1] == ("remove", "Ann", ward.leave_day, "NC", annes_night.pk, 2)
    assert list(
        Shift.objects.filter(date=ward.leave_day).values_list("person__name", flat=True)
    ) == ["Ben"]


@pytest.mark.django_db(transaction=True)
def test_a_violation_the_publish_would_introduce_rolls_it_back(ward, coordinator, redis_conn):
    run = _draft(ward)
    # Ben's leave is approved after the draft: no shift changed, so nothing is stale, but Ben
    # may no longer take that night. The validator inside the publish refuses it.
    AbsenceFactory(person=ward.ben, start_date=ward.leave_day, end_date=ward.leave_day)
    before = ward.rows()

    with pytest.raises(services.ScheduleInvalid) as refused:
        services.generation_run_publish(run_id=run.pk, by=coordinator)

    assert any("Ben" in str(v) and v.rule == "eligibility" for v in refused.value.violations)
    assert ward.rows() == before
    run.refresh_from_db()
    assert run.status == Status.READY


@pytest.mark.django_db(transaction=True)
def test_discard_and_a_newer_run_make_the_draft_unpublishable(ward, coordinator, redis_conn):
    run = _draft(ward)
    _, message = services.generation_run_discard(run_id=run.pk, by=coordinator)
    assert message == "Draft discarded; nothing was published."
    with pytest.raises(services.StaleDraft):
        services.generation_run_publish(run_id=run.pk)

    second = _draft(ward)
    assert second.status == Status.READY
    services.generation_run_start(academic_year_id=ward.year.pk)  # a blocks run supersedes it
    with pytest.raises(services.StaleDraft) as refused:
        services.generation_run_publish(run_id=second.pk)
    assert "a newer run was started" in refused.value.message
    assert Shift.objects.filter(person=ward.ann, date=ward.leave_day).exists()


# -- pages and API ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_run_page_and_the_api_show_a_shifts_run(ward, coordinator, redis_conn):
    run = _draft(ward)
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
