"""Edit throughput: the versioned edit endpoint against the same endpoint without the check.

    python bench/edits.py                 # 1, 4 and 16 clients, 5 s per run
    python bench/edits.py --seconds 10 --clients 1 4 16

Starts gunicorn (4 workers, DEBUG off) with bench/settings_bench.py, which adds a bench-only
``PATCH /bench/assignments/<id>/unconditional`` (last writer wins) next to the real
``PATCH /api/assignments/<id>`` (If-Match; a stale version answers 412 and the client retries on
the current row the 412 carries). Each client loops read-modify-write: read the notes counter
``c=<n>``, write ``c=<n+1>``. On distinct rows (one row per client) and on one hot row shared by
all, it prints acknowledged edits/s, kept edits/s (acknowledged and still in the final counter),
PATCH requests/s and latency, stale answers, and lost updates: acknowledged increments that are
not in the final counter (read from the database).

On distinct rows it also runs the versioned endpoint with history off
(``/bench/nohistory/...``: no history context, the assignment table's history triggers disabled
for that measurement) and prints with/without history throughput ratios.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.client import Client, Stats, percentiles
from bench.stack import Stack

COUNTER = re.compile(r"^bench c=(\d+)$")
# The versioned endpoint with history off: no context and the assignment table's history
# triggers disabled while this mode runs (same server, same rows, same run).
NO_HISTORY = "versioned-nohistory"


def counter(notes: str) -> int:
    match = COUNTER.match(notes or "")
    return int(match[1]) if match else 0


@dataclass
class Result:
    mode: str
    rows: str
    clients: int
    seconds: float
    acked: int = 0
    stale: int = 0
    other: int = 0
    lost: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def edits_per_second(self) -> float:
        return self.acked / self.seconds

    @property
    def kept_per_second(self) -> float:
        """Acknowledged edits that are still in the final counter."""
        return (self.acked - self.lost) / self.seconds

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds


def edit_loop(client: Client, row: int, mode: str, deadline: float, result: Result,
              lock: threading.Lock) -> None:  # fmt: skip
    path = {
        "versioned": f"/api/assignments/{row}",
        NO_HISTORY: f"/bench/nohistory/api/assignments/{row}",
        "unconditional": f"/bench/assignments/{row}/unconditional",
    }[mode]
    response = client.get(f"/api/assignments/{row}")
    while time.monotonic() < deadline:
        current = response.json().get("current", response.json())
        headers = {"If-Match": response.headers.get("etag", "")} if mode != "unconditional" else {}
        response = client.request(
            "PATCH",
            path,
            json_body={"notes": f"bench c={counter(current['notes']) + 1}"},
            headers=headers,
        )
        with lock:
            result.latencies.append(response.finished - response.started)
            if response.status == 200:
                result.acked += 1
            elif response.status == 412:
                result.stale += 1  # the answer carries the current row: retry on it
            else:
                result.other += 1
        if response.status not in (200, 412):
            response = client.get(f"/api/assignments/{row}")


def measure(stack: Stack, clients: list[Client], rows: list[int], *, mode: str, shape: str,
            seconds: float) -> Result:  # fmt: skip
    targets = rows[: len(clients)] if shape == "distinct" else [rows[0]] * len(clients)
    with stack.connect() as conn:
        conn.execute(
            "UPDATE residency_assignment SET notes = 'bench c=0' WHERE id = ANY(%s)", [targets]
        )
    result = Result(mode, shape, len(clients), seconds)
    if mode == NO_HISTORY:
        with stack.connect() as conn:
            conn.execute("ALTER TABLE residency_assignment DISABLE TRIGGER USER")
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=edit_loop, args=(c, row, mode, deadline, result, lock))
        for c, row in zip(clients, targets, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    if mode == NO_HISTORY:
        with stack.connect() as conn:
            conn.execute("ALTER TABLE residency_assignment ENABLE TRIGGER USER")
    with stack.connect() as conn:
        finals = dict(
            conn.execute(
                "SELECT id, notes FROM residency_assignment WHERE id = ANY(%s)", [targets]
            ).fetchall()
        )
    result.lost = result.acked - sum(counter(notes) for notes in finals.values())
    return result


MODES = ("versioned", "unconditional")


def measure_interleaved(stack: Stack, clients: list[Client], rows: list[int], *, seconds: float,
                        rounds: int) -> list[Result]:  # fmt: skip
    """The versioned endpoint with and without history, ``rounds`` alternating runs of
    ``seconds / rounds`` each, added up per mode."""
    totals = {
        mode: Result(mode, "distinct", len(clients), 0.0) for mode in ("versioned", NO_HISTORY)
    }
    for _ in range(rounds):
        for mode, total in totals.items():
            part = measure(
                stack, clients, rows, mode=mode, shape="distinct", seconds=seconds / rounds
            )
            total.seconds += part.seconds
            total.acked += part.acked
            total.stale += part.stale
            total.other += part.other
            total.lost += part.lost
            total.latencies += part.latencies
    return list(totals.values())


def table(results: list[Result]) -> str:
    lines = [
        "| endpoint | rows | clients | acked edits/s | kept edits/s | PATCH req/s | p50 ms "
        "| p99 ms | stale (412) | lost updates |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        p50, p99 = percentiles(r.latencies, (50, 99))
        lines.append(
            f"| {r.mode} | {r.rows} | {r.clients} | {r.edits_per_second:.0f} | "
            f"{r.kept_per_second:.0f} | {r.requests_per_second:.0f} | {p50 * 1000:.1f} | "
            f"{p99 * 1000:.1f} | {r.stale} | {r.lost} |"
        )
    return "\n".join(lines)


def ratios(results: list[Result]) -> str:
    lines = [
        "| rows | clients | versioned / unconditional, acked edits/s | same, kept edits/s |",
        "|---|---:|---:|---:|",
    ]
    by_key = {(r.mode, r.rows, r.clients): r for r in results}
    for r in results:
        if r.mode != "versioned":
            continue
        other = by_key.get(("unconditional", r.rows, r.clients))
        if other and other.edits_per_second:
            acked = r.edits_per_second / other.edits_per_second
            kept = (
                f"{r.kept_per_second / other.kept_per_second:.2f}" if other.kept_per_second else "-"
            )
            lines.append(f"| {r.rows} | {r.clients} | {acked:.2f} | {kept} |")
    return "\n".join(lines)


def history_ratios(results: list[Result]) -> str:
    lines = [
        "| rows | clients | with history / without, acked edits/s |",
        "|---|---:|---:|",
    ]
    by_key = {(r.mode, r.rows, r.clients): r for r in results}
    for r in results:
        other = by_key.get((NO_HISTORY, r.rows, r.clients))
        if r.mode == "versioned" and other and other.edits_per_second:
            lines.append(
                f"| {r.rows} | {r.clients} | {r.edits_per_second / other.edits_per_second:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating history on/off rounds (distinct rows)"
    )
    args = parser.parse_args()
    stats = Stats()
    with Stack(
        database_suffix="bench_edits",
        workers=args.workers,
        rq_workers=0,
        settings_module="bench.settings_bench",
    ) as stack:
        logins = stack.seed()
        with stack.connect() as conn:
            rows = [r for (r,) in conn.execute("SELECT id FROM residency_assignment ORDER BY id")]
        clients = [Client(stack.url, stats) for _ in range(max(args.clients))]
        for client in clients:
            client.login(logins["coordinator"], logins["password"])
        # Warm up every worker (imports, first connections) before measuring.
        measure(stack, clients, rows, mode="versioned", shape="distinct", seconds=1)
        results = []
        for shape in ("distinct", "hot"):
            for n in args.clients:
                if shape == "distinct":
                    # History on and off in alternating short rounds, so drift on a shared
                    # machine hits both alike.
                    results += measure_interleaved(
                        stack, clients[:n], rows, seconds=args.seconds, rounds=args.rounds
                    )
                results += [
                    measure(stack, clients[:n], rows, mode=mode, shape=shape, seconds=args.seconds)
                    for mode in (("unconditional",) if shape == "distinct" else MODES)
                ]
    print(f"gunicorn -w {args.workers}, {args.seconds:g} s per run, read-modify-write loops\n")
    print(table(results))
    print()
    print(ratios(results))
    print()
    print(history_ratios(results))
    bad = [r for r in results if r.mode in ("versioned", NO_HISTORY) and r.lost]
    if bad:
        print("\nFAIL: the versioned endpoint lost updates")
        sys.exit(1)


if __name__ == "__main__":
    main()
