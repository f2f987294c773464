"""History (issue 10): every write path leaves events with actor, source and before -> after,
including writes that bypass save(); refused and rolled-back writes leave none; history is
append-only; pages and the feed show only what the viewer may see."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import DatabaseError, transaction
from django.utils import timezone

from residency import services
from residency.errors import ConcurrentEdit
from residency.history import history_context, history_for_object
from residency.models import Assignment, AssignmentEvent, Notification
from tests.factories import (
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)
from tests.residency.editing_support import client_for, edit_url, resident_assignment

pytestmark = pytest.mark.django_db


def events(assignment_id: int) -> list[AssignmentEvent]:
    return list(AssignmentEvent.objects.filter(pgh_obj_id=assignment_id).order_by("pgh_id"))


def change_of(entry, field: str):
    return next(((c.before, c.after) for c in entry.changes if c.field == field), None)


def test_edit_page_records_who_through_what_and_before_after(coordinator):
    assignment = resident_assignment()
    other = RotationTemplateFactory(name="Clinic", code="CLIN")
    response = client_for(coordinator).post(
        edit_url(assignment),
        {
            "version": assignment.version,
            "person": assignment.person_id,
            "rotation": other.pk,
            "role": "primary",
            "notes": "moved",
        },
    )
    assert response.status_code == 302

    newest = history_for_object(label="assignment", object_id=assignment.pk)[0]
    assert newest.action == "update"
    assert newest.source == "edit page"
    assert newest.context["user"] == coordinator.pk
    assert "coordinator" in newest.who
    assert change_of(newest, "rotation") == (str(assignment.rotation), str(other))
    assert change_of(newest, "notes") == ("-", "moved")
    assert change_of(newest, "version") == ("1", "2")


def test_a_refused_edit_409_leaves_no_history(coordinator):
    assignment = resident_assignment()
    services.assignment_update(assignment_id=assignment.pk, version=1, notes="first")
    before = len(events(assignment.pk))
    response = client_for(coordinator).post(
        edit_url(assignment),
        {
            "version": 1,  # stale
            "person": assignment.person_id,
            "rotation": assignment.rotation_id,
            "role": "primary",
            "notes": "second",
        },
    )
    assert response.status_code == 409
    assert len(events(assignment.pk)) == before
    with pytest.raises(ConcurrentEdit):
        services.assignment_update(assignment_id=assignment.pk, version=1, notes="third")
    assert len(events(assignment.pk)) == before


def test_api_edit_is_recorded_as_api(coordinator):
    assignment = resident_assignment()
    response = client_for(coordinator).patch(
        f"/api/assignments/{assignment.pk}",
        data={"notes": "via api", "version": 1},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    newest = history_for_object(label="assignment", object_id=assignment.pk)[0]
    assert (newest.source, newest.context["user"]) == ("api", coordinator.pk)


def test_writes_that_bypass_save_are_recorded():
    block, rotation = BlockFactory(), RotationTemplateFactory()
    people = PersonFactory.create_batch(3)
    created = Assignment.objects.bulk_create(
        Assignment(person=p, block=block, rotation=rotation) for p in people
    )
    ids = [a.pk for a in created]
    Assignment.objects.filter(pk__in=ids).update(notes="bulk")
    Assignment.objects.filter(pk=ids[0]).delete()

    labels = {
        pk: [e.pgh_label for e in events(pk)] for pk in ids
    }  # insert (bulk_create), update (QuerySet.update), delete
    assert labels == {
        ids[0]: ["insert", "update", "delete"],
        ids[1]: ["insert", "update"],
        ids[2]: ["insert", "update"],
    }
    deleted = events(ids[0])[-1]
    assert (deleted.person_id, deleted.notes) == (people[0].pk, "bulk")  # the row as it was


def test_bulk_move_is_recorded_as_a_bulk_move(coordinator):
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(code="W"), RotationTemplateFactory(code="C")
    moving = [
        resident_assignment(block=block, rotation=wards),
        resident_assignment(block=block, rotation=wards),
    ]
    services.assignments_bulk_reassign(
        block=block, from_rotation=wards, to_rotation=clinic, by=coordinator
    )
    for assignment in moving:
        newest = history_for_object(label="assignment", object_id=assignment.pk)[0]
        assert newest.source == "bulk move"
        assert newest.context["user"] == coordinator.pk
        assert change_of(newest, "rotation") == (str(wards), str(clinic))


def test_a_change_that_rolls_back_leaves_no_history_and_no_notification(coordinator):
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(code="W"), RotationTemplateFactory(code="C")
    moving = resident_assignment(block=block, rotation=wards)
    before = AssignmentEvent.objects.count()

    def fail_after_the_write(assignment):
        raise RuntimeError("forced failure after the write")

    with pytest.raises(RuntimeError):
        services.assignments_bulk_reassign(
            block=block,
            from_rotation=wards,
            to_rotation=clinic,
            by=coordinator,
            after_each_write=fail_after_the_write,
        )
    assert AssignmentEvent.objects.count() == before
    assert not Notification.objects.exists()
    assert Assignment.objects.get(pk=moving.pk).rotation_id == wards.pk

    with pytest.raises(RuntimeError), transaction.atomic():
        services.assignment_update(
            assignment_id=moving.pk, version=1, rotation=clinic, by=coordinator
        )
        raise RuntimeError("the caller's transaction fails after the service wrote")
    assert AssignmentEvent.objects.count() == before
    assert not Notification.objects.exists()


def test_history_is_append_only():
    assignment = AssignmentFactory()
    event = events(assignment.pk)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AssignmentEvent.objects.filter(pk=event.pk).update(notes="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        AssignmentEvent.objects.filter(pk=event.pk).delete()
    assert AssignmentEvent.objects.get(pk=event.pk).notes == assignment.notes


def test_history_tables_have_no_admin_and_the_api_is_read_only(coordinator):
    from django.contrib import admin

    assert AssignmentEvent not in admin.site._registry
    client = client_for(coordinator)
    assert client.post("/api/changes", {}).status_code == 405
    assert client.delete("/api/changes").status_code == 405


def test_commands_and_services_name_themselves():
    assignment = AssignmentFactory()
    with history_context(source="command", actor="manage.py seed_demo"):
        Assignment.objects.filter(pk=assignment.pk).update(notes="seeded")
    newest = history_for_object(label="assignment", object_id=assignment.pk)[0]
    assert (newest.source, newest.who) == ("command", "manage.py seed_demo")


# --- the admin ------------------------------------------------------------------------------


def admin_form(assignment, **overrides):
    data = {
        "person": assignment.person_id,
        "block": assignment.block_id,
        "rotation": assignment.rotation_id,
        "role": assignment.role,
        "notes": assignment.notes,
        "expected_version": assignment.version,
        "values_read": "",
    }
    data.update(overrides)
    return data


def test_admin_save_is_recorded_and_shows_in_recent_actions(coordinator):
    assignment = resident_assignment()
    client = client_for(coordinator)
    response = client.post(
        f"/admin/residency/assignment/{assignment.pk}/change/",
        admin_form(assignment, notes="admin edit"),
    )
    assert response.status_code == 302, response.content
    newest = history_for_object(label="assignment", object_id=assignment.pk)[0]
    assert (newest.source, newest.context["user"]) == ("admin", coordinator.pk)
    assert change_of(newest, "notes") == ("-", "admin edit")
    entry = LogEntry.objects.get(object_id=str(assignment.pk))
    assert (entry.action_flag, entry.user_id) == (CHANGE, coordinator.pk)
    index = client.get("/admin/")
    assert str(assignment) in index.content.decode()  # "Recent actions"


def test_admin_add_and_bulk_delete_are_logged_and_history_survives_deletion(coordinator):
    block, rotation = BlockFactory(), RotationTemplateFactory()
    person = PersonFactory()
    ResidentYearFactory(person=person, academic_year=block.academic_year, pgy_level=1)
    client = client_for(coordinator)
    response = client.post(
        "/admin/residency/assignment/add/",
        {"person": person.pk, "block": block.pk, "rotation": rotation.pk, "role": "primary"},
    )
    assert response.status_code == 302, response.content
    assignment = Assignment.objects.get(person=person)
    assert LogEntry.objects.filter(object_id=str(assignment.pk), action_flag=ADDITION).exists()

    response = client.post(
        "/admin/residency/assignment/",
        {
            "action": "delete_selected",
            "_selected_action": [assignment.pk],
            "post": "yes",
            f"version_{assignment.pk}": assignment.version,
        },
    )
    assert response.status_code == 302
    assert not Assignment.objects.filter(pk=assignment.pk).exists()
    assert LogEntry.objects.filter(object_id=str(assignment.pk), action_flag=DELETION).exists()

    # The person heard of both (by e-mail: they have no login).
    told = Notification.objects.filter(email=person.email, kind="schedule_changed")
    assert [n.body.splitlines()[1].split(": ", 1)[1] for n in told.order_by("pk")] == [
        f"nothing -> {rotation.name} ({block.start_date:%b %d} to {block.end_date:%b %d})",
        f"{rotation.name} -> nothing ({block.start_date:%b %d} to {block.end_date:%b %d})",
    ]
    page = client.get(f"/admin/residency/assignment/{assignment.pk}/history/")
    assert page.status_code == 200
    labels = [e.action for e in page.context["entries"]]
    assert labels == ["delete", "insert"]
    page = client.get(f"/assignments/{assignment.pk}/history/")
    assert page.status_code == 200 and "delete" in page.content.decode()


# --- pages and permissions ------------------------------------------------------------------


def test_edit_page_shows_the_assignment_history_to_its_owner(resident):
    assignment = resident_assignment(person=resident)
    services.assignment_update(assignment_id=assignment.pk, version=1, notes="hello")
    page = client_for(resident.user).get(edit_url(assignment))
    assert page.status_code == 200
    assert [e.action for e in page.context["history"]] == ["update", "insert"]


def test_a_resident_sees_only_their_own_history(resident):
    mine = resident_assignment(person=resident)
    theirs = resident_assignment()
    client = client_for(resident.user)
    page = client.get(f"/people/{resident.pk}/history/")
    assert page.status_code == 200
    entries = page.context["entries"]
    assert {e.object_id for e in entries if e.kind == "assignment"} == {mine.pk}
    assert {e.kind for e in entries} == {"assignment", "resident year"}
    assert all(e.person_ids == {resident.pk} for e in entries)
    assert client.get(f"/people/{theirs.person_id}/history/").status_code == 404
    assert client.get(f"/assignments/{theirs.pk}/history/").status_code == 404
    assert client.get("/changes/").status_code == 404
    assert client.get("/api/changes").status_code == 403
    # An assignment that was someone else's before a swap shows only their part of it.
    Assignment.objects.filter(pk=theirs.pk).update(person=resident)
    page = client.get(f"/assignments/{theirs.pk}/history/")
    assert [e.action for e in page.context["entries"]] == ["update"]


def test_recent_changes_feed_filters_and_pages(coordinator):
    ann, bob = PersonFactory(name="Ann"), PersonFactory(name="Bob")
    block = BlockFactory()
    a = AssignmentFactory(person=ann, block=block)
    AssignmentFactory(person=bob)
    with history_context(source="command", actor="manage.py x"):
        Assignment.objects.filter(pk=a.pk).update(notes="by command")
    client = client_for(coordinator)

    everything = client.get("/changes/").context["entries"]
    assert len(everything) >= 3
    by_ann = client.get(f"/changes/?person={ann.pk}").context["entries"]
    assert by_ann and {e.object_id for e in by_ann if e.kind == "assignment"} == {a.pk}
    by_block = client.get(f"/changes/?block={block.pk}").context["entries"]
    assert {e.object_id for e in by_block} == {a.pk}
    by_source = client.get("/changes/?source=command").context["entries"]
    assert [e.who for e in by_source] == ["manage.py x"]
    # The filter's dates are the program's local dates (TIME_ZONE), not UTC's: between
    # midnight UTC and midnight in New York the two differ.
    today = timezone.localdate(by_source[0].at).isoformat()
    assert client.get(f"/changes/?since={today}&until={today}").context["entries"]
    assert not client.get("/changes/?until=2000-01-01").context["entries"]
    assert client.get("/changes/?since=yesterday").status_code == 400
    assert client.get("/changes/?source=nonsense").status_code == 400
    assert client.get("/changes/?person=%C2%B2").status_code == 400

    for _ in range(3):
        Assignment.objects.filter(pk=a.pk).update(version=models_f("version") + 1)
    from residency import history_views

    history_views.PER_PAGE, saved = 2, history_views.PER_PAGE
    try:
        first = client.get("/changes/")
        second = client.get("/changes/?page=2")
    finally:
        history_views.PER_PAGE = saved
    assert first.context["more"] and len(first.context["entries"]) == 2
    first_ids = {(e.kind, e.event_id) for e in first.context["entries"]}
    second_ids = {(e.kind, e.event_id) for e in second.context["entries"]}
    assert first_ids and second_ids and not first_ids & second_ids


def models_f(name):
    from django.db.models import F

    return F(name)
