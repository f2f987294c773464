"""Concurrent edits on real PostgreSQL with real threads, each with its own connection.

Every test forces the overlap (a Barrier, or a lock held in one connection while another waits)
and asserts exact outcomes: who won, each status code, the final values and versions.
"""

import json
import threading
from collections import Counter

import pytest
from django.db import transaction

from residency import services
from residency.errors import Busy
from residency.locking import schedule_lock_exclusive
from residency.models import Assignment
from tests.concurrency import (
    Outcome,
    join_all,
    run_concurrently,
    run_in_thread,
    wait_for_lock_waiters,
)
from tests.factories import (
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    UserFactory,
)
from tests.residency.editing_support import (
    api_url,
    client_for,
    edit_url,
    faculty_assignment,
)

pytestmark = pytest.mark.django_db(transaction=True)
EVENT_TIMEOUT = 30


def another_coordinator(coordinator):
    user = UserFactory(username="coordinator2", is_staff=True)
    user.groups.set(coordinator.groups.all())
    return user


def post_notes(client, assignment, notes, version, coordinator=False):
    data = {"version": version, "notes": notes}
    if coordinator:
        data |= {
            "person": assignment.person_id,
            "rotation": assignment.rotation_id,
            "role": assignment.role,
        }
    return lambda: client.post(edit_url(assignment), data)


def test_two_users_save_the_same_version_through_the_view(coordinator, faculty):
    """Frame 5.1: exactly one save wins; the other gets the 409 page; version is v+1."""
    assignment = faculty_assignment(faculty, notes="start")
    owner, coord = client_for(faculty.user), client_for(coordinator)
    inputs = ["owner's notes", "coordinator's notes"]

    outcomes = run_concurrently(
        post_notes(owner, assignment, inputs[0], 1),
        post_notes(coord, assignment, inputs[1], 1, coordinator=True),
    )

    assert [o.error for o in outcomes] == [None, None]
    statuses = [o.result.status_code for o in outcomes]
    assert sorted(statuses) == [302, 409]
    winner = statuses.index(302)
    saved = Assignment.objects.get(pk=assignment.pk)
    assert saved.version == 2
    assert saved.notes == inputs[winner]
    assert saved.updated_by == [faculty.user, coordinator][winner]
    loser = outcomes[1 - winner].result
    assert loser.context["comparison"][-1]["yours"] == inputs[1 - winner]
    assert loser.context["form"].initial["version"] == 2


def test_three_stale_writers_one_wins(coordinator, faculty):
    assignment = faculty_assignment(faculty)
    clients = [client_for(faculty.user), client_for(coordinator)]
    clients.append(client_for(another_coordinator(coordinator)))
    writers = [
        post_notes(client, assignment, f"writer {n}", 1, coordinator=n > 0)
        for n, client in enumerate(clients)
    ]

    outcomes = run_concurrently(*writers)

    statuses = [o.result.status_code for o in outcomes]
    assert Counter(statuses) == {302: 1, 409: 2}
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.version, saved.notes) == (2, f"writer {statuses.index(302)}")


def test_no_lost_update_under_read_modify_write(faculty):
    """8 threads x 10 increments of a counter kept in the notes, through the API, each retrying
    on 409: starting at notes "0", version 1, the end is exactly notes "80", version 81 (every
    successful write adds one to both; a lost update would leave fewer)."""
    assignment = faculty_assignment(faculty, notes="0")
    threads, increments = 8, 10
    clients = [client_for(faculty.user) for _ in range(threads)]
    conflicts = Counter()

    def incrementer(client):
        def run():
            done = 0
            for _ in range(500):  # bound: fail instead of spinning forever
                if done == increments:
                    return done
                current = client.get(api_url(assignment)).json()
                response = client.patch(
                    api_url(assignment),
                    json.dumps(
                        {"notes": str(int(current["notes"]) + 1), "version": current["version"]}
                    ),
                    content_type="application/json",
                )
                if response.status_code == 409:
                    conflicts[id(client)] += 1
                    continue
                assert response.status_code == 200, response.content
                done += 1
            return done

        return run

    outcomes = run_concurrently(*(incrementer(c) for c in clients))

    assert [(o.error, o.result) for o in outcomes] == [(None, increments)] * threads
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.notes, saved.version) == ("80", 81)


def test_edit_against_delete_answers_410(faculty):
    """The delete takes the row and holds it; the edit, which read the row before, queues on
    its UPDATE; the delete commits; the edit finds nothing to update and answers 410."""
    assignment = faculty_assignment(faculty)
    owner = client_for(faculty.user)
    owner.get(edit_url(assignment))  # the form is on screen, at version 1
    deleted, release = threading.Event(), threading.Event()

    def delete_and_hold():
        with transaction.atomic():
            Assignment.objects.filter(pk=assignment.pk).delete()
            deleted.set()
            assert release.wait(EVENT_TIMEOUT)

    deleter_outcome, editor_outcome = Outcome(), Outcome()
    deleter = run_in_thread(delete_and_hold, deleter_outcome)
    threads = [deleter]
    try:
        assert deleted.wait(EVENT_TIMEOUT)
        threads.append(run_in_thread(post_notes(owner, assignment, "too late", 1), editor_outcome))
        wait_for_lock_waiters(1)
    finally:
        release.set()
        join_all(threads)

    assert deleter_outcome.error is None and editor_outcome.error is None
    assert editor_outcome.result.status_code == 410
    assert b"This assignment no longer exists" in editor_outcome.result.content
    assert b"too late" in editor_outcome.result.content
    assert not Assignment.objects.filter(pk=assignment.pk).exists()


def _team(block, rotation, size):
    moving = []
    for n in range(size):
        person = PersonFactory(name=f"Mover {n}")
        ResidentYearFactory(person=person, academic_year=block.academic_year)
        moving.append(Assignment.objects.create(person=person, block=block, rotation=rotation))
    return moving


def _rotations(ids):
    return sorted(Assignment.objects.filter(pk__in=ids).values_list("rotation_id", "version"))


def test_readers_never_see_half_a_bulk_reassignment(coordinator):
    """The bulk move is held open after its first row is written: other connections see the
    complete old state meanwhile, and the complete new state after commit, never a mix."""
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(), RotationTemplateFactory()
    ids = [a.pk for a in _team(block, wards, 3)]
    old_state, new_state = [(wards.pk, 1)] * 3, [(clinic.pk, 2)] * 3
    held, release, finished = threading.Event(), threading.Event(), threading.Event()
    written = []

    def hold_after_first_write(assignment):
        written.append(assignment.pk)
        if len(written) == 1:
            held.set()
            assert release.wait(EVENT_TIMEOUT)

    def move():
        try:
            return services.assignments_bulk_reassign(
                block=block,
                from_rotation=wards,
                to_rotation=clinic,
                by=coordinator,
                after_each_write=hold_after_first_write,
            )
        finally:
            finished.set()

    snapshots = []
    sampled = threading.Event()  # the sampler's first read happened while the move was held

    def sample():
        while not finished.is_set():
            snapshots.append(_rotations(ids))
            sampled.set()
            finished.wait(0.005)
        snapshots.append(_rotations(ids))

    api = client_for(coordinator)
    mover, sampler = Outcome(), Outcome()
    threads = [run_in_thread(move, mover)]
    try:
        assert held.wait(EVENT_TIMEOUT)
        threads.append(run_in_thread(sample, sampler))
        # Released only after the sampler has read once: otherwise a sampler thread slow to
        # start would read only after the commit, and its first snapshot would be the new state.
        assert sampled.wait(EVENT_TIMEOUT)
        # Mid-way: one row is written inside the open transaction; nobody else sees it.
        assert _rotations(ids) == old_state
        assert api.get(f"/api/assignments/{ids[0]}").json()["rotation"] == wards.pk
    finally:
        release.set()
        join_all(threads)

    assert mover.error is None and sampler.error is None
    assert len(mover.result) == 3 and written == sorted(ids)
    assert _rotations(ids) == new_state
    assert api.get(f"/api/assignments/{ids[0]}").json()["rotation"] == clinic.pk
    assert snapshots and all(s in (old_state, new_state) for s in snapshots)
    assert snapshots[0] == old_state and snapshots[-1] == new_state


def test_bulk_reassignment_answers_busy_when_a_row_is_locked(coordinator, settings):
    """Another connection holds one of the rows (SELECT ... FOR UPDATE); the bulk move waits
    only the lock timeout, then the page says busy (503) and nothing moved. Once the lock is
    gone, the same request succeeds."""
    settings.ROTA_LOCK_TIMEOUT_MS = 200
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(), RotationTemplateFactory()
    ids = [a.pk for a in _team(block, wards, 3)]
    held, release = threading.Event(), threading.Event()

    def hold_row():
        with transaction.atomic():
            list(Assignment.objects.select_for_update().filter(pk=ids[1]))
            held.set()
            assert release.wait(EVENT_TIMEOUT)

    client = client_for(coordinator)
    url = f"/schedule/block/{block.pk}/reassign/"
    form = {"from_rotation": wards.pk, "to_rotation": clinic.pk}
    holder = Outcome()
    threads = [run_in_thread(hold_row, holder)]
    try:
        assert held.wait(EVENT_TIMEOUT)
        response = client.post(url, form)
        with pytest.raises(Busy):
            services.assignments_bulk_reassign(block=block, from_rotation=wards, to_rotation=clinic)
    finally:
        release.set()
        join_all(threads)

    assert holder.error is None
    assert response.status_code == 503
    assert "Try again" in response.content.decode()
    assert _rotations(ids) == [(wards.pk, 1)] * 3
    assert client.post(url, form).status_code == 302
    assert _rotations(ids) == [(clinic.pk, 2)] * 3


def test_bulk_reassignment_is_refused_while_generation_writes_the_year(coordinator):
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(), RotationTemplateFactory()
    ids = [a.pk for a in _team(block, wards, 2)]
    held, release = threading.Event(), threading.Event()

    def generation_write_phase():
        with transaction.atomic():
            schedule_lock_exclusive(academic_year_id=block.academic_year_id)
            held.set()
            assert release.wait(EVENT_TIMEOUT)

    generation = Outcome()
    threads = [run_in_thread(generation_write_phase, generation)]
    try:
        assert held.wait(EVENT_TIMEOUT)
        response = client_for(coordinator).post(
            f"/schedule/block/{block.pk}/reassign/",
            {"from_rotation": wards.pk, "to_rotation": clinic.pk},
        )
    finally:
        release.set()
        join_all(threads)

    assert generation.error is None
    assert response.status_code == 503
    assert "Schedule generation in progress" in response.content.decode()
    assert _rotations(ids) == [(wards.pk, 1)] * 2


def test_concurrent_patches_with_the_same_if_match(faculty):
    assignment = faculty_assignment(faculty)
    clients = [client_for(faculty.user) for _ in range(4)]

    def patcher(n, client):
        return lambda: client.patch(
            api_url(assignment),
            json.dumps({"notes": f"patch {n}"}),
            content_type="application/json",
            headers={"if_match": '"v1"'},
        )

    outcomes = run_concurrently(*(patcher(n, c) for n, c in enumerate(clients)))

    statuses = [o.result.status_code for o in outcomes]
    assert Counter(statuses) == {200: 1, 412: 3}
    winner = statuses.index(200)
    assert outcomes[winner].result["ETag"] == '"v2"'
    assert all(
        o.result.json()["current"]["version"] == 2 for o in outcomes if o is not outcomes[winner]
    )
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.version, saved.notes) == (2, f"patch {winner}")


def test_two_coordinators_cannot_both_take_the_last_place(coordinator):
    """Two edits move two different people into the one free place of a rotation at once: the
    block lock makes the second re-count after the first commits, so one 302 and one 422."""
    block = BlockFactory()
    single = RotationTemplateFactory(name="Single", max_people=1)
    first, second = _team(block, RotationTemplateFactory(), 2)
    clients = [client_for(coordinator), client_for(another_coordinator(coordinator))]

    def move(client, assignment):
        return lambda: client.post(
            edit_url(assignment),
            {
                "version": 1,
                "person": assignment.person_id,
                "rotation": single.pk,
                "role": assignment.role,
                "notes": "",
            },
        )

    outcomes = run_concurrently(move(clients[0], first), move(clients[1], second))

    statuses = [o.result.status_code for o in outcomes]
    assert sorted(statuses) == [302, 422]
    loser = outcomes[statuses.index(422)].result
    assert "Single is full in block 1" in loser.context["form"].errors["rotation"][0]
    assert Assignment.objects.filter(block=block, rotation=single).count() == 1
