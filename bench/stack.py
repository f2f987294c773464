"""A production-style Rota stack on loopback, for benchmarks, the load test and fault tests.

``Stack`` prepares a dedicated PostgreSQL database (``<name>_load`` by default, where ``<name>``
is the database DATABASE_URL names, ``rota`` on the embedded server; created next to
whatever DATABASE_URL points at, or on the embedded server) and a dedicated Redis database number,
migrates, then starts gunicorn (several sync workers, DEBUG off) and an rq worker as child
processes, and stops exactly those children at the end. Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The bench's own Redis database number: the dev worker uses 0 and the test suite 13.
# ROTA_BENCH_REDIS_DB picks another one on a Redis shared with other runs.
BENCH_REDIS_DB = int(os.environ.get("ROTA_BENCH_REDIS_DB", "12"))
READY_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_database_url() -> str:
    """DATABASE_URL, or the embedded server's URL (started on demand)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    sys.path.insert(0, str(ROOT))
    from residency import embedded

    return embedded.postgres_database_url()


def base_redis_url() -> str:
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    sys.path.insert(0, str(ROOT))
    from residency import embedded

    return embedded.redis_url()


def default_log_dir() -> Path:
    """``bench/`` in the project-local folder (var/, or ROTA_VAR_DIR): two runs of one checkout
    at once (CI's two test passes) each set their own ROTA_VAR_DIR and never share a log file."""
    sys.path.insert(0, str(ROOT))
    from residency import embedded

    return embedded.var_dir() / "bench"


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or "postgres"


def with_database_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{quote(name)}"))


def with_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(db)
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}"))


def recreate_database(base_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``base_url``; return its URL."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database_name(base_url, name)


def wait_http(
    url: str, timeout: float = READY_TIMEOUT, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"{process.args[0]} exited with {process.returncode} before answering"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.1)  # polling a server we just started; no event to wait on


class Stack:
    """Database, migrations, gunicorn and an rq worker, started in that order.

    ``url`` given: nothing is started, the bench talks to that server and reads the database
    named by DATABASE_URL as it is (the caller seeds it).
    """

    def __init__(
        self,
        *,
        database_suffix: str = "load",
        workers: int = 4,
        rq_workers: int = 1,
        settings_module: str = "residency.settings",
        url: str | None = None,
        extra_env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        server_database_url: str | None = None,
        server_redis_url: str | None = None,
    ) -> None:
        self.database_suffix = database_suffix
        self.workers = workers
        self.rq_workers = rq_workers
        self.settings_module = settings_module
        self.external_url = url
        self.extra_env = extra_env or {}
        self.log_dir = log_dir or default_log_dir()
        # The servers to use (default: DATABASE_URL / REDIS_URL or the embedded ones).
        self.server_database_url = server_database_url
        self.server_redis_url = server_redis_url
        self.processes: list[subprocess.Popen] = []
        self.url = url or ""
        self.database_url = ""
        self.redis_url = ""
        self.env: dict[str, str] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def prepare(self) -> None:
        """Database and Redis, migrated and empty; ``self.env`` for child processes."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if self.external_url:
            self.database_url = os.environ.get("DATABASE_URL") or base_database_url()
            self.redis_url = base_redis_url()
        else:
            server_url = self.server_database_url or base_database_url()
            name = f"{database_name(server_url)}_{self.database_suffix}"
            self.database_url = recreate_database(server_url, name)
            self.redis_url = with_redis_db(
                self.server_redis_url or base_redis_url(), BENCH_REDIS_DB
            )
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }
        if not self.external_url:
            import redis

            redis.Redis.from_url(self.redis_url).flushdb()
            self.manage("migrate", "--no-input", "-v", "0")

    def start(self) -> None:
        self.prepare()
        if self.external_url:
            return
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        gunicorn = self.spawn(
            "gunicorn",
            [
                PYTHON, "-m", "gunicorn", "residency.wsgi",
                "-w", str(self.workers),
                "-b", f"127.0.0.1:{port}",
                "--timeout", "60",
                "--graceful-timeout", "5",
            ],
        )  # fmt: skip
        for n in range(self.rq_workers):
            self.start_rq_worker(name=f"rqworker{n}")
        wait_http(f"{self.url}/accounts/login/", process=gunicorn)

    def start_rq_worker(self, *, name: str = "rqworker") -> subprocess.Popen:
        return self.spawn(name, [PYTHON, "manage.py", "rqworker", "default"])

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed by the child's exit
        process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=timeout,
            capture_output=True,
            text=True,
        )

    def seed(self) -> dict:
        """Seed the bench program (bench/seed.py: the demo program, a login per person)."""
        result = subprocess.run(
            [PYTHON, "-m", "bench.seed"],
            cwd=ROOT, env=self.env, check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        return json.loads(result.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        """Stop the children this stack started (by pid, TERM then KILL)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        self.processes.clear()

    # --- database access for seeding and checking (not through the app) --------------------

    def connect(self):
        import psycopg

        return psycopg.connect(self.database_url, autocommit=True)
