"""The embedded default: with no DATABASE_URL / REDIS_URL, both servers start under ROTA_VAR_DIR."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import psycopg, redis
from residency import embedded
database_url, redis_url = embedded.postgres_database_url(), embedded.redis_url()
with psycopg.connect(database_url) as conn:
    print("postgres", conn.execute("SELECT current_database()").fetchone()[0])
print("redis", redis.Redis.from_url(redis_url).ping())
"""


def pid_files(var_dir: Path) -> list[Path]:
    return [var_dir / "pg" / "postmaster.pid", var_dir / "redis" / "redis.pid"]


def run(var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["ROTA_VAR_DIR"] = str(var_dir)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def var_dir():
    """A fresh folder outside pytest's tmp_path. As root, pgserver runs postgres as its own user,
    which must traverse every parent folder; pytest's /tmp/pytest-of-<user> is reset to 0700 by
    each pytest session that starts (CI's other pass, another run on the machine), which would
    lock that user out mid-test. tempfile's /tmp is world-traversable (as in faults/servers.py)."""
    folder = Path(tempfile.mkdtemp(prefix="rota-embedded-"))
    folder.chmod(0o755)
    yield folder / "var"
    shutil.rmtree(folder, ignore_errors=True)


def test_embedded_servers_start_answer_and_stop(var_dir):
    try:
        started = run(var_dir, "-c", SCRIPT)
        assert started.returncode == 0, started.stderr
        assert started.stdout.split("\n")[:2] == ["postgres rota", "redis True"]
        pids = [pid_file.read_text().split()[0] for pid_file in pid_files(var_dir)]
        # pgserver's own process count, left empty by processes that exited together, does
        # not stop the next start.
        (var_dir / "pg" / ".handle_pids.json").write_text("")
        # A second process reuses the running servers instead of starting new ones.
        again = run(var_dir, "-c", SCRIPT)
        assert again.returncode == 0, again.stderr
        assert [pid_file.read_text().split()[0] for pid_file in pid_files(var_dir)] == pids
    finally:
        stopped = run(var_dir, "-m", "residency.embedded", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == "stopped: postgresql, redis"
    assert not (var_dir / "pg" / "postmaster.pid").exists()
