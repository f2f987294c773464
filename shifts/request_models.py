"""Shift requests (docs/shifts.md, "Requests"): the periods a coordinator opens for requests,
with a deadline, and a person's wish about one day with a priority. Imported at the end of
``shifts/models.py``."""

from __future__ import annotations

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.utils import timezone

from residency.models import DateRange, Person, VersionedModel
from shifts.models import ShiftType

# How much the generator weighs a request of each priority (1 high, 2 medium, 3 low): breaking a
# high-priority request costs as much as breaking two and a half medium ones or ten low ones.
# The generation reader (scheduling/shift_problem.py) imports it; docs/shifts.md, "Requests".
REQUEST_WEIGHTS: dict[int, int] = {1: 10, 2: 4, 3: 1}


class ShiftRequestPeriod(VersionedModel):
    """Days for which people may enter shift requests, until the coordinator's deadline. After
    the deadline requests for the period can no longer be added or removed (generation weighs
    what is there)."""

    start_date = models.DateField()
    end_date = models.DateField(help_text="Inclusive.")
    deadline = models.DateTimeField(help_text="People may enter requests until this moment.")
    note = models.CharField(max_length=300, blank=True, help_text="Shown to the people asking.")

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="shift_request_period_dates_ordered",
                violation_error_message="The end date must not be before the start date.",
            ),
            # Periods never overlap, so a request's date names exactly one period (and one
            # deadline): no rule has to pick between two.
            ExclusionConstraint(
                name="shift_request_periods_do_not_overlap",
                expressions=[
                    (DateRange("start_date", "end_date", Value("[]")), RangeOperators.OVERLAPS)
                ],
                violation_error_message="This period overlaps another request period.",
            ),
        ]

    def __str__(self) -> str:
        return f"Shift requests {self.start_date} to {self.end_date}"

    @property
    def is_open(self) -> bool:
        return timezone.now() <= self.deadline


class ShiftRequest(models.Model):
    """A person's wish about one day: "off" (not this shift type; no shift at all that day when
    the type is empty) or "on" (this shift type that day), with a priority."""

    class Kind(models.TextChoices):
        OFF = "off", "Off (not this shift / day off)"
        ON = "on", "On (give me this shift)"

    class Priority(models.IntegerChoices):
        HIGH = 1, "High"
        MEDIUM = 2, "Medium"
        LOW = 3, "Low"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="shift_requests")
    date = models.DateField()
    shift_type = models.ForeignKey(
        ShiftType,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="requests",
        help_text="Empty: the whole day (no shift at all); only with kind off.",
    )
    kind = models.CharField(max_length=3, choices=Kind.choices)
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices,
        default=Priority.MEDIUM,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
    )
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "person__name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "date", "shift_type", "kind"],
                name="one_shift_request_per_person_date_type_kind",
                violation_error_message="You already have this request for this day.",
            ),
            # NULLs are distinct in a unique index: a second whole-day "off" needs its own.
            models.UniqueConstraint(
                fields=["person", "date", "kind"],
                condition=Q(shift_type__isnull=True),
                name="one_day_off_request_per_person_date",
                violation_error_message="You already asked for this day off.",
            ),
            models.CheckConstraint(
                condition=Q(kind="off") | Q(kind="on", shift_type__isnull=False),
                name="shift_request_kind_valid",
                violation_error_message="A request for a shift names the shift type.",
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=3),
                name="shift_request_priority_1_to_3",
                violation_error_message="Priority is 1 (high), 2 (medium) or 3 (low).",
            ),
        ]
        indexes = [models.Index(fields=["date", "person"])]

    def __str__(self) -> str:
        what = self.shift_type.code if self.shift_type_id else "day"
        return f"{self.person} {self.kind} {what} {self.date} (p{self.priority})"

    @property
    def weight(self) -> int:
        return REQUEST_WEIGHTS[self.priority]
