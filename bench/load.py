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
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import NO_RESPONSE, Client, Response, Stats
from bench.stack import PYTHON, ROOT, Stack

NOTES = re.compile(r"^load c=(\d+) t=(\S+) p=(\S+)$")
EDIT_RETRIES = 5
FORM_VERSION = re.compile(rb'name="version" value="(\d+)"')
FORM_NOTES = re.compile(rb'<textarea name="notes"[^>]*>(.*?)</textarea>', re.S)
MARKET_OFFER = re.compile(rb"/swaps/(\d+)/(?:accept|confirm)/")  # "Take it" opens the confirmation
MY_SHIFT = re.compile(rb"/swaps/shifts/(\d+)/trade/")
CALENDAR_SHIFT = re.compile(rb"/shifts/(\d+)/edit/")
ASSIGN_PERSON = re.compile(rb'name="person" value="(\d+)"')
SICK_CALL_PAGE = re.compile(r"/swaps/sick-calls/(\d+)/")
LABEL = re.compile(r"\((\w+)\), block (\d+) \(")
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
TERMINAL = ("cancelled", "ready", "succeeded", "discarded", "superseded", "failed")


def notes_parse(notes: str) -> tuple[int, str]:
    match = NOTES.match(notes or "")
    return (int(match[1]), match[2]) if match else (0, "-")


def notes_format(count: int, token: str, prev: str) -> str:
    return f"load c={count} t={token} p={prev}"


@dataclass
class Write:
    """One edit attempt that got an answer (or none)."""

    client: int
    assignment: int
    token: str
    prev: str
    count: int
    started: float
    finished: float
    status: int
    via: str

    @property
    def acked(self) -> bool:
        return self.status == 200 or (self.via == "form" and self.status == 302)

    @property
    def outcome_unknown(self) -> bool:
        return self.status == NO_RESPONSE or (self.status >= 500 and self.status != 503)


@dataclass
class Hot:
    """The rows everyone fights over (shared by every client, refreshed after generation)."""

    block_number: int
    people: set[int]
    rows: list[int] = field(default_factory=list)
    # The month bench/seed.py gave shifts (YYYY-MM): where coordinators find sick calls.
    shift_month: str = ""


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    writes: list[Write] = field(default_factory=list)
    # Shift requests (takes, accepted trades) acknowledged as executed, and sick calls the
    # coordinators were told are covered.
    shift_trades: list[int] = field(default_factory=list)
    sick_calls_covered: list[int] = field(default_factory=list)

    def add(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)


class Person:
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

    # --- shifts: the open pool, trades --------------------------------------------------------

    def my_shifts(self) -> list[int]:
        page = self.client.get("/swaps/shifts/", op="shift trades page")
        return sorted({int(x) for x in MY_SHIFT.findall(page.body)})

    def offer_shift(self) -> None:
        mine = self.my_shifts()
        if mine:
            self.client.post(
                "/api/swaps",
                op="shift offer",
                json_body={"kind": "open", "offered_shift": self.rng.choice(mine)},
            )

    def open_shifts(self) -> list[dict]:
        response = self.client.get("/api/shifts/open", op="shifts open")
        return response.json()["results"] if response.status == 200 else []

    def take_shift(self) -> None:
        offers = self.open_shifts()
        if offers:
            offer = self.rng.choice(offers)
            response = self.client.post(
                f"/api/shifts/{offer['shift']}/take", op="shift take", json_body={}
            )
            self._acked_shift_trade(response)

    def trade_shift(self) -> None:
        """Ask the holder of a pooled shift for it, one-to-one, against one of mine."""
        offers, mine = self.open_shifts(), self.my_shifts()
        if offers and mine:
            offer = self.rng.choice(offers)
            self.client.post(
                "/api/swaps",
                op="shift trade create",
                json_body={
                    "kind": "one_to_one",
                    "offered_shift": self.rng.choice(mine),
                    "wanted_shift": offer["shift"],
                },
            )

    def answer_requests(self) -> None:
        page = self.client.get("/swaps/", op="swaps overview")
        inbox = sorted({int(x) for x in MARKET_OFFER.findall(page.body)})
        if inbox:
            swap_id = self.rng.choice(inbox)
            response = self.client.post(
                f"/api/swaps/{swap_id}/accept", op="swap accept (inbox)", json_body={}
            )
            self._acked_shift_trade(response)
            self.mine = []

    def _acked_shift_trade(self, response: Response) -> None:
        if response.status == 200:
            body = response.json()
            if body.get("unit") == "shift" and body.get("status") == "executed":
                with self.ledger.lock:
                    self.ledger.shift_trades.append(body["id"])

    # --- coordinators --------------------------------------------------------------------------

    def coordinator_actions(self):
        return [(self.edit_hot, 40), (self.read_year, 5), (self.sick_call, 4)]

    def sick_call(self) -> None:
        """Mark someone out for a shift of the seeded month, then assign the best-ranked
        replacement or post it to the open pool."""
        month = self.hot.shift_month
        if not month:
            return
        calendar = self.client.get(f"/shifts/calendar/?month={month}", op="shift calendar")
        shifts = sorted({int(x) for x in CALENDAR_SHIFT.findall(calendar.body)})
        if not shifts:
            return
        _page, csrf = self.client.form_csrf("/swaps/sick-calls/", op="sick calls page")
        marked = self.client.post(
            "/swaps/sick-calls/",
            op="sick call mark",
            form={"csrfmiddlewaretoken": csrf, "shift": self.rng.choice(shifts)},
        )
        found = SICK_CALL_PAGE.search(marked.headers.get("location", ""))
        if marked.status != 302 or found is None:
            return
        path = f"/swaps/sick-calls/{found[1]}/"
        page, csrf = self.client.form_csrf(path, op="sick call page")
        people = ASSIGN_PERSON.findall(page.body)
        if people and self.rng.random() < 0.6:
            response = self.client.post(
                path,
                op="sick call assign",
                form={"csrfmiddlewaretoken": csrf, "action": "assign", "person": people[0]},
            )
            if response.status == 302 and response.headers.get("location") == "/swaps/sick-calls/":
                with self.ledger.lock:
                    self.ledger.sick_calls_covered.append(int(found[1]))
        else:
            self.client.post(
                path,
                op="sick call post",
                form={"csrfmiddlewaretoken": csrf, "action": "post", "bonus": "load bonus"},
            )

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


# --- the checker: reads the database, not the app ----------------------------------------------


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(message)


def snapshot(conn) -> dict:
    rows = conn.execute(
        "SELECT block_id, rotation_id, person_id FROM residency_assignment"
    ).fetchall()
    per_rotation = Counter((block, rotation) for block, rotation, _ in rows)
    people = defaultdict(set)
    for block, _, person in rows:
        people[block].add(person)
    shift_counts = Counter(conn.execute("SELECT date, shift_type_id FROM shifts_shift").fetchall())
    return {"per_rotation": per_rotation, "people": dict(people), "shift_counts": shift_counts}


def duty_hour_lines(env: dict, year_label: str) -> set[str]:
    """Every rule the year's shifts break, as the shifts app's validator words it (the duty-hour
    engine is the app's pure function: the checker runs it, it does not re-implement it)."""
    result = subprocess.run(
        [PYTHON, "manage.py", "validate_shifts", year_label], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return {line for line in result.stdout.splitlines()[:-1] if line.strip()}


def check_shifts(conn, *, ledger: Ledger, initial: dict, final: dict, duty_before: set[str],
                 duty_after: set[str], verdict: Verdict) -> None:  # fmt: skip
    """7. The daily layer: no overlapping shifts, no shift created or lost by trades and sick
    calls, every acknowledged trade in the final rows, no new duty-hour violation without a
    coordinator's recorded override."""
    overlaps = conn.execute(
        "SELECT a.id, b.id, a.person_id FROM shifts_shift a JOIN shifts_shift b "
        "ON a.person_id = b.person_id AND a.id < b.id "
        "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
    ).fetchall()
    for a, b, person in overlaps:
        verdict.fail(f"overlap: person {person} holds shifts {a} and {b} at the same time")
    if final["shift_counts"] != initial["shift_counts"]:
        verdict.fail("shift conservation: the number of shifts per date and type changed")
    holders = dict(conn.execute("SELECT id, person_id FROM shifts_shift").fetchall())
    moves: list[tuple[float, int, int, int]] = []  # (when, shift, person, request or 0)
    pairs: dict[int, tuple[int, int, int, int]] = {}
    executed = conn.execute(
        "SELECT id, requester_id, counterpart_id, offered_shift_id, wanted_shift_id, "
        "wanted_version, executed_at FROM swaps_swaprequest "
        "WHERE unit = 'shift' AND status = 'executed'"
    ).fetchall()
    for swap_id, requester, counterpart, offered, wanted, wanted_version, at in executed:
        if offered is not None:
            moves.append((at.timestamp(), offered, counterpart, swap_id))
        if wanted_version is not None and wanted is not None:
            moves.append((at.timestamp(), wanted, requester, swap_id))
            pairs[swap_id] = (offered, wanted, requester, counterpart)
    for shift_id, person, at in conn.execute(
        "SELECT shift_id, replaced_by_id, resolved_at FROM shifts_sickcall "
        "WHERE resolved_at IS NOT NULL AND replaced_by_id IS NOT NULL"
    ).fetchall():
        moves.append((at.timestamp(), shift_id, person, 0))
    last: dict[int, tuple[int, int]] = {}
    for _at, shift_id, person, swap_id in sorted(moves):
        last[shift_id] = (person, swap_id)
    content_exchanges = 0
    for shift_id, (person, swap_id) in last.items():
        if holders.get(shift_id) == person:
            continue
        pair = pairs.get(swap_id)
        # Two shifts overlapping in time are exchanged by content (each holder keeps their row,
        # see docs/swaps.md): then each row stays with its requester/counterpart.
        if pair and holders.get(pair[0]) == pair[2] and holders.get(pair[1]) == pair[3]:
            content_exchanges += 1
            continue
        verdict.fail(
            f"shift {shift_id}: held by person {holders.get(shift_id)}, but the last executed "
            f"move (request {swap_id or 'sick call'}) gave it to person {person}"
        )
    statuses = dict(
        conn.execute(
            "SELECT id, status FROM swaps_swaprequest WHERE id = ANY(%s)", [ledger.shift_trades]
        ).fetchall()
    )
    for swap_id in ledger.shift_trades:
        if statuses.get(swap_id) != "executed":
            verdict.fail(
                f"shift trade {swap_id} was acknowledged executed, now {statuses.get(swap_id)}"
            )
    covered = dict(
        conn.execute(
            "SELECT id, replaced_by_id FROM shifts_sickcall WHERE id = ANY(%s)",
            [ledger.sick_calls_covered],
        ).fetchall()
    )
    for call_id in ledger.sick_calls_covered:
        if covered.get(call_id) is None:
            verdict.fail(f"sick call {call_id} was acknowledged covered, but is not")
    (overrides,) = conn.execute("SELECT count(*) FROM shifts_dutyhouroverride").fetchone()
    new = sorted(duty_after - duty_before)
    if new and not overrides:
        for line in new[:20]:
            verdict.fail(f"duty hours: new violation without an override: {line}")
    (open_calls,) = conn.execute(
        "SELECT count(*) FROM shifts_sickcall WHERE resolved_at IS NULL"
    ).fetchone()
    verdict.notes.append(
        f"shifts: {len(executed)} shift trades executed ({len(ledger.shift_trades)} "
        f"acknowledged to clients, {content_exchanges} by content), {len(last)} moved shifts "
        f"checked, {len(ledger.sick_calls_covered)} sick calls covered by a coordinator, "
        f"{open_calls} still open; {len(overlaps)} overlaps; duty-hour violations "
        f"{len(duty_before)} before, {len(duty_after)} after, {len(new)} new "
        f"({overrides} overrides recorded)"
    )


def check(conn, *, ledger: Ledger, stats: Stats, initial: dict, duty: tuple = ()) -> Verdict:
    verdict = Verdict()
    runs = conn.execute(
        "SELECT id, status, finished_at FROM scheduling_generationrun ORDER BY id"
    ).fetchall()
    # Published runs and when they read their snapshot: a publish may supersede only what was
    # acknowledged before that moment (it saw it); anything later it must have left alone.
    published_runs = conn.execute(
        "SELECT id, snapshot_at, published_at FROM scheduling_generationrun "
        "WHERE status = 'succeeded' AND snapshot_at IS NOT NULL"
    ).fetchall()
    snapshot_of = {run_id: at.timestamp() for run_id, at, _ in published_runs}
    # Between a published run's snapshot and its publish: what the run could not have seen.
    blind = [(at.timestamp(), (done or at).timestamp()) for _, at, done in published_runs]
    removed_rows: dict[int, float] = {}  # assignment id -> snapshot of the publish removing it
    removed_slots: dict[tuple[int, int], float] = {}  # (person, block number) -> the same
    published_blocks: set[int] = set()
    for run_id, kind, assignment_id, person_id, block_id, number in conn.execute(
        "SELECT c.run_id, c.kind, c.assignment_id, c.person_id, c.block_id, b.number "
        "FROM scheduling_generationchange c JOIN residency_block b ON b.id = c.block_id "
        "WHERE c.run_id = ANY(%s)",
        [list(snapshot_of)],
    ).fetchall():
        published_blocks.add(block_id)
        if kind == "remove":
            removed_rows[assignment_id] = snapshot_of[run_id]
            slot = (person_id, number)
            removed_slots[slot] = max(removed_slots.get(slot, 0.0), snapshot_of[run_id])

    # 1. Double booking.
    doubles = conn.execute(
        "SELECT person_id, block_id, count(*) FROM residency_assignment "
        "GROUP BY person_id, block_id HAVING count(*) > 1"
    ).fetchall()
    for person, block, n in doubles:
        verdict.fail(f"double booking: person {person} has {n} assignments in block {block}")

    # 2. Edits: walk every row's chain back from its final notes.
    final_notes = conn.execute("SELECT id, notes FROM residency_assignment").fetchall()
    by_token = {w.token: w for w in ledger.writes}
    applied = {w.token: w for w in ledger.writes if w.acked or w.outcome_unknown}
    on_chain: set[str] = set()
    for row_id, notes in final_notes:
        count, token = notes_parse(notes)
        while token not in on_chain:
            write = by_token.get(token)
            if write is None:
                break  # notes that no client of this run wrote: the start of the chain
            if token not in applied:
                verdict.fail(
                    f"refused edit {token} (HTTP {write.status}) is on row {row_id}'s notes"
                )
            if write.count != count:
                verdict.fail(f"row {row_id}: chain count {write.count} != {count} at {token}")
            on_chain.add(token)
            token, count = write.prev, count - 1
    acked = [w for w in ledger.writes if w.acked]
    existing = {row_id for row_id, _ in final_notes}
    # Superseded by a publish: it removed the row, and read its snapshot after the edit's answer.
    removed = [
        w
        for w in acked
        if w.token not in on_chain
        and w.assignment not in existing
        and removed_rows.get(w.assignment, float("-inf")) > w.finished
    ]
    lost = [w for w in acked if w.token not in on_chain and w not in removed]
    for write in lost[:20]:
        verdict.fail(
            f"lost edit: {write.token} on assignment {write.assignment} ({write.via}, "
            f"acknowledged {write.status}) is on no row's chain"
        )
    if len(lost) > 20:
        verdict.fail(f"... and {len(lost) - 20} more lost edits")
    verdict.notes.append(
        f"edits: {len(acked)} acknowledged, {len(acked) - len(lost) - len(removed)} present or "
        f"superseded, {len(removed)} on rows a later-read publish removed, {len(lost)} lost "
        f"({sum(1 for w in acked if _during(w.finished, blind))} acknowledged while a run that "
        f"was then published was solving); "
        f"{sum(1 for w in ledger.writes if w.status in (409, 412))} refused as stale"
    )

    # 3. Executed swaps.
    rows = {
        row_id: (person, code, generation_run)
        for row_id, person, code, generation_run in conn.execute(
            "SELECT a.id, a.person_id, r.code, a.generation_run_id FROM residency_assignment a "
            "JOIN residency_rotationtemplate r ON r.id = a.rotation_id"
        ).fetchall()
    }
    swaps = conn.execute(
        "SELECT id, requester_id, counterpart_id, offered_id, wanted_id, offered_label, "
        "wanted_label, executed_at FROM swaps_swaprequest "
        "WHERE status = 'executed' AND unit = 'block' ORDER BY executed_at, id"
    ).fetchall()
    expected: dict[int, tuple[int, int, str | None, float]] = {}
    checked = superseded = 0
    for (swap_id, requester, counterpart, offered, wanted, offered_label, wanted_label,
         executed_at) in swaps:  # fmt: skip
        # The labels record each side as it was when the swap executed (unchanged since).
        offered_code, offered_block = _label_parts(offered_label)
        wanted_code, wanted_block = _label_parts(wanted_label)
        at = executed_at.timestamp()
        if wanted_label and offered_block == wanted_block:
            # Same block: each person keeps their row, the rows exchange what they hold.
            outcome = [
                (offered, requester, wanted_code, offered_block),
                (wanted, counterpart, offered_code, wanted_block),
            ]
        else:
            outcome = [(offered, counterpart, offered_code, offered_block)]
            if wanted_label:
                outcome.append((wanted, requester, wanted_code, wanted_block))
        for row_id, person, code, block in outcome:
            if row_id is None:  # the row was deleted since (the foreign key was set to NULL)
                if removed_slots.get((person, block), float("-inf")) > at:
                    superseded += 1  # by a publish that read the swap's result
                else:
                    verdict.fail(
                        f"swap {swap_id}: a row it moved was deleted by no publish that saw it"
                    )
                continue
            expected[row_id] = (swap_id, person, code, at)  # a later swap of the row wins
    for row_id, (swap_id, person, code, at) in expected.items():
        if row_id not in rows:
            verdict.fail(f"swap {swap_id}: row {row_id} vanished without its swaps noticing")
            continue
        final_person, final_code, generation_run = rows[row_id]
        read_at = snapshot_of.get(generation_run) if generation_run else None
        if read_at is not None and read_at > at:
            superseded += 1  # changed by a publish whose snapshot already had the swap
            continue
        checked += 1
        if final_person != person or final_code != code:
            verdict.fail(
                f"swap {swap_id}: row {row_id} holds person {final_person} on {final_code}, "
                f"the swap left person {person} on {code}"
            )
    overlapping = sum(1 for swap in swaps if _during(swap[7].timestamp(), blind))
    verdict.notes.append(
        f"swaps: {len(swaps)} executed ({overlapping} while a published run was solving), "
        f"{checked} moved rows checked against the final rows, "
        f"{superseded} superseded by a publish that read them"
    )

    # 4. Conservation, in the blocks where no publish changed anything.
    rewritten = published_blocks
    final = snapshot(conn)
    kept = set(initial["people"]) - rewritten
    for block in sorted(kept):
        if final["people"].get(block) != initial["people"][block]:
            verdict.fail(f"conservation: the people of block {block} changed without generation")
        counts = {k: n for k, n in final["per_rotation"].items() if k[0] == block}
        if counts != {k: n for k, n in initial["per_rotation"].items() if k[0] == block}:
            verdict.fail(f"conservation: people per rotation changed in block {block}")
    verdict.notes.append(
        f"conservation: {len(kept)} blocks keep their people and rotation counts "
        f"({len(rewritten)} changed by a publish)"
    )

    if duty:
        check_shifts(conn, ledger=ledger, initial=initial, final=final, duty_before=duty[0],
                     duty_after=duty[1], verdict=verdict)  # fmt: skip

    # 5. Generation runs (a publish leaves its run "succeeded").
    statuses = Counter(status for _, status, _ in runs)
    for run_id, status, _ in runs:
        if status not in TERMINAL:
            verdict.fail(f"generation run {run_id} ended {status}, not in a terminal state")
    foreign = conn.execute(
        "SELECT DISTINCT a.generation_run_id, g.status FROM residency_assignment a "
        "LEFT JOIN scheduling_generationrun g ON g.id = a.generation_run_id "
        "WHERE a.generation_run_id IS NOT NULL AND g.status IS DISTINCT FROM 'succeeded'"
    ).fetchall()
    for run_id, status in foreign:
        verdict.fail(f"rows written by generation run {run_id}, which is {status}")
    verdict.notes.append(f"generation runs: {dict(statuses) or 'none'}")

    # 6. HTTP.
    busy = 0
    for op, request, status, body in stats.failures:
        if (
            status == 503
            and body.startswith("{")
            and '"error"' in body
            and ("unavailable" not in body)
        ):
            busy += 1
            continue
        verdict.fail(f"HTTP {status or 'no answer'} on {op} ({request}): {body[:160]}")
    verdict.notes.append(
        f"HTTP: {stats.total()} requests, {busy} refused 503 busy/try-again (by design), "
        f"{len(stats.failures) - busy} server errors or no answer"
    )
    return verdict


def _during(at: float, windows: list[tuple[float, float]]) -> bool:
    return any(start < at < end for start, end in windows)


def _label_parts(label: str) -> tuple[str | None, int | None]:
    """(rotation code, block number) from a swap's label, as swaps.selectors words it."""
    match = LABEL.search(label or "")
    return (match[1], int(match[2])) if match else (None, None)


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
