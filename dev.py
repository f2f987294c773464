#!/usr/bin/env python3
"""Rota's two commands. Standard library only; runs with any Python 3.11+.

    python3 dev.py run                 set up, migrate, seed the demo, serve on 127.0.0.1:8000
                                       with an rq worker; Ctrl-C stops both
    python3 dev.py test [pytest args]  set up, then pytest (exit code = pytest's)
    python3 dev.py setup               set up only (CI runs it once before its concurrent test runs,
                                       so they do not race to create .venv)

Setup creates .venv if missing and installs the project (pyproject.toml, with the dev extras)
into it; a stamp file holding the hash of pyproject.toml makes a second run skip the install.
Without DATABASE_URL / REDIS_URL, Django's settings start the embedded PostgreSQL and Redis under
var/ (stop them with `.venv/bin/python -m residency.embedded stop`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".rota-installed"
ADDRESS = os.environ.get("ROTA_ADDRESS", "127.0.0.1:8000")
STOP_TIMEOUT = 15  # seconds a child gets to exit after SIGTERM before it is killed


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def setup() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py is what tells an old Python so)
        sys.exit("Rota needs Python 3.11 or newer.")
    if not PYTHON.exists():
        say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    say("installing dependencies from pyproject.toml (first run only)")
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--editable", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted + "\n")


def manage(*args: str) -> None:
    subprocess.run([str(PYTHON), "manage.py", *args], check=True, cwd=ROOT)


def run() -> int:
    setup()
    manage("migrate", "--noinput")
    manage("seed_demo")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # Each child leads its own process group, so stopping it also stops what it started
    # (runserver's autoreloader runs the server in a child process).
    children = {
        name: subprocess.Popen([str(PYTHON), "manage.py", *args], cwd=ROOT, start_new_session=True)
        for name, args in (
            ("web server", ("runserver", ADDRESS)),
            ("rq worker", ("rqworker", "default", "notifications")),
        )
    }
    say(f"Rota is running at http://{ADDRESS}/ (admin at /admin/). Ctrl-C stops it.")
    exit_code = 0
    while not stop.wait(0.5):
        for name, child in children.items():
            if child.poll() is not None:
                say(f"the {name} exited with status {child.returncode}; stopping")
                exit_code = child.returncode or 1
                stop.set()
    say("stopping the web server and the rq worker")
    for child in children.values():
        _signal_group(child, signal.SIGTERM)
    for name, child in children.items():
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            say(f"the {name} did not stop in {STOP_TIMEOUT}s; killing it")
            _signal_group(child, signal.SIGKILL)
            child.wait()
    return exit_code


def _signal_group(child: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(child.pid, sig)


def test(args: list[str]) -> int:
    setup()
    process = subprocess.Popen([str(PYTHON), "-m", "pytest", *args], cwd=ROOT)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue  # pytest got the Ctrl-C too; let it finish and report


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"] and len(argv) == 1:
        return run()
    if argv[:1] == ["test"]:
        return test(argv[1:])
    if argv == ["setup"]:
        setup()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
