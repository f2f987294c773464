"""A small HTTP client for the benchmarks: one per simulated user, stdlib only.

Each client keeps its own cookies (session and CSRF) by hand: with DEBUG off the cookies are
marked Secure, which a stdlib cookie jar would refuse to send over plain-HTTP loopback. Every
request is timed and recorded under an operation name in a shared ``Stats``.
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

REQUEST_TIMEOUT = 30
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
# Transport failures (refused, reset, timed out) are recorded with this pseudo status.
NO_RESPONSE = 0


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    started: float = 0.0
    finished: float = 0.0

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class OpStats:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


class Stats:
    """Latency and status counts per operation, plus every 5xx / transport failure seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops: dict[str, OpStats] = {}
        self.failures: list[tuple[str, str, int, str]] = []

    def record(self, op: str, method: str, path: str, response: Response) -> None:
        with self.lock:
            stats = self.ops.setdefault(op, OpStats())
            stats.latencies.append(response.finished - response.started)
            stats.statuses[response.status] = stats.statuses.get(response.status, 0) + 1
            if response.status >= 500 or response.status == NO_RESPONSE:
                self.failures.append((op, f"{method} {path}", response.status, response.text[:300]))

    def total(self) -> int:
        return sum(len(s.latencies) for s in self.ops.values())

    def table(self, seconds: float) -> str:
        lines = [
            f"{'operation':<22}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            "  statuses"
        ]
        for op in sorted(self.ops):
            s = self.ops[op]
            p50, p95, p99 = percentiles(s.latencies, (50, 95, 99))
            codes = " ".join(f"{code}:{n}" for code, n in sorted(s.statuses.items()))
            lines.append(
                f"{op:<22}{len(s.latencies):>7}{len(s.latencies) / seconds:>8.1f}"
                f"{p50 * 1000:>9.1f}{p95 * 1000:>9.1f}{p99 * 1000:>9.1f}  {codes}"
            )
        everything = [x for s in self.ops.values() for x in s.latencies]
        p50, p95, p99 = percentiles(everything, (50, 95, 99))
        lines.append(
            f"{'all':<22}{len(everything):>7}{len(everything) / seconds:>8.1f}"
            f"{p50 * 1000:>9.1f}{p95 * 1000:>9.1f}{p99 * 1000:>9.1f}"
        )
        return "\n".join(lines)


def percentiles(values: list[float], points: tuple[int, ...]) -> tuple[float, ...]:
    if not values:
        return tuple(0.0 for _ in points)
    if len(values) == 1:
        return tuple(values[0] for _ in points)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return tuple(cuts[p - 1] for p in points)


class Client:
    def __init__(self, base_url: str, stats: Stats | None = None) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.base_url = base_url
        self.stats = stats
        self.cookies: dict[str, str] = {}

    @property
    def csrf_token(self) -> str:
        return self.cookies.get("csrftoken", "")

    def request(
        self,
        method: str,
        path: str,
        *,
        op: str | None = None,
        form: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        csrf: bool = True,
    ) -> Response:
        send_headers = {"Host": f"{self.host}:{self.port}", "Connection": "close"}
        body: bytes | None = None
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            send_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            send_headers["Content-Type"] = "application/json"
        if csrf and method not in ("GET", "HEAD") and self.csrf_token:
            send_headers["X-CSRFToken"] = self.csrf_token
        if self.cookies:
            send_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        send_headers.update(headers or {})
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
            try:
                conn.request(method, path, body=body, headers=send_headers)
                raw = conn.getresponse()
                data = raw.read()
                response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)
                self._keep_cookies(raw.headers.get_all("Set-Cookie") or [])
            finally:
                conn.close()
        except OSError as error:
            response = Response(NO_RESPONSE, {}, repr(error).encode())
        response.started, response.finished = started, time.monotonic()
        if self.stats is not None and op is not None:
            self.stats.record(op, method, path, response)
        return response

    def _keep_cookies(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "expires=Thu, 01 Jan 1970" in header or "Max-Age=0" in header:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def form_csrf(self, path: str, *, op: str | None = None) -> tuple[Response, str]:
        """GET a page with a form; return it and the form's CSRF token."""
        page = self.get(path, op=op)
        match = CSRF_INPUT.search(page.body)
        return page, match.group(1).decode() if match else self.csrf_token

    def login(self, username: str, password: str) -> None:
        page, token = self.form_csrf("/accounts/login/")
        response = self.post(
            "/accounts/login/",
            form={"username": username, "password": password, "csrfmiddlewaretoken": token},
            op="login",
        )
        if response.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login as {username} failed: {response.status} {page.status}")
