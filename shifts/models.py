"""The daily layer: shift types, coverage rules, holidays, shifts, work patterns and the program's
duty-hour limits.

As in residency/models.py, what must never break is a database constraint: a person's shifts never
overlap in time (an exclusion constraint over the shift's time range per person, written without
btree_gist) and a person has at most one shift of a type on a date.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Func, Q, Value
from django.utils import timezone

from residency.models import (
    PGY_LEVELS,
    Person,
    RotationTemplate,
    SingletonIntRange,
    VersionedModel,
)


class TimestampRange(Func):
    """``tstzrange(start, end, '[)')``: a shift's time range for the exclusion constraint."""

    function = "TSTZRANGE"
    output_field = models.Field()


MAX_SHIFT_HOURS = Decimal("36")


class ShiftType(VersionedModel):
    class Kind(models.TextChoices):
        OVERNIGHT_CALL = "overnight_call", "Overnight call"
        WEEKEND_CALL = "weekend_call", "Weekend call"
        NIGHT_FLOAT = "night_float", "Night float"
        DAY_SHIFT = "day_shift", "Day shift"
        CLINIC = "clinic", "Clinic half-day"
        HOME_CALL = "home_call", "Backup / home call"

    class StaffedBy(models.TextChoices):
        RESIDENTS = "residents", "Residents"
        FACULTY = "faculty", "Faculty"

    # Kinds that count as "call" for the every-third-night rule when taken in house. Night float
    # is a rotation of night shifts, not call, and is limited by its own consecutive-nights limit.
    CALL_KINDS = (Kind.OVERNIGHT_CALL, Kind.WEEKEND_CALL)

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    start_time = models.TimeField(help_text="Local time the shift starts on its date.")
    length_hours = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.25")), MaxValueValidator(MAX_SHIFT_HOURS)],
        help_text="May cross midnight: a 24-hour call starting 07:00 ends 07:00 the next day.",
    )
    in_house = models.BooleanField(
        default=True, help_text="In the hospital (counts toward duty hours) or at home."
    )
    staffed_by = models.CharField(
        max_length=16, choices=StaffedBy.choices, default=StaffedBy.RESIDENTS
    )
    burden_points = models.PositiveSmallIntegerField(
        default=1, help_text="For fairness: e.g. weekday call 1, weekend call 2."
    )
    rest_after_hours = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("48"))],
        help_text="Hours free of work imposed after the shift (e.g. 14 after 24-hour call).",
    )
    allowed_pgy_levels = ArrayField(
        models.PositiveSmallIntegerField(),
        blank=True,
        default=list,
        help_text="PGY levels that may take it (residents' types); empty: every level.",
    )
    eligible_rotations = models.ManyToManyField(
        RotationTemplate,
        blank=True,
        related_name="+",
        help_text="If any: only people on one of these rotations that block may take it.",
    )
    max_consecutive = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Most days in a row one person may take it (e.g. 6 night-float nights).",
    )
    colour = models.CharField(
        max_length=7,
        default="#5b8def",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #5b8def.")],
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["start_time", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(length_hours__gt=0, length_hours__lte=MAX_SHIFT_HOURS),
                name="shift_type_length_in_range",
                violation_error_message="A shift lasts more than 0 and at most 36 hours.",
            ),
            models.CheckConstraint(
                condition=Q(allowed_pgy_levels__contained_by=PGY_LEVELS),
                name="shift_type_pgy_levels_in_range",
                violation_error_message="PGY levels must be between 1 and 8.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def length(self) -> datetime.timedelta:
        return datetime.timedelta(hours=float(self.length_hours))

    @property
    def counts_as_call(self) -> bool:
        return self.in_house and self.kind in self.CALL_KINDS

    def clean(self) -> None:
        # A shift's time range is stored on the shift (the exclusion constraint needs it there),
        # so the times of a type in use are fixed: make a new type instead.
        if self.pk and (self.start_time is not None and self.length_hours is not None):
            old = ShiftType.objects.filter(pk=self.pk).values("start_time", "length_hours").first()
            if (
                old
                and (old["start_time"], old["length_hours"]) != (self.start_time, self.length_hours)
                and self.shifts.exists()
            ):
                raise ValidationError(
                    "This shift type has shifts: its start time and length cannot change. "
                    "Create a new shift type (and retire this one) instead."
                )


class CoverageRule(VersionedModel):
    """How many people a shift type needs on the days the rule applies to.

    On a date, the most specific matching rule of a type applies: a holiday rule on a program
    holiday, otherwise a weekday or weekend rule, otherwise an every-day rule; a rule limited to
    a date range beats an open-ended one of the same day kind.
    """

    class Days(models.TextChoices):
        EVERY_DAY = "every_day", "Every day"
        WEEKDAYS = "weekdays", "Weekdays (Mon-Fri, not holidays)"
        WEEKENDS = "weekends", "Weekends (Sat-Sun, not holidays)"
        HOLIDAYS = "holidays", "Program holidays"

    shift_type = models.ForeignKey(
        ShiftType, on_delete=models.CASCADE, related_name="coverage_rules"
    )
    days = models.CharField(max_length=16, choices=Days.choices, default=Days.EVERY_DAY)
    start_date = models.DateField(null=True, blank=True, help_text="Empty: from always.")
    end_date = models.DateField(null=True, blank=True, help_text="Inclusive. Empty: forever.")
    min_people = models.PositiveSmallIntegerField(default=1)
    max_people = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["shift_type__code", "days", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_people__lte=F("max_people")),
                name="coverage_min_le_max",
                violation_error_message="The minimum number of people must not exceed the maximum.",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="coverage_dates_ordered",
                violation_error_message="The end date must not be before the start date.",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.shift_type.code} {self.get_days_display()}: {self.min_people}-{self.max_people}"
        )


class Holiday(VersionedModel):
    """A program holiday: seeded from the ``holidays`` package for the program's country
    (DutyHourSettings.holiday_country), then editable."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date}: {self.name}"


class WorkPattern(VersionedModel):
    """A rotation's usual hours on one weekday (several rows make its week)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    rotation = models.ForeignKey(
        RotationTemplate, on_delete=models.CASCADE, related_name="work_patterns"
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    length_hours = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.25")), MaxValueValidator(Decimal("24"))],
    )

    class Meta:
        ordering = ["rotation__code", "weekday", "start_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "weekday", "start_time"],
                name="one_work_pattern_per_rotation_weekday_start",
                violation_error_message="This rotation already has hours starting then that day.",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6),
                name="work_pattern_weekday_in_week",
                violation_error_message="Weekday must be 0 (Monday) to 6 (Sunday).",
            ),
            models.CheckConstraint(
                condition=Q(length_hours__gt=0, length_hours__lte=24),
                name="work_pattern_length_in_day",
                violation_error_message="Hours on a day last more than 0 and at most 24 hours.",
            ),
        ]

    def __str__(self) -> str:
        day = self.get_weekday_display()
        return f"{self.rotation.code} {day} {self.start_time:%H:%M} +{self.length_hours}h"


class DutyHourSettings(VersionedModel):
    """The program's duty-hour limits (one row; ACGME Common Program Requirements as defaults)."""

    class Averaging(models.TextChoices):
        BLOCKS = "blocks", "Over the program's blocks"
        ROLLING = "rolling", "Over rolling 28-day windows"

    averaging = models.CharField(
        max_length=16, choices=Averaging.choices, default=Averaging.ROLLING
    )
    max_weekly_hours = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("80"), validators=[MinValueValidator(1)]
    )
    days_off_per_week = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(0), MaxValueValidator(7)],
        help_text="Days free of work per 7, averaged like the weekly hours (ACGME: 1).",
    )
    max_continuous_hours = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("24"), validators=[MinValueValidator(1)]
    )
    transition_hours = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("4"), validators=[MinValueValidator(0)]
    )
    rest_after_long_call_hours = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("14"),
        validators=[MinValueValidator(0)],
        help_text="Hours free after 24 hours of in-house call.",
    )
    min_rest_between_periods_hours = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("8"),
        validators=[MinValueValidator(0)],
        help_text="Hours between work periods (a warning: the ACGME says 'should').",
    )
    call_every_nth_night = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="In-house call no more often than every n-th night, averaged (ACGME: 3).",
    )
    averaging_days = models.PositiveSmallIntegerField(
        default=28, validators=[MinValueValidator(7)], help_text="ACGME: four weeks."
    )
    holiday_country = models.CharField(
        max_length=8, default="US", help_text="Country code used to seed the holiday list."
    )
    holiday_subdivision = models.CharField(max_length=8, blank=True)

    class Meta:
        verbose_name = "duty-hour settings"
        verbose_name_plural = "duty-hour settings"
        constraints = [
            # One program per installation: one row, pk 1.
            models.CheckConstraint(condition=Q(pk=1), name="duty_hour_settings_singleton"),
        ]

    def __str__(self) -> str:
        return "Duty-hour settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)


def shift_times(
    *, date: datetime.date, shift_type: ShiftType
) -> tuple[datetime.datetime, datetime.datetime]:
    """The shift's start and end as aware datetimes (wall clock in the program's time zone:
    a 24-hour call starting 07:00 ends 07:00 the next day, also across a DST change)."""
    start = datetime.datetime.combine(date, shift_type.start_time)
    end = start + datetime.timedelta(hours=float(shift_type.length_hours))
    zone = timezone.get_default_timezone()
    return timezone.make_aware(start, zone), timezone.make_aware(end, zone)


class Shift(models.Model):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="shifts")
    date = models.DateField(help_text="The day the shift starts.")
    shift_type = models.ForeignKey(ShiftType, on_delete=models.PROTECT, related_name="shifts")
    notes = models.TextField(blank=True, max_length=2000)
    pinned = models.BooleanField(
        default=False, help_text="Generation never moves or removes a pinned shift."
    )
    # Derived from date + shift type (``shift_times``) and stored so the database can refuse a
    # person's overlapping shifts. Set by save() and by every service.
    starts_at = models.DateTimeField(editable=False)
    ends_at = models.DateTimeField(editable=False)
    # Optimistic locking, as Assignment: see shifts.services.shift_update.
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "starts_at", "person__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "date", "shift_type"],
                name="one_shift_per_person_date_type",
                violation_error_message="This person already has this shift on this date.",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="shift_times_ordered",
                violation_error_message="A shift must end after it starts.",
            ),
            ExclusionConstraint(
                name="shifts_of_a_person_do_not_overlap",
                expressions=[
                    (SingletonIntRange("person_id", "person_id", Value("[]")), "&&"),
                    (TimestampRange("starts_at", "ends_at", Value("[)")), RangeOperators.OVERLAPS),
                ],
                violation_error_message="This shift overlaps another shift of the same person.",
            ),
        ]
        indexes = [models.Index(fields=["date", "shift_type"])]

    def __str__(self) -> str:
        return f"{self.person} {self.shift_type.code} {self.date}"

    def save(self, *args, **kwargs) -> None:
        self.set_times()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.set_times()

    def set_times(self) -> None:
        if self.date is not None and self.shift_type_id is not None:
            self.starts_at, self.ends_at = shift_times(date=self.date, shift_type=self.shift_type)


class DutyHourOverride(models.Model):
    """A coordinator's written reason for accepting a shift change that breaks a duty-hour rule.
    Kept (with the problems as they were) even if the shift is later removed."""

    shift = models.ForeignKey(
        Shift, null=True, blank=True, on_delete=models.SET_NULL, related_name="overrides"
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    shift_type = models.ForeignKey(ShiftType, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(max_length=2000)
    problems = models.TextField(help_text="The rules broken, as the coordinator was shown them.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Override for {self.person} on {self.date}"


class SickCall(models.Model):
    """A coordinator marked ``person`` out for ``shift``: the shift is uncovered until someone
    replaces them (a coordinator assigns someone, or someone takes it from the open pool: see
    swaps.services.shift_trades). The shift stays with the person meanwhile, so nobody else's
    hours change until a replacement is chosen; the calendar shows it uncovered."""

    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="sick_calls")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["shift"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_sick_call_per_shift",
                violation_error_message="This shift is already marked uncovered.",
            )
        ]

    def __str__(self) -> str:
        return f"Sick call #{self.pk}: {self.person} out for shift #{self.shift_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


# Shift requests and their periods (a module of their own by concern) and the history tables of
# shifts, requests and periods (triggers), imported here so that ``shifts.models`` names every
# model of the app.
from shifts.history_models import *  # noqa: E402, F403
from shifts.request_models import REQUEST_WEIGHTS as REQUEST_WEIGHTS  # noqa: E402
from shifts.request_models import ShiftRequest as ShiftRequest  # noqa: E402
from shifts.request_models import ShiftRequestPeriod as ShiftRequestPeriod  # noqa: E402
