"""Redis is down: everything that needs only PostgreSQL keeps working (schedule pages, edits,
swaps, which execute in the database and only ask the queue to run the matcher later); starting a
generation answers a clear 503 (page and JSON) and leaves no run behind that would block the
next one; once Redis is back, generation starts again at once.

A private redis-server on its own unix socket stands in for the queue, so stopping it disturbs
no one else.
"""

from __future__ import annotations

import django_rq
import pytest
from django.conf import settings
from django.test import Client

from residency.models import Assignment
from scheduling.models import GenerationRun
from swaps.models import SwapRequest
from tests.factories import (
    PASSWORD,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)
from tests.faults.servers import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    queue = settings.RQ_QUEUES["default"]  # django_rq reads this very dict
    saved = queue["URL"]
    queue["URL"] = server.url
    yield server
    queue["URL"] = saved
    server.close()


@pytest.fixture
def program(coordinator):
    block = BlockFactory()  # in 2040: far enough ahead for swaps
    rotation = RotationTemplateFactory(allowed_pgy_levels=[1])
    people = []
    for _ in range(2):
        person = PersonFactory(with_login=True)
        ResidentYearFactory(person=person, academic_year=block.academic_year, pgy_level=1)
        AssignmentFactory(person=person, block=block, rotation=rotation)
        people.append(person)
    return block.academic_year, people


def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    assert client.login(username=user.username, password=PASSWORD)
    return client


def start_generation(client: Client, year_id: int):
    return client.post(
        "/api/generation-runs",
        {"academic_year": year_id, "time_limit_seconds": 5},
        content_type="application/json",
    )


def test_redis_down_keeps_the_schedule_working_and_refuses_generation_clearly(
    private_redis, program, coordinator
):
    year, (alice, _bob) = program
    mine = Assignment.objects.get(person=alice)
    resident, boss = logged_in(alice.user), logged_in(coordinator)

    queued = start_generation(boss, year.pk)
    assert queued.status_code == 202, queued.content
    assert django_rq.get_queue("default").count == 1
    assert boss.post(f"/api/generation-runs/{queued.json()['id']}/cancel").status_code == 200

    private_redis.stop()

    assert resident.get("/schedule/").status_code == 200
    patched = resident.patch(
        f"/api/assignments/{mine.pk}",
        {"notes": "still works"},
        content_type="application/json",
        headers={"If-Match": f'"v{mine.version}"'},
    )
    assert patched.status_code == 200, patched.content
    edited = resident.post(
        f"/assignments/{mine.pk}/edit/", {"version": mine.version + 1, "notes": "form too"}
    )
    assert edited.status_code == 302, edited.content
    mine.refresh_from_db()
    assert mine.notes == "form too"
    offered = resident.post(
        "/api/swaps", {"kind": "open", "offered": mine.pk}, content_type="application/json"
    )
    assert offered.status_code == 201, offered.content  # the matcher will run later
    assert SwapRequest.objects.filter(pk=offered.json()["id"], status="pending").exists()

    refused = start_generation(boss, year.pk)
    assert refused.status_code == 503
    assert "job queue is unavailable" in refused.json()["error"]
    page = boss.post("/generation/", {"academic_year": year.pk, "time_limit_seconds": 5})
    assert page.status_code == 503
    assert "job queue is unavailable" in page.content.decode()
    dashboard = boss.get("/admin/rq/")
    assert dashboard.status_code == 503
    assert "job queue is unavailable" in dashboard.content.decode()
    # Nothing half-done: no run is left queued (it would block every later start).
    assert not GenerationRun.objects.filter(status__in=GenerationRun.ACTIVE_STATUSES).exists()
    assert all("queue" in run.error for run in GenerationRun.objects.filter(status="failed"))

    private_redis.start()

    again = start_generation(boss, year.pk)
    assert again.status_code == 202, again.content
    assert django_rq.get_queue("default").count == 1
