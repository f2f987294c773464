"""Load test with an independent invariant checker.

    python bench/load.py                      # 32 clients for 60 s
    python bench/load.py --clients 8 --seconds 10     # or --short (what CI runs)
    python bench/load.py --url http://127.0.0.1:8000 --logins logins.json
                                    # against a running stack seeded by `python -m bench.seed`

Starts a production-style stack on loopback (gunicorn with 4 workers and DEBUG off, PostgreSQL,
Redis and an rq worker; a dedicated database, ``rota_load`` on the embedded server or
``<name>_load`` next to DATABASE_URL's ``<name>``), seeds the demo program with a login
per person (bench/seed.py), and runs K
simulated people, each a thread with its own HTTP session, for T seconds: residents and faculty
read their schedule, edit their notes through the JSON API and the edit form (with versions,
retrying on 409/412), offer, take and cancel swaps; coordinators edit anyone's notes (hot rows),
start and cancel schedule generations and run the swap matcher. Then it waits for every
generation to finish and checks the database directly (SQL, not the app's code):

1. No double booking: at most one assignment per person per block.
2. No lost edit. Every edit reads the notes ``load c=<n> t=<token> p=<prev>`` and writes
   ``c=<n+1>`` with a fresh token and ``p=`` the token it read, so the edits a row went through
   form a chain that can be walked back from its final notes. An acknowledged edit is *present*
   (its token is a row's final notes) or *superseded* (a later edit built on it: its token is on
   the chain of some row's final notes; swaps move notes between rows, so any row). Generation
   keeps notes (it updates the rows it changes in place), so the only other way an edit may
   disappear is a publish that removed its row *and whose snapshot was read after the edit was
   acknowledged* (it saw the edit and decided the row should go). A publish whose snapshot
   predates the edit excuses nothing. A refused edit (409/412/4xx) must never show up on a chain.
3. Every executed swap is in the final rows: each row it moved still holds what the swap gave it
   (person, rotation), unless a later executed swap moved that row again, or a publish whose
   snapshot was read after the swap executed changed or removed the row.
4. Conservation: in every block where no publish changed anything, the block still has the same
   people and the same number of people on each rotation (swaps and notes edits only move people
   around).
5. Generation: every run ended in a terminal state (including ready for review, discarded,
   superseded), and every generated row belongs to a run that was published (nothing of a
   cancelled, failed or unpublished run was written).
6. No request got a 5xx or no answer at all, except a 503 that carries a JSON refusal of the
   documented "busy / generation in progress, try again" kind, counted and shown separately (a
   503 saying the database or the job queue is unavailable is a failure here).

Prints throughput and p50/p95/p99 latency per operation, then the verdict; exits 1 on any
violation. Only 127.0.0.1; every loop is bounded by the deadline.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import html
import json
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import Client, Response, Stats
from bench.load_checker import (
    TERMINAL,
    Hot,
    Ledger,
    Write,
    check,
    duty_hour_lines,
    notes_format,
    notes_parse,
    snapshot,
)
from bench.load_shifts import MARKET_OFFER, ShiftTraffic
from bench.stack import PYTHON, ROOT, Stack

EDIT_RETRIES = 5
FORM_VERSION = re.compile(rb'name="version" value="(\d+)"')
FORM_NOTES = re.compile(rb'<textarea name="notes"[^>]*>(.*?)</textarea>', re.S)
DRAIN_SECONDS = 120
# How often a person's edit goes to their hot row, and how many people have one.
HOT_SHARE = 0.4
HOT_PEOPLE = 4
# When (as fractions of the run) coordinators start generations, and what becomes of each:
# whole-year runs, so every edit and swap of the year races with a solve and its publish.
GENERATIONS = (
    (0.15, "auto"),  # published automatically (version-checked diff, bounded re-solve)
    (0.4, "cancel"),  # cancelled at once
    (0.55, "review"),  # a draft, published through the API when ready (409 if rows changed)
    (0.8, "auto"),
)
GENERATION_TIME_LIMIT = 20  # seconds; the solve stops earlier once it proves optimality
MATCHER_AT = (0.3, 0.6, 0.9)


class Person(ShiftTraffic):
    """A simulated user: one thread, one session, a bounded loop until the deadline."""

    def __init__(self, n: int, base_url: str, username: str, password: str, *, role: str,
                 ledger: Ledger, stats: Stats, deadline: float, hot: Hot,
                 year_id: int, env: dict) -> None:  # fmt: skip
        self.n = n
        self.client = Client(base_url, stats)
        self.username, self.password, self.role = username, password, role
        self.ledger, self.deadline, self.hot, self.year_id = ledger, deadline, hot, year_id
        self.env = env
        self.rng = random.Random(n)
        self.seq = 0
        self.mine: list[dict] = []
        self.my_swaps: list[int] = []
        self.error: BaseException | None = None
        # Coordinators' scheduled work: (when, what), by fraction of the run.
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def token(self) -> str:
        self.seq += 1
        return f"u{self.n:02d}-{self.seq:05d}"

    def run(self) -> None:
        try:
            self.client.login(self.username, self.password)
            actions = self.coordinator_actions() if self.role == "coordinator" else self.actions()
            names, weights = zip(*actions, strict=True)
            while time.monotonic() < self.deadline:
                if self.timers and time.monotonic() >= self.timers[0][0]:
                    self.timers.pop(0)[1]()
                    continue
                self.rng.choices(names, weights)[0]()
        except BaseException as error:  # reported by the main thread
            self.error = error

    # --- residents and faculty ---------------------------------------------------------------

    def actions(self):
        return [
            (self.read_schedule, 15),
            (self.refresh, 10),
            (self.edit_api, 30),
            (self.edit_form, 10),
            (self.offer_swap, 8),
            (self.take_swap, 8),
            (self.cancel_swap, 4),
            (self.read_swap, 3),
            (self.offer_shift, 4),
            (self.take_shift, 5),
            (self.trade_shift, 3),
            (self.answer_requests, 3),
        ]

    def read_schedule(self) -> None:
        self.client.get("/schedule/", op="schedule page")

    def refresh(self) -> None:
        response = self.client.get("/api/assignments", op="api list")
        if response.status == 200:
            self.mine = response.json()["results"]

    def pick_mine(self, *, future: bool = False) -> dict | None:
        if not self.mine:
            self.refresh()
        today = datetime.date.today().isoformat()
        rows = [a for a in self.mine if not future or a["block_start"] > today]
        hot = [a for a in rows if a["block_number"] == self.hot.block_number]
        if hot and self.rng.random() < HOT_SHARE:
            return hot[0]  # the row the coordinators fight over with its owner
        return self.rng.choice(rows) if rows else None

    def edit_api(self, assignment_id: int | None = None) -> None:
        if assignment_id is None:
            row = self.pick_mine()
            if row is None:
                return
            assignment_id = row["id"]
        response = self.client.get(f"/api/assignments/{assignment_id}", op="api get")
        for _attempt in range(EDIT_RETRIES):
            if response.status != 200 and "current" not in (response.json() or {}):
                if response.status == 404:
                    self.mine = [a for a in self.mine if a["id"] != assignment_id]
                return
            current = response.json().get("current", response.json())
            count, prev = notes_parse(current["notes"])
            token = self.token()
            started = time.time()
            response = self.client.request(
                "PATCH",
                f"/api/assignments/{assignment_id}",
                op="api patch",
                json_body={"notes": notes_format(count + 1, token, prev)},
                headers={"If-Match": response.headers.get("etag", "")},
            )
            self.ledger.add(
                Write(self.n, assignment_id, token, prev, count + 1, started, time.time(),
                      response.status, "api"),
            )  # fmt: skip
            if response.status not in (409, 412):
                return
            if time.monotonic() > self.deadline:
                return

    def edit_form(self) -> None:
        row = self.pick_mine()
        if row is None:
            return
        path = f"/assignments/{row['id']}/edit/"
        for _attempt in range(EDIT_RETRIES):
            page, csrf = self.client.form_csrf(path, op="form get")
            version = FORM_VERSION.search(page.body)
            notes = FORM_NOTES.search(page.body)
            if page.status not in (200, 409) or version is None or notes is None:
                return
            count, prev = notes_parse(html.unescape(notes[1].decode()).strip())
            token = self.token()
            started = time.time()
            response = self.client.post(
                path,
                op="form post",
                form={
                    "csrfmiddlewaretoken": csrf,
                    "version": version[1].decode(),
                    "notes": notes_format(count + 1, token, prev),
                },
            )
            self.ledger.add(
                Write(self.n, row["id"], token, prev, count + 1, started, time.time(),
                      response.status, "form"),
            )  # fmt: skip
            if response.status != 409 or time.monotonic() > self.deadline:
                return

    def offer_swap(self) -> None:
        row = self.pick_mine(future=True)
        if row is None:
            return
        response = self.client.post(
            "/api/swaps", op="swap create", json_body={"kind": "open", "offered": row["id"]}
        )
        if response.status == 201:
            self.my_swaps.append(response.json()["id"])

    def take_swap(self) -> None:
        page = self.client.get("/swaps/marketplace/", op="marketplace page")
        offers = sorted({int(x) for x in MARKET_OFFER.findall(page.body)})
        if offers:
            swap_id = self.rng.choice(offers)
            self.client.post(f"/api/swaps/{swap_id}/accept", op="swap accept", json_body={})
            self.mine = []  # what I hold may have changed

    def cancel_swap(self) -> None:
        if self.my_swaps:
            swap_id = self.my_swaps.pop(self.rng.randrange(len(self.my_swaps)))
            self.client.post(f"/api/swaps/{swap_id}/cancel", op="swap cancel", json_body={})

    def read_swap(self) -> None:
        if self.my_swaps:
            self.client.get(f"/api/swaps/{self.rng.choice(self.my_swaps)}", op="swap get")

    # --- coordinators --------------------------------------------------------------------------

    def coordinator_actions(self):
        return [(self.edit_hot, 40), (self.read_year, 5), (self.sick_call, 4)]

    def schedule(self, *, start: float, seconds: float, generations: bool, matcher: bool) -> None:
        """Generations (every other one cancelled) and matcher runs at set points of the run,
        so that even a short run has them."""
        if generations:
            for at, mode in GENERATIONS:
                self.timers.append((start + at * seconds, functools.partial(self.generate, mode)))
        if matcher:
            self.timers += [(start + at * seconds, self.run_matcher) for at in MATCHER_AT]
        self.timers.sort(key=lambda timer: timer[0])

    def edit_hot(self) -> None:
        if not self.hot.rows:
            self.read_year()
        if self.hot.rows:
            self.edit_api(self.rng.choice(self.hot.rows))

    def read_year(self) -> None:
        """Find the hot rows (a publish may remove or add rows)."""
        response = self.client.get(f"/api/assignments?year={self.year_id}", op="api list year")
        if response.status == 200:
            self.hot.rows = [
                r["id"]
                for r in response.json()["results"]
                if r["block_number"] == self.hot.block_number and r["person"] in self.hot.people
            ]

    def generate(self, mode: str) -> None:
        response = self.client.post(
            "/api/generation-runs",
            op="generation start",
            json_body={
                "academic_year": self.year_id,
                "time_limit_seconds": GENERATION_TIME_LIMIT,
                "workers": 1,
                "auto_publish": mode == "auto",
            },
        )
        if response.status != 202:
            return
        run_id = response.json()["id"]
        if mode == "cancel":
            self.client.get(f"/api/generation-runs/{run_id}", op="generation get")
            self.client.post(
                f"/api/generation-runs/{run_id}/cancel", op="generation cancel", json_body={}
            )
        elif mode == "review":
            self.later(1, functools.partial(self.publish, run_id))

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        self.timers.append((time.monotonic() + seconds, action))
        self.timers.sort(key=lambda timer: timer[0])

    def publish(self, run_id: int) -> None:
        """Publish the draft once it is ready (look again in a second while it solves); a 409
        (rows changed since its snapshot) is the expected answer under this load."""
        run = self.client.get(f"/api/generation-runs/{run_id}", op="generation get")
        status = (run.json() or {}).get("status") if run.status == 200 else None
        if status in ("queued", "running"):
            self.later(1, functools.partial(self.publish, run_id))
        elif status == "ready":
            self.client.post(
                f"/api/generation-runs/{run_id}/publish", op="generation publish", json_body={}
            )

    def run_matcher(self) -> None:
        started = time.monotonic()
        result = subprocess.run(
            [PYTHON, "manage.py", "match_swaps"], cwd=ROOT, env=self.env, capture_output=True,
            timeout=max(5.0, self.deadline - time.monotonic() + 30),
        )  # fmt: skip
        status = 200 if result.returncode == 0 else 500
        response = Response(status, {}, result.stderr[-300:])
        response.started, response.finished = started, time.monotonic()
        self.client.stats.record("matcher (command)", "RUN", "match_swaps", response)


# --- driver ------------------------------------------------------------------------------------


def drain_generations(conn, coordinator: Client) -> None:
    """Cancel what is still running, then wait (bounded) for every run to finish."""
    active = conn.execute(
        "SELECT id FROM scheduling_generationrun WHERE status <> ALL(%s)", [list(TERMINAL)]
    ).fetchall()
    for (run_id,) in active:
        coordinator.post(f"/api/generation-runs/{run_id}/cancel", json_body={})
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        (left,) = conn.execute(
            "SELECT count(*) FROM scheduling_generationrun WHERE status <> ALL(%s)",
            [list(TERMINAL)],
        ).fetchone()
        if left == 0:
            return
        time.sleep(0.5)  # waiting on another process's progress; there is no event to wait on


def run(args: argparse.Namespace) -> int:
    stats, ledger = Stats(), Ledger()
    with Stack(url=args.url, workers=args.workers, rq_workers=args.rq_workers) as stack:
        logins = json.loads(Path(args.logins).read_text()) if args.url else stack.seed()
        coordinators = max(1, args.clients // 16)
        people = logins["people"]
        with stack.connect() as conn:
            initial = snapshot(conn)
            (year_label,) = conn.execute(
                "SELECT label FROM residency_academicyear WHERE id = %s",
                [logins["academic_year_id"]],
            ).fetchone()
        duty_before = duty_hour_lines(stack.env, year_label)
        with stack.connect() as conn:
            # The hot rows: the last block's rows of the first few simulated people, edited by
            # their owners and by every coordinator.
            (last_block,) = conn.execute("SELECT max(number) FROM residency_block").fetchone()
            hot_people = {
                person_id
                for (person_id,) in conn.execute(
                    "SELECT p.id FROM residency_person p JOIN auth_user u ON u.id = p.user_id "
                    "WHERE u.username = ANY(%s)",
                    [people[: min(HOT_PEOPLE, args.clients - coordinators)]],
                ).fetchall()
            }
        hot = Hot(
            block_number=last_block, people=hot_people, shift_month=logins.get("shift_month", "")
        )
        started = time.monotonic()
        deadline = started + args.seconds
        users = [
            Person(n, stack.url, logins["coordinator"], logins["password"], role="coordinator",
                   ledger=ledger, stats=stats, deadline=deadline, hot=hot,
                   year_id=logins["academic_year_id"], env=stack.env)
            if n < coordinators
            else Person(n, stack.url, people[(n - coordinators) % len(people)],
                        logins["password"], role="person", ledger=ledger, stats=stats,
                        deadline=deadline, hot=hot, year_id=logins["academic_year_id"],
                        env=stack.env)
            for n in range(args.clients)
        ]  # fmt: skip
        # The first coordinator starts the generations, the last one runs the matcher.
        users[0].schedule(start=started, seconds=args.seconds, generations=True, matcher=False)
        users[coordinators - 1].schedule(
            start=started, seconds=args.seconds, generations=False, matcher=True
        )
        print(f"{args.clients} clients ({coordinators} coordinators) for {args.seconds}s "
              f"against {stack.url}", flush=True)  # fmt: skip
        threads = [threading.Thread(target=u.run, daemon=True) for u in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.seconds + 120)
        elapsed = time.monotonic() - started
        coordinator = Client(stack.url)
        coordinator.login(logins["coordinator"], logins["password"])
        with stack.connect() as conn:
            drain_generations(conn, coordinator)
        duty_after = duty_hour_lines(stack.env, year_label)
        with stack.connect() as conn:
            verdict = check(
                conn, ledger=ledger, stats=stats, initial=initial, duty=(duty_before, duty_after)
            )
    for user in users:
        if user.error is not None:
            verdict.fail(f"client {user.n} crashed: {user.error!r}")
    if any(thread.is_alive() for thread in threads):
        verdict.fail("some clients did not stop")
    print()
    print(stats.table(elapsed))
    print()
    for note in verdict.notes:
        print(f"  {note}")
    if verdict.violations:
        print(f"\nVERDICT: FAIL ({len(verdict.violations)} violations)")
        for violation in verdict.violations:
            print(f"  - {violation}")
        return 1
    print("\nVERDICT: OK (all invariants hold)")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--short", action="store_true", help="8 clients for 10 s (CI)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--rq-workers", type=int, default=1)
    parser.add_argument("--url", help="use this running server instead of starting one")
    parser.add_argument("--logins", help="with --url: JSON file as printed by bench/seed.py")
    args = parser.parse_args()
    if args.short:
        args.clients, args.seconds = 8, 10
    if args.url and not args.logins:
        parser.error("--url needs --logins (the JSON bench/seed.py printed)")
    sys.exit(run(args))


if __name__ == "__main__":
    main()
