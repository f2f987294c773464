"""The load test's shift traffic (bench/load.py's simulated people): offering shifts to the open
pool, taking from it, one-to-one trades, answering the inbox, and the coordinators' sick calls.
A mixin of ``bench.load.Person``: it uses the person's ``client``, ``rng``, ``ledger`` (executed
trades and covered sick calls are recorded there for the checker), ``hot`` (the seeded shift
month) and ``mine`` (cleared when an accepted swap may have changed what they hold)."""

from __future__ import annotations

import re

from bench.client import Response

MARKET_OFFER = re.compile(rb"/swaps/(\d+)/(?:accept|confirm)/")  # "Take it" opens the confirmation
MY_SHIFT = re.compile(rb"/swaps/shifts/(\d+)/trade/")
CALENDAR_SHIFT = re.compile(rb"/shifts/(\d+)/edit/")
ASSIGN_PERSON = re.compile(rb'name="person" value="(\d+)"')
SICK_CALL_PAGE = re.compile(r"/swaps/sick-calls/(\d+)/")


class ShiftTraffic:
    """Residents' and faculty's shift actions, and the coordinators' sick calls."""

    # --- residents and faculty: the open pool, trades ----------------------------------------

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

    # --- coordinators ------------------------------------------------------------------------

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
