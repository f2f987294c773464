"""Swap requests: one person offers one of their assignments, to a named colleague for one of
theirs (one-to-one), to a named colleague for nothing (give-away), or to anyone eligible (an open
offer on the marketplace). Every status change is recorded as a SwapEvent.

The assignment foreign keys are SET_NULL: schedule generation deletes and re-creates a year's
assignments, and a request must survive that (to show what happened) while execution refuses it
("the assignment no longer exists (the schedule was regenerated)").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from residency.models import AcademicYear, Assignment, Person
from shifts.models import Shift, SickCall


class SwapRequest(models.Model):
    class Kind(models.TextChoices):
        ONE_TO_ONE = "one_to_one", "One-to-one swap"
        GIVE_AWAY = "give_away", "Give-away"
        OPEN = "open", "Open offer"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        APPROVED = "approved", "Approved"
        EXECUTED = "executed", "Executed"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        ROLLED_BACK = "rolled_back", "Rolled back"

    class Unit(models.TextChoices):
        BLOCK = "block", "Block assignment"
        SHIFT = "shift", "Shift"

    # Statuses from which a request may still execute.
    OPEN_STATUSES = (Status.PENDING, Status.ACCEPTED, Status.APPROVED)

    academic_year = models.ForeignKey(AcademicYear, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What is traded: block assignments (``offered``/``wanted``) or single shifts
    # (``offered_shift``/``wanted_shift``). Kept as a field because the foreign keys are SET_NULL.
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.BLOCK)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requester = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="swap_requests_made"
    )
    # The named colleague; for an open offer, whoever took it (empty until then).
    counterpart = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="swap_requests_received",
    )
    offered = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offered_version = models.PositiveIntegerField(help_text="Version seen when offered.")
    offered_label = models.CharField(max_length=300, help_text="The offer as it was made.")
    # One-to-one: the assignment wanted. Open offer: what the taker gave back (if anything).
    wanted = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    wanted_version = models.PositiveIntegerField(null=True, blank=True)
    wanted_label = models.CharField(max_length=300, blank=True)
    # Shift trades (unit = shift): the shift offered and, one-to-one, the shift wanted. The
    # versions and labels above describe them as they were when offered.
    offered_shift = models.ForeignKey(
        Shift, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    wanted_shift = models.ForeignKey(
        Shift, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField(blank=True, max_length=1000)
    # A coordinator's post of a sick colleague's shift to the open pool: urgent, so neither the
    # notice period nor the give-away cap applies.
    sick_call = models.ForeignKey(
        SickCall, null=True, blank=True, on_delete=models.SET_NULL, related_name="pool_requests"
    )
    # Why the last attempt to execute was refused (e.g. a duty-hour rule, with its numbers); the
    # request itself is unchanged by a refusal.
    refusal = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    # Versions of the two assignments right after execution: a rollback is allowed only while
    # both are unchanged since.
    offered_version_after = models.PositiveIntegerField(null=True, blank=True)
    wanted_version_after = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="give_away") | Q(wanted__isnull=True),
                name="swap_give_away_wants_nothing",
                violation_error_message="A give-away asks for nothing in return.",
            ),
            models.CheckConstraint(
                condition=Q(kind="open") | Q(counterpart__isnull=False),
                name="swap_named_counterpart",
                violation_error_message="A one-to-one swap or a give-away names a colleague.",
            ),
            models.CheckConstraint(
                condition=Q(unit="shift")
                | Q(offered_shift__isnull=True, wanted_shift__isnull=True),
                name="swap_block_request_has_no_shifts",
                violation_error_message="A block swap names assignments, not shifts.",
            ),
            models.CheckConstraint(
                condition=Q(unit="block") | Q(offered__isnull=True, wanted__isnull=True),
                name="swap_shift_request_has_no_assignments",
                violation_error_message="A shift trade names shifts, not assignments.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="give_away") | Q(wanted_shift__isnull=True),
                name="swap_shift_give_away_wants_nothing",
                violation_error_message="A give-away asks for nothing in return.",
            ),
            models.CheckConstraint(
                condition=~Q(status="executed") | Q(executed_at__isnull=False),
                name="swap_executed_has_time",
                violation_error_message="An executed swap records when it executed.",
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return f"Swap #{self.pk} ({self.get_kind_display()}, {self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_shift(self) -> bool:
        return self.unit == self.Unit.SHIFT


class SwapEvent(models.Model):
    """One status change of a swap request: who, when, from what to what, and why."""

    swap_request = models.ForeignKey(SwapRequest, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, choices=SwapRequest.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who acted, as shown: a person's name, "coordinator ...", or "auto-matcher".
    actor_label = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"#{self.swap_request_id}: {self.from_status or '-'} -> {self.to_status}"


class SwapRules(models.Model):
    """The program's rules for shift trades (one row, edited by coordinators in the admin).
    Block swaps keep their settings (ROTA_SWAP_NOTICE_DAYS, ROTA_SWAPS_REQUIRE_APPROVAL)."""

    shift_notice_hours = models.PositiveIntegerField(
        default=24, help_text="No trade of a shift that starts within this many hours."
    )
    pgy_levels_may_cross = models.BooleanField(
        default=True, help_text="May residents of different PGY levels trade shifts?"
    )
    shift_trades_need_approval = models.BooleanField(
        default=False,
        help_text="Accepted shift trades wait for a coordinator (blocks: their own setting).",
    )
    give_away_cap_per_block = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Most shifts one person may give away (nothing back) per block; empty: no cap.",
    )

    class Meta:
        verbose_name = "swap rules"
        verbose_name_plural = "swap rules"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="swap_rules_singleton")]

    def __str__(self) -> str:
        return "Swap rules"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> SwapRules:
        return cls.objects.filter(pk=1).first() or cls()


# The history table of swap requests (triggers on SwapRequest), loaded with the app's models.
from swaps.history_models import *  # noqa: E402, F403
