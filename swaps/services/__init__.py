"""Every write of the swaps app, split by concern (every public name stays importable from
``swaps.services``):

- ``common``: recording status changes, reading and locking requests, expiring stale ones;
- ``workflow``: create, accept / take, decline, cancel, reject, approve (blocks);
- ``execution``: executing and rolling back a block swap;
- ``shift_trades``: the same workflow for single shifts (trades, give-aways, the open pool);
- ``sick_calls``: marking someone out and covering their shift (assign or post to the pool);
- ``matcher``: expiring orphaned requests (and those over rows a generation publish changes)
  and the auto-matcher (blocks and shifts).

Each public service is one transaction (the stale-request expiry or the refusal note after a
refusal is a second, separate one) and raises ``SwapRefused`` (or another ``RotaError``) with a
reason; nothing changes when it raises.

Locking (docs/swaps.md). A service that executes or rolls back a BLOCK swap takes, in order:
1. the academic year's schedule lock in SHARED mode (refused at once while generation writes),
2. every assignment involved, ``SELECT ... FOR UPDATE`` in primary-key order,
3. the swap request row,
4. the other open requests touching the moved assignments (to expire them), in pk order.
Assignments before requests: the expiry step (4) never waits for a request row whose holder is
itself waiting for our assignments, so two swaps over the same rows queue instead of deadlocking.

A SHIFT trade takes: 1. the schedule lock (shared), 2. both people's rows in pk order, 3. the
shifts in pk order, 4. the request row, 5. the other open requests touching the moved shifts.
People before shifts is the order of the shifts app (``shift_create``/``shift_update`` lock
people, then shift types, then write the shift), so a trade and a coordinator's edit queue on
the person instead of deadlocking; see ``shift_trades``.
"""

from swaps.services.common import MATCHER
from swaps.services.execution import swap_request_execute, swap_request_rollback
from swaps.services.matcher import (
    MatchReport,
    swap_requests_expire_for_assignments,
    swap_requests_expire_stale,
    swap_requests_match,
)
from swaps.services.shift_trades import (
    shift_request_accept,
    shift_request_execute,
    shift_request_rollback,
    shift_swap_request_create,
)
from swaps.services.sick_calls import (
    shift_sick_call_assign,
    shift_sick_call_post,
    shift_sick_call_report,
    shift_sick_call_report_day,
)
from swaps.services.workflow import (
    swap_request_accept,
    swap_request_approve,
    swap_request_cancel,
    swap_request_create,
    swap_request_decline,
    swap_request_reject,
)

__all__ = [
    "MATCHER",
    "MatchReport",
    "shift_request_accept",
    "shift_request_execute",
    "shift_request_rollback",
    "shift_sick_call_assign",
    "shift_sick_call_post",
    "shift_sick_call_report",
    "shift_sick_call_report_day",
    "shift_swap_request_create",
    "swap_request_accept",
    "swap_request_approve",
    "swap_request_cancel",
    "swap_request_create",
    "swap_request_decline",
    "swap_request_execute",
    "swap_request_reject",
    "swap_request_rollback",
    "swap_requests_expire_for_assignments",
    "swap_requests_expire_stale",
    "swap_requests_match",
]
