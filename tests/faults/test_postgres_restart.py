"""PostgreSQL restarts under load: requests fail cleanly (a quick 503 "try again", never a 500
or a hang) while it is down, and the running app recovers by itself once it is back.

A private PostgreSQL in a temporary folder (not the shared embedded one) serves a real gunicorn;
the workers keep persistent connections (DB_CONN_MAX_AGE) so the test also proves that a
connection killed by the restart is noticed (CONN_HEALTH_CHECKS) instead of failing a request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from bench.client import Client, Response
from bench.stack import Stack
from residency.middleware import DATABASE_MESSAGE
from tests.faults.servers import PrivatePostgres

CLIENTS = 4
WAIT = 30
# A request must never take this long: a hang is a failure, not a slow success.
MAX_REQUEST_SECONDS = 10


# A page and a JSON API call: both must fail cleanly, each in its own format.
PATHS = ("/schedule/", "/api/assignments")


@dataclass
class Sample:
    phase: str
    path: str
    response: Response


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    yield server
    server.close()


def test_postgres_restart_under_load(private_postgres, tmp_path):
    with Stack(
        database_suffix="fault",
        workers=2,
        rq_workers=0,
        server_database_url=private_postgres.url,
        log_dir=tmp_path,
        extra_env={"DB_CONN_MAX_AGE": "60"},
    ) as stack:
        logins = stack.seed()
        clients = [Client(stack.url) for _ in range(CLIENTS)]
        for client, username in zip(clients, logins["people"][:CLIENTS], strict=True):
            client.login(username, logins["password"])

        phase = ["before"]
        samples: list[Sample] = []
        served = [threading.Event() for _ in clients]
        recovered = [threading.Event() for _ in clients]
        refused = {path: threading.Event() for path in PATHS}
        stop = threading.Event()

        def load(n: int) -> None:
            calls = 0
            while not stop.is_set():
                started_in, path = phase[0], PATHS[calls % len(PATHS)]
                calls += 1
                response = clients[n].get(path)
                samples.append(Sample(started_in, path, response))
                if response.status == 200:
                    (recovered if started_in == "after" else served)[n].set()
                elif response.status == 503:
                    refused[path].set()

        threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            assert all(event.wait(WAIT) for event in served), "no request succeeded before"
            phase[0] = "down"
            private_postgres.stop()
            assert all(event.wait(WAIT) for event in refused.values()), "nothing refused"
            private_postgres.start()
            phase[0] = "after"
            assert all(event.wait(WAIT) for event in recovered), "the app did not recover"
        finally:
            stop.set()
            for thread in threads:
                thread.join(WAIT)
        assert not any(thread.is_alive() for thread in threads)

        # A restart while no request is running leaves every worker holding a dead persistent
        # connection; the health check must replace it before the next request uses it.
        private_postgres.stop()
        private_postgres.start()
        quiet_restart = [client.get(path) for client in clients for path in PATHS * 2]
        assert [r.status for r in quiet_restart] == [200] * len(quiet_restart)
        assert all(process.poll() is None for process in stack.processes), "gunicorn died"

    statuses = {(s.phase, s.response.status) for s in samples}
    # A request that began just before the stop may meet it; one that began after the start may not.
    assert statuses <= {
        ("before", 200),
        ("before", 503),
        ("down", 200),
        ("down", 503),
        ("after", 200),
    }, statuses
    refusals = [s for s in samples if s.response.status == 503]
    assert {s.path for s in refusals} == set(PATHS)
    for sample in refusals:
        assert sample.response.headers.get("retry-after") == "5"
        if sample.path.startswith("/api/"):
            assert sample.response.json() == {"error": DATABASE_MESSAGE}
        else:
            assert "text/html" in sample.response.headers["content-type"]
            assert DATABASE_MESSAGE in sample.response.text
    slowest = max(s.response.finished - s.response.started for s in samples)
    assert slowest < MAX_REQUEST_SECONDS
