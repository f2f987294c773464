"""Drafts, publishing and discarding: the diff write touches only the rows it changes, at the
versions its solve read; stale rows and stale drafts are refused with their names; swaps on
changed rows expire in the publish, others stay valid; a publish racing a swap has one winner."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.utils.html import escape

from residency.errors import Busy
from residency.models import Assignment
from residency.services import assignment_update
from scheduling import services
from scheduling.models import GenerationChange, GenerationRun
from swaps import services as swap_services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from tests.concurrency import run_concurrently
from tests.factories import AbsenceFactory

pytestmark = pytest.mark.django_db(transaction=True)
Status = GenerationRun.Status


def _draft(tiny, coordinator, **kwargs) -> GenerationRun:
    run = services.generation_run_start(
        academic_year_id=tiny.year.pk, requested_by=coordinator, enqueue=False, **kwargs
    )
    services.generation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Status.READY, run.error
    return run


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_draft_writes_nothing_and_publish_changes_exactly_its_rows(tiny, coordinator):
    before = tiny.rows()
    run = _draft(tiny, coordinator)

    assert tiny.rows() == before  # a draft changes nobody's schedule
    assert (run.rows_kept, run.rows_changed, run.rows_added, run.rows_removed) == (7, 2, 0, 0)
    assert run.progress_message == "Ready for review: 2 changed, 0 added, 0 removed; 7 unchanged."
    changes = {(c.person.name, c.block.number, c.rotation_before.code, c.rotation_after.code)
               for c in run.changes.select_related("person", "block", "rotation_before",
                                                   "rotation_after")}  # fmt: skip
    assert changes == {("Ann", 2, "WARD", "LEAVE"), ("Ben", 2, "ELEC", "WARD")}

    published = services.generation_run_publish(run_id=run.pk, by=coordinator)
    assert published.status == Status.SUCCEEDED
    assert published.assignments_written == 2 and published.publish_seconds < 5
    after = {row[0]: row for row in tiny.rows()}
    untouched = [row for row in before if after[row[0]] == row]
    assert len(untouched) == 7
    ann, ben = tiny.row(tiny.ann, 2), tiny.row(tiny.ben, 2)
    assert (ann.rotation_id, ann.version, ann.generation_run_id, ann.updated_by) == (
        tiny.leave.pk, 2, run.pk, coordinator,
    )  # fmt: skip
    assert (ben.rotation_id, ben.version) == (tiny.wards.pk, 2)


def test_perturbation_changes_exactly_the_solvers_rows_and_keeps_notes(program_s, coordinator):
    first = services.generation_run_start(
        academic_year_id=program_s.pk, requested_by=coordinator, auto_publish=True, enqueue=False
    )
    services.generation_run_execute(run_id=first.pk)
    rows = Assignment.objects.filter(block__academic_year=program_s)
    for row in rows:  # everybody writes a note (version 2)
        assignment_update(assignment_id=row.pk, version=row.version, notes=f"note {row.pk}")
    # A new approved absence: the resident must go on leave in block 6.
    block = program_s.blocks.get(number=6)
    resident = rows.filter(block=block, person__kind="resident").exclude(
        rotation__kind="leave"
    ).first().person  # fmt: skip
    AbsenceFactory(person=resident, start_date=block.start_date, end_date=block.end_date)
    fields = ("pk", "person_id", "block_id", "rotation_id", "role", "version", "notes",
              "updated_by_id", "updated_at")  # fmt: skip
    before = {row[0]: row for row in rows.values_list(*fields)}

    run = services.generation_run_start(
        academic_year_id=program_s.pk, requested_by=coordinator, enqueue=False
    )
    services.generation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Status.READY, run.error
    proposed = {c.assignment_id: c for c in run.changes.all() if c.kind == "change"}
    added = [c for c in run.changes.all() if c.kind == "add"]
    # Every row stays (residents keep one row per block); a faculty member may be added where
    # the move needs one more supervisor (an addition counts as a change, as the solver does).
    assert run.rows_removed == 0
    assert run.rows_added == len(added) and all(c.person.kind == "faculty" for c in added)
    assert run.rows_changed == len(proposed) >= 1
    services.generation_run_publish(run_id=run.pk, by=coordinator)

    after = {row[0]: row for row in rows.values_list(*fields)}
    assert set(before) <= set(after)  # no row replaced: same ids
    new = {after[pk][1:3] for pk in set(after) - set(before)}
    assert new == {(c.person_id, c.block_id) for c in added}
    written = {pk for pk in before if after[pk] != before[pk]}
    assert written == set(proposed)  # exactly the rows the solver changed
    for pk in written:
        change = proposed[pk]
        assert after[pk][3:6] == (change.rotation_after_id, change.role_after, before[pk][5] + 1)
        assert after[pk][6] == f"note {pk}"  # notes survive on changed rows
    assert run.rows_kept + run.rows_changed == len(before)
    assert rows.get(person=resident, block=block).rotation.kind == "leave"


def test_edit_of_an_unchanged_row_between_solve_and_publish_does_not_block_it(tiny, coordinator):
    run = _draft(tiny, coordinator)
    cal = tiny.row(tiny.cal, 2)  # the draft leaves it as it is
    assignment_update(assignment_id=cal.pk, version=cal.version, notes="Cal's note")

    services.generation_run_publish(run_id=run.pk, by=coordinator)

    cal_now = tiny.row(tiny.cal, 2)
    assert (cal_now.notes, cal_now.version, cal_now.rotation_id) == (
        "Cal's note",
        2,
        cal.rotation_id,
    )
    assert tiny.row(tiny.ben, 2).rotation_id == tiny.wards.pk


def test_edit_of_a_changed_row_refuses_the_publish_naming_it_and_a_fresh_run_publishes(
    tiny, coordinator
):
    run = _draft(tiny, coordinator)
    ben = tiny.row(tiny.ben, 2)
    assignment_update(assignment_id=ben.pk, version=ben.version, rotation=tiny.clinic)
    before = tiny.rows()

    response = _client(coordinator).post(f"/generation/runs/{run.pk}/publish/")

    assert response.status_code == 409
    page = response.content.decode()
    assert "Nothing was published. 1 row(s) changed since this run read the schedule" in page
    assert "Ben, block 2 (changed since (version 1 -&gt; 2))" in page
    assert "Generate again from the current schedule" in page
    assert tiny.rows() == before  # nothing written, not even Ann's unrelated change
    assert GenerationRun.objects.get(pk=run.pk).status == Status.READY
    # The page's "Generate again" form carries the run's year and parameters.
    again_form = page[page.index('id="stale-rows"') :]
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', again_form))
    assert fields["academic_year"] == str(tiny.year.pk)
    fields.pop("csrfmiddlewaretoken", None)
    response = _client(coordinator).post("/generation/", fields)
    assert response.status_code == 302
    assert GenerationRun.objects.get(pk=run.pk).status == Status.SUPERSEDED
    GenerationRun.objects.filter(status=Status.QUEUED).delete()  # not run here (no worker)

    again = _draft(tiny, coordinator)
    services.generation_run_publish(run_id=again.pk, by=coordinator)
    assert tiny.row(tiny.ben, 2).rotation_id == tiny.wards.pk
    assert tiny.row(tiny.ann, 2).rotation_id == tiny.leave.pk


def test_a_row_deleted_or_booked_since_the_snapshot_is_stale(tiny, coordinator):
    run = _draft(tiny, coordinator)
    Assignment.objects.filter(pk=tiny.row(tiny.ann, 2).pk).delete()

    with pytest.raises(services.StaleRows) as refused:
        services.generation_run_publish(run_id=run.pk, by=coordinator)
    assert "Ann, block 2 (deleted since)" in refused.value.message


def _swap(tiny, requester, counterpart, number) -> SwapRequest:
    return swap_services.swap_request_create(
        requester=requester,
        kind="one_to_one",
        counterpart=counterpart,
        offered_id=tiny.row(requester, number).pk,
        wanted_id=tiny.row(counterpart, number).pk,
    )


def test_swaps_on_unchanged_rows_survive_and_swaps_on_changed_rows_expire_with_a_reason(
    tiny, coordinator
):
    kept = _swap(tiny, tiny.ben, tiny.cal, 1)  # block 1: the draft changes nothing there
    doomed = _swap(tiny, tiny.ben, tiny.cal, 2)  # Ben's block 2 goes to Wards
    run = _draft(tiny, coordinator)

    services.generation_run_publish(run_id=run.pk, by=coordinator)

    doomed.refresh_from_db()
    assert doomed.status == SwapRequest.Status.EXPIRED
    reason = doomed.events.last().note
    assert reason == (f"Generation #{run.pk} changed the schedule: Ben, block 2: ELEC -> WARD.")
    for person in (tiny.ben, tiny.cal):  # both people read why on their swaps page
        page = _client(person.user).get("/swaps/").content.decode()
        assert escape(reason) in page
    # The other request is still pending and can be accepted afterwards.
    assert SwapRequest.objects.get(pk=kept.pk).status == SwapRequest.Status.PENDING
    swap_services.swap_request_accept(swap_request_id=kept.pk, person=tiny.cal)
    assert SwapRequest.objects.get(pk=kept.pk).status == SwapRequest.Status.EXECUTED
    assert tiny.row(tiny.ben, 1).rotation_id == tiny.clinic.pk


def test_publish_racing_a_swap_on_a_changed_row_has_exactly_one_winner(tiny, coordinator):
    swap = _swap(tiny, tiny.ben, tiny.cal, 2)
    run = _draft(tiny, coordinator)

    publish, accept = run_concurrently(
        lambda: services.generation_run_publish(run_id=run.pk, by=coordinator),
        lambda: swap_services.swap_request_accept(swap_request_id=swap.pk, person=tiny.cal),
    )

    swap.refresh_from_db()
    run.refresh_from_db()
    if publish.error is None:  # the publish won: the swap was refused and the request expired
        assert isinstance(accept.error, Busy | SwapRefused), accept.error
        assert run.status == Status.SUCCEEDED
        assert swap.status == SwapRequest.Status.EXPIRED
        assert tiny.row(tiny.ben, 2).rotation_id == tiny.wards.pk
        assert tiny.row(tiny.cal, 2).rotation_id == tiny.clinic.pk
    else:  # the swap won: the publish was refused, nothing of it written
        assert isinstance(publish.error, services.StaleRows), publish.error
        assert accept.error is None
        assert run.status == Status.READY
        assert swap.status == SwapRequest.Status.EXECUTED
        assert tiny.row(tiny.ben, 2).rotation_id == tiny.clinic.pk
        assert tiny.row(tiny.cal, 2).rotation_id == tiny.elective.pk
        assert tiny.row(tiny.ann, 2).rotation_id == tiny.wards.pk


def test_a_draft_made_stale_by_a_newer_run_or_a_discard_cannot_be_published(tiny, coordinator):
    client = _client(coordinator)
    older = _draft(tiny, coordinator)
    newer = _draft(tiny, coordinator)
    assert GenerationRun.objects.get(pk=older.pk).status == Status.SUPERSEDED
    before = tiny.rows()

    response = client.post(f"/api/generation-runs/{older.pk}/publish")
    assert response.status_code == 409
    body = json.loads(response.content)
    assert body["stale_draft"] is True
    assert "a newer run was started for this year (it is stale)" in body["error"]
    page = client.post(f"/generation/runs/{older.pk}/publish/")
    assert page.status_code == 409
    assert "cannot be published: a newer run was started" in page.content.decode()

    response = client.post(f"/api/generation-runs/{newer.pk}/discard")
    assert response.status_code == 200
    assert json.loads(response.content)["detail"] == "Draft discarded; nothing was published."
    assert (
        json.loads(client.post(f"/api/generation-runs/{newer.pk}/discard").content)["detail"]
        == "This draft was already discarded."
    )
    response = client.post(f"/api/generation-runs/{newer.pk}/publish")
    assert response.status_code == 409
    assert "it was discarded" in json.loads(response.content)["error"]
    page = client.post(f"/generation/runs/{newer.pk}/publish/")
    assert page.status_code == 409
    assert tiny.rows() == before


def test_api_publish_answers_409_naming_the_stale_rows(tiny, coordinator):
    run = _draft(tiny, coordinator)
    ann = tiny.row(tiny.ann, 2)
    assignment_update(assignment_id=ann.pk, version=ann.version, notes="mine")

    response = _client(coordinator).post(f"/api/generation-runs/{run.pk}/publish")

    assert response.status_code == 409
    body = json.loads(response.content)
    assert [(row["person"], row["block"], row["version_read"], row["version_now"])
            for row in body["stale_rows"]] == [("Ann", 2, 1, 2)]  # fmt: skip
    assert tiny.row(tiny.ann, 2).notes == "mine"


def test_page_shows_the_diff_and_publishes(tiny, coordinator):
    client = _client(coordinator)
    run = _draft(tiny, coordinator)

    page = client.get(f"/generation/runs/{run.pk}/").content.decode()
    assert "Ready for review" in page
    assert "Proposed changes: 2 person-block(s), 2 people" in page
    assert "<td>Ann</td><td>Wards</td><td>Leave</td>" in page
    assert "<td>Ben</td><td>Elective</td><td>Wards</td>" in page
    assert 'id="publish"' in page and 'id="discard"' in page
    assert '<td id="run-fairness">PGY-1: 0</td>' in page  # heavy-block spread (cohorts of 2+)
    assert "2 changed, 0 added, 0 removed; 7 unchanged (left untouched)" in page

    response = client.post(f"/generation/runs/{run.pk}/publish/", follow=True)
    assert response.status_code == 200
    assert "Published: 2 row(s) written. 7 row(s) left untouched." in response.content.decode()
    assert 'id="publish"' not in response.content.decode()
    api = json.loads(client.get(f"/api/generation-runs/{run.pk}").content)
    assert api["status"] == "succeeded" and api["rows"] == {
        "kept": 7, "changed": 2, "added": 0, "removed": 0,
    }  # fmt: skip


def test_api_start_with_automatic_publishing(tiny, coordinator):
    response = _client(coordinator).post(
        "/api/generation-runs",
        {"academic_year": tiny.year.pk, "auto_publish": True},
        content_type="application/json",
    )
    assert response.status_code == 202
    run = GenerationRun.objects.get(pk=json.loads(response.content)["id"])
    assert run.auto_publish


def test_admin_actions_generate_for_review_publish_and_discard(tiny, coordinator, redis_conn):
    client = _client(coordinator)
    client.post("/admin/scheduling/scheduleyear/",
                {"action": "generate_and_publish", "_selected_action": [tiny.year.pk]})  # fmt: skip
    assert GenerationRun.objects.get().auto_publish
    GenerationRun.objects.all().delete()
    first, second = _draft(tiny, coordinator), None
    response = client.post(
        "/admin/scheduling/generationrun/",
        {"action": "discard_runs", "_selected_action": [first.pk]},
        follow=True,
    )
    assert "Draft discarded" in response.content.decode()
    second = _draft(tiny, coordinator)
    response = client.post(
        "/admin/scheduling/generationrun/",
        {"action": "publish_runs", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert f"#{first.pk}: Generation #{first.pk} cannot be published: it was discarded" in page
    assert f"#{second.pk}: Published: 2 row(s) written." in page
    assert GenerationChange.objects.filter(run=second).count() == 2
    assert client.get(f"/admin/scheduling/generationrun/{second.pk}/change/").status_code == 200


def test_publish_command(tiny, coordinator):
    from io import StringIO

    from django.core.management import CommandError, call_command

    run = _draft(tiny, coordinator)
    out = StringIO()
    call_command("publish_generation_run", str(run.pk), stdout=out)
    assert "Published: 2 row(s) written." in out.getvalue()
    assert tiny.row(tiny.ann, 2).updated_by == coordinator  # nobody published: who asked
    with pytest.raises(CommandError, match="it was already published"):
        call_command("publish_generation_run", str(run.pk), stdout=StringIO())
