"""Publishing a shifts draft (scheduling/shift_publish.py) never overwrites a shift changed
after the snapshot: an edit, a shift created on a changed day, an overlap only the exclusion
constraint sees (a 409, not a 500), a violation the publish would introduce, and a discarded or
superseded draft all refuse it, writing nothing.

With the stand-in reader (tests/scheduling/shift_standin.py) over the week of
tests/scheduling/shift_ward.py."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from scheduling import services
from scheduling.models import GenerationRun
from shifts import services as shift_services
from shifts.models import Shift
from tests.concurrency import Outcome, join_all, run_in_thread
from tests.factories import AbsenceFactory, ShiftTypeFactory
from tests.scheduling.shift_ward import DAY, run_draft

# The reader (scheduling/shift_problem.py) is replaced by tests/scheduling/shift_standin.py.
pytestmark = pytest.mark.usefixtures("standin")
Status = GenerationRun.Status


# -- publishing against concurrent shift edits ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_edit_after_the_snapshot_refuses_the_publish_naming_it(ward, coordinator, redis_conn):
    run = run_draft(ward)
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
    run = run_draft(ward)
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
    run = run_draft(ward)
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
def test_a_violation_the_publish_would_introduce_rolls_it_back(ward, coordinator, redis_conn):
    run = run_draft(ward)
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
    run = run_draft(ward)
    _, message = services.generation_run_discard(run_id=run.pk, by=coordinator)
    assert message == "Draft discarded; nothing was published."
    with pytest.raises(services.StaleDraft):
        services.generation_run_publish(run_id=run.pk)

    second = run_draft(ward)
    assert second.status == Status.READY
    services.generation_run_start(academic_year_id=ward.year.pk)  # a blocks run supersedes it
    with pytest.raises(services.StaleDraft) as refused:
        services.generation_run_publish(run_id=second.pk)
    assert "a newer run was started" in refused.value.message
    assert Shift.objects.filter(person=ward.ann, date=ward.leave_day).exists()
