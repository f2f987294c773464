"""GET /api/changes?since=<cursor> (issue 10): paged, oldest first, and a cursor never skips a
change, even one whose transaction commits after a later one's."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from residency.models import Assignment
from tests.concurrency import JOIN_TIMEOUT, Outcome, join_all, run_in_thread, wait_until
from tests.factories import AssignmentFactory
from tests.residency.editing_support import client_for


def read_all(client, since: str = "", limit: int = 100) -> tuple[list[dict], str]:
    """Follow the cursor until no more changes are ready."""
    changes = []
    while True:
        url = f"/api/changes?limit={limit}" + (f"&since={since}" if since else "")
        body = client.get(url).json()
        changes += body["changes"]
        since = body["next"]
        if not body["more"]:
            return changes, since


def notes_of(changes: list[dict], assignment_id: int) -> list[str]:
    return [
        c["after"]
        for change in changes
        if change["object_id"] == assignment_id and change["model"] == "assignment"
        for c in change["changes"]
        if c["field"] == "notes"
    ]


@pytest.mark.django_db(transaction=True)
def test_cursor_waits_for_an_older_transaction_instead_of_skipping_it(coordinator):
    slow, fast = AssignmentFactory(), AssignmentFactory()
    client = client_for(coordinator)
    # Everything so far, once every transaction that wrote it has ended.
    wait_until(
        lambda: len(read_all(client)[0]) >= 2, what="the setup's changes to pass the horizon"
    )
    _, cursor = read_all(client)

    written, release = threading.Event(), threading.Event()

    def older_transaction() -> None:
        with transaction.atomic():
            Assignment.objects.filter(pk=slow.pk).update(notes="older")  # gets its xid now
            written.set()
            assert release.wait(JOIN_TIMEOUT)

    outcome = Outcome()
    thread = run_in_thread(older_transaction, outcome)
    try:
        assert written.wait(JOIN_TIMEOUT)
        # A younger transaction commits while the older one is still open.
        Assignment.objects.filter(pk=fast.pk).update(notes="younger")
        changes, next_cursor = read_all(client, cursor)
        # Handing out "younger" now would move the cursor past "older", which commits later.
        assert notes_of(changes, fast.pk) == []
        assert next_cursor == cursor
    finally:
        release.set()
        join_all([thread])
    assert outcome.error is None

    wait_until(
        lambda: notes_of(read_all(client, cursor)[0], fast.pk) == ["younger"],
        what="both transactions to pass the horizon",
    )
    changes, _ = read_all(client, cursor)
    assert notes_of(changes, slow.pk) == ["older"]
    order = [c["object_id"] for c in changes]
    assert order.index(slow.pk) < order.index(fast.pk)  # in transaction order


@pytest.mark.django_db(transaction=True)
def test_changes_are_paged_and_each_appears_once(coordinator):
    assignment = AssignmentFactory()
    for n in range(5):
        Assignment.objects.filter(pk=assignment.pk).update(notes=f"n{n}")
    client = client_for(coordinator)
    wait_until(
        lambda: len(notes_of(read_all(client)[0], assignment.pk)) == 6,  # insert + 5 updates
        what="the updates to pass the horizon",
    )
    paged, cursor = read_all(client, limit=2)
    whole, _ = read_all(client, limit=500)
    assert [c["cursor"] for c in paged] == [c["cursor"] for c in whole]
    assert len({c["cursor"] for c in paged}) == len(paged)
    assert notes_of(paged, assignment.pk) == ["-"] + [f"n{n}" for n in range(5)]
    first = client.get("/api/changes?limit=2").json()
    assert len(first["changes"]) == 2 and first["more"] is True
    # Nothing new: the same cursor comes back.
    body = client.get(f"/api/changes?since={cursor}").json()
    assert (body["changes"], body["next"], body["more"]) == ([], cursor, False)


@pytest.mark.django_db
def test_bad_cursor_and_limit_are_400(coordinator):
    client = client_for(coordinator)
    assert client.get("/api/changes?since=nonsense!").status_code == 400
    assert client.get("/api/changes?limit=0").status_code == 400
    assert client.get("/api/changes?limit=100000").status_code == 400
    assert client.get("/api/changes?limit=x").status_code == 400


@pytest.mark.django_db
def test_only_coordinators(resident, client):
    assert client.get("/api/changes").status_code == 401
    assert client_for(resident.user).get("/api/changes").status_code == 403
