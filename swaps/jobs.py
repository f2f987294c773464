"""rq entry points of the swaps app: thin, they take ids and call a service."""

from __future__ import annotations

from swaps.models import SwapRequest
from swaps.services import swap_requests_expire_stale, swap_requests_match


def match_swaps(*, swap_request_id: int | None = None) -> dict:
    """Run the matcher over the year of the request just made (all years without an id)."""
    year_id = None
    if swap_request_id is not None:
        year_id = (
            SwapRequest.objects.filter(pk=swap_request_id)
            .values_list("academic_year_id", flat=True)
            .first()
        )
    return swap_requests_match(academic_year_id=year_id).as_dict()


def expire_stale_swaps(*, academic_year_id: int | None = None) -> int:
    """For schedule generation to queue (by dotted path, after its write phase commits):
    expire the open requests whose assignments it deleted."""
    return swap_requests_expire_stale(academic_year_id=academic_year_id)
