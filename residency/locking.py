"""Locking helpers shared by every service that reads, decides and writes several rows.

The discipline (see docs/architecture.md):
- lock late but before the check, every row we will change, in primary-key order (so two
  transactions over the same rows queue instead of deadlocking);
- a short lock_timeout, turned into ``Busy`` ("try again") instead of a hanging request;
- a deadlock or serialization failure that still happens is retried a bounded number of times.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Model, QuerySet

from residency.errors import Busy, ScheduleLocked

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=Model)

SQLSTATE_DEADLOCK = "40P01"
SQLSTATE_SERIALIZATION = "40001"
SQLSTATE_LOCK_NOT_AVAILABLE = "55P03"
# Namespace of the advisory locks that guard a year's schedule (ASCII "ROTA").
SCHEDULE_LOCK_NAMESPACE = 0x524F5441


def _sqlstate(error: BaseException) -> str | None:
    return getattr(error.__cause__, "sqlstate", None)


def set_lock_timeout(milliseconds: int | None = None) -> None:
    """Bound row-lock waits for the rest of the current transaction."""
    ms = settings.ROTA_LOCK_TIMEOUT_MS if milliseconds is None else milliseconds
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(ms)}ms"])


def lock_rows(queryset: QuerySet[M]) -> list[M]:
    """``SELECT ... FOR UPDATE`` in primary-key order, only on the queryset's own table."""
    return list(queryset.order_by("pk").select_for_update(of=("self",)))


def locked_transaction(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in one transaction with a short lock timeout; retry it on deadlock or
    serialization failure a bounded number of times; turn a lock timeout into ``Busy``."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        attempts = settings.ROTA_TRANSACTION_RETRIES + 1
        for attempt in range(1, attempts + 1):
            try:
                with transaction.atomic():
                    set_lock_timeout()
                    return func(*args, **kwargs)
            except OperationalError as error:
                state = _sqlstate(error)
                if state == SQLSTATE_LOCK_NOT_AVAILABLE:
                    raise Busy() from error
                if state in (SQLSTATE_DEADLOCK, SQLSTATE_SERIALIZATION) and attempt < attempts:
                    continue
                if state in (SQLSTATE_DEADLOCK, SQLSTATE_SERIALIZATION):
                    raise Busy(
                        "The change kept colliding with other changes and was not saved. Try again."
                    ) from error
                raise
        raise AssertionError("unreachable")

    return wrapper


def schedule_lock_shared(*, academic_year_id: int, year_label: str = "") -> None:
    """Take the year's schedule lock in shared mode for the current transaction, or refuse.

    Swap execution takes it shared: many swaps may run at once, but none while generation's
    write phase holds it exclusively (the swap would change rows generation is replacing).
    Never waits: a swap during generation is refused with ``ScheduleLocked``.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock_shared(%s, %s)",
            [SCHEDULE_LOCK_NAMESPACE, academic_year_id],
        )
        (acquired,) = cursor.fetchone()
    if not acquired:
        raise ScheduleLocked(year_label)


def schedule_lock_exclusive(*, academic_year_id: int) -> None:
    """Take the year's schedule lock exclusively for the current transaction.

    Generation's write phase holds it so no swap can interleave with the replacement of the
    year's assignments. It waits (up to the lock timeout) for swaps already in flight.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [SCHEDULE_LOCK_NAMESPACE, academic_year_id]
        )


def lock_people(person_ids: Iterable[int]) -> None:
    """Lock these Person rows (``FOR NO KEY UPDATE``, primary-key order) for the transaction.

    Rules over a person's many rows (duty hours over four weeks, the shifts that follow from
    their rotation) cannot be protected by row versions: two changes to different rows can each
    pass and together break the rule (write skew). Every service that adds work to a person, or
    changes what they may hold, takes this lock first and re-checks after it. ``no_key`` so the
    lock does not block inserts of rows that merely reference the person.
    """
    from residency.models import Person

    ids = sorted({int(pk) for pk in person_ids})
    if ids:
        list(
            Person.objects.filter(pk__in=ids)
            .order_by("pk")
            .select_for_update(no_key=True, of=("self",))
            .values_list("pk", flat=True)
        )


def lock_people_shared() -> None:
    """Share-lock every Person row (``FOR SHARE``, primary-key order) for the transaction.

    For a reader that must see every write to anyone's shifts that began before it: those
    writers hold ``lock_people`` (``FOR NO KEY UPDATE``, which ``FOR SHARE`` conflicts with),
    so this waits for them to commit, and a writer that comes later waits until the reader's
    transaction ends. Same primary-key order as ``lock_people``, so the two never deadlock.
    """
    from residency.models import Person

    # Django's select_for_update has no FOR SHARE mode.
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id FROM "{Person._meta.db_table}" ORDER BY id FOR SHARE')
