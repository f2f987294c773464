"""The residency domain: people, academic years, blocks, rotations, assignments and absences.

Rules that must never be broken live here as database constraints, so that no code path (a form,
the admin, a job, a raw ORM call) can break them: one assignment per person per block, ordered
dates, blocks of one year that do not overlap, sane capacities and PGY levels.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Func, Q, Value

PGY_MIN = 1
PGY_MAX = 8
PGY_LEVELS = list(range(PGY_MIN, PGY_MAX + 1))


class DateRange(Func):
    """``daterange(start, end, '[]')``: an inclusive date range for exclusion constraints."""

    function = "DATERANGE"
    output_field = models.Field()


class SingletonIntRange(Func):
    """``int8range(x, x, '[]')``: lets a GiST exclusion constraint compare a bigint for
    equality with ``&&`` without the btree_gist extension (which the embedded server lacks)."""

    function = "INT8RANGE"
    output_field = models.Field()


def _check_date_order(start, end, *, allow_same_day: bool, message: str) -> None:
    """Model.clean() helper: report dates out of order on ``end_date``.

    Besides the clear message, this keeps ``full_clean`` from validating the exclusion
    constraints on such dates: ``daterange(start, end)`` with start after end is an SQL error, not
    a constraint violation, and full_clean skips constraints on fields that already failed.
    """
    if start is None or end is None:
        return
    if end < start or (end == start and not allow_same_day):
        raise ValidationError({"end_date": message})


class VersionedModel(models.Model):
    """A row that two people may edit at once: every change bumps ``version``.

    Editors carry the version they read and write with one conditional UPDATE
    (``residency.services.versioned_update``: ``WHERE version = <read>``), so of two editors who
    read the same version exactly one wins and the other is told instead of silently losing
    their change. A plain ``save()`` of an existing row (a script, a fixture) bumps the version
    too, atomically (``version + 1`` in SQL), so an editor who read the old version cannot
    overwrite it either. Adopt it by inheriting from it; the admin side is
    ``residency.admin.VersionedAdminMixin`` (docs/architecture.md).
    """

    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self._state.adding or self.pk is None:
            super().save(*args, **kwargs)
            return
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version"}
        read = self.version
        self.version = F("version") + 1
        try:
            super().save(*args, **kwargs)
        except BaseException:
            self.version = read
            raise
        self.refresh_from_db(fields=["version"])


class Person(VersionedModel):
    class Kind(models.TextChoices):
        RESIDENT = "resident", "Resident"
        FACULTY = "faculty", "Faculty"

    name = models.CharField(max_length=200)
    email = models.EmailField(unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        help_text="The login this person uses, if any.",
    )
    active = models.BooleanField(default=True)
    # The secret in this person's calendar feed URL (residency.services.calendar_token_regenerate):
    # whoever knows it reads their schedule without logging in, so it is random, unguessable and
    # replaced (revoking the old URL) on request. Null until the person first asks for a feed.
    calendar_token = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return self.name

    @property
    def is_resident(self) -> bool:
        return self.kind == self.Kind.RESIDENT


class AcademicYear(VersionedModel):
    label = models.CharField(max_length=32, unique=True, help_text="For example 2026-27.")
    start_date = models.DateField()
    end_date = models.DateField()
    # Fencing token for schedule generation: each generation run that takes the year's Redis lock
    # bumps it and may write only while it still holds the current value, so a job whose lock
    # expired (and was taken by a newer run) can never write. Bumped in scheduling/services.py,
    # checked in scheduling/publish.py.
    generation_fence = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gt=F("start_date")),
                name="academic_year_dates_ordered",
                violation_error_message="The end date must be after the start date.",
            ),
            ExclusionConstraint(
                name="academic_years_do_not_overlap",
                expressions=[
                    (DateRange("start_date", "end_date", Value("[]")), RangeOperators.OVERLAPS)
                ],
                violation_error_message="This academic year overlaps another academic year.",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        _check_date_order(
            self.start_date,
            self.end_date,
            allow_same_day=False,
            message="The end date must be after the start date.",
        )


class ResidentYear(VersionedModel):
    """A resident's PGY level in one academic year. Kept per year so that the July rollover adds
    a row instead of rewriting history (a PGY-1 last year stays PGY-1 in last year's schedule)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="resident_years")
    academic_year = models.ForeignKey(AcademicYear, on_delete=models.CASCADE, related_name="+")
    pgy_level = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(PGY_MIN), MaxValueValidator(PGY_MAX)]
    )

    class Meta:
        ordering = ["academic_year__start_date", "pgy_level", "person__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "academic_year"],
                name="one_pgy_level_per_person_per_year",
                violation_error_message="This person already has a PGY level for this year.",
            ),
            models.CheckConstraint(
                condition=Q(pgy_level__gte=PGY_MIN, pgy_level__lte=PGY_MAX),
                name="pgy_level_in_range",
                violation_error_message=f"PGY level must be between {PGY_MIN} and {PGY_MAX}.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} PGY-{self.pgy_level} ({self.academic_year})"


class Block(VersionedModel):
    academic_year = models.ForeignKey(AcademicYear, on_delete=models.CASCADE, related_name="blocks")
    number = models.PositiveSmallIntegerField()
    start_date = models.DateField()
    end_date = models.DateField(help_text="Inclusive: the last day of the block.")

    class Meta:
        ordering = ["academic_year__start_date", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["academic_year", "number"],
                name="block_number_unique_per_year",
                violation_error_message="This academic year already has a block with this number.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="block_dates_ordered",
                violation_error_message="The end date must not be before the start date.",
            ),
            ExclusionConstraint(
                name="blocks_of_a_year_do_not_overlap",
                expressions=[
                    (SingletonIntRange("academic_year_id", "academic_year_id", Value("[]")), "&&"),
                    (DateRange("start_date", "end_date", Value("[]")), RangeOperators.OVERLAPS),
                ],
                violation_error_message="This block overlaps another block of the same year.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.academic_year} block {self.number}"

    def clean(self) -> None:
        _check_date_order(
            self.start_date,
            self.end_date,
            allow_same_day=True,
            message="The end date must not be before the start date.",
        )
        year = self.academic_year if self.academic_year_id else None
        if not (year and self.start_date and self.end_date):
            return
        if self.start_date < year.start_date or self.end_date > year.end_date:
            raise ValidationError(
                f"A block of {year} must lie within {year.start_date} to {year.end_date}."
            )

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1


# Grid colours when a rotation has none of its own. Nights and leave look the same everywhere;
# other rotations take a colour from the palette by id, so two inpatient rotations differ.
# RotationTemplate.text_color picks black or white text, whichever contrasts more.
KIND_COLORS = {"night": "#3f4a8a", "leave": "#d9d9d9"}
PALETTE = [
    "#9ecae1",
    "#fdae6b",
    "#a1d99b",
    "#e6550d",
    "#dadaeb",
    "#f2e394",
    "#6baed6",
    "#c994c7",
    "#74c476",
    "#fcbba1",
    "#756bb1",
    "#fdd0a2",
]
hex_color_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", "Use a colour like #3f4a8a (a # and six hexadecimal digits)."
)


def relative_luminance(color: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def readable_text_color(background: str) -> str:
    """Black or white, whichever has the higher WCAG contrast ratio on ``background``."""
    lum = relative_luminance(background)
    on_black = (lum + 0.05) / 0.05
    on_white = 1.05 / (lum + 0.05)
    return "#000000" if on_black >= on_white else "#ffffff"


class RotationTemplate(VersionedModel):
    class Kind(models.TextChoices):
        INPATIENT = "inpatient", "Inpatient"
        NIGHT = "night", "Nights"
        ICU = "icu", "Intensive care"
        CLINIC = "clinic", "Clinic"
        ELECTIVE = "elective", "Elective"
        CALL = "call", "Call"
        LEAVE = "leave", "Leave"
        ADMIN = "admin", "Administrative"

    class StaffedBy(models.TextChoices):
        RESIDENTS = "residents", "Residents"
        FACULTY = "faculty", "Faculty"

    name = models.CharField(max_length=120)
    code = models.CharField(max_length=16, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    staffed_by = models.CharField(
        max_length=16, choices=StaffedBy.choices, default=StaffedBy.RESIDENTS
    )
    min_people = models.PositiveSmallIntegerField(
        default=0, help_text="Fewest people of the staffing kind on it in any block."
    )
    max_people = models.PositiveSmallIntegerField(
        default=1, help_text="Most people of the staffing kind on it in any block."
    )
    allowed_pgy_levels = ArrayField(
        models.PositiveSmallIntegerField(),
        blank=True,
        default=list,
        help_text="PGY levels that may take it (residents' rotations), e.g. 1,2,3.",
    )
    supervision_ratio = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Residents per supervising faculty member; empty if no supervision is needed.",
    )
    heavy = models.BooleanField(
        default=False, help_text="Inpatient/night-type work limited in consecutive blocks."
    )
    weekly_hours = models.PositiveSmallIntegerField(
        default=50, validators=[MaxValueValidator(168)], help_text="Estimated hours per week."
    )
    color = models.CharField(
        "colour",
        max_length=7,
        blank=True,
        validators=[hex_color_validator],
        help_text="Background of its cells in the year grid and the Excel export, like #9ecae1. "
        "Empty: the default colour of its kind. The text colour is chosen for contrast.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_people__lte=F("max_people")),
                name="rotation_capacity_min_le_max",
                violation_error_message="The minimum number of people must not exceed the maximum.",
            ),
            models.CheckConstraint(
                condition=Q(allowed_pgy_levels__contained_by=PGY_LEVELS),
                name="rotation_pgy_levels_in_range",
                violation_error_message=f"PGY levels must be between {PGY_MIN} and {PGY_MAX}.",
            ),
            models.CheckConstraint(
                condition=Q(weekly_hours__lte=168),
                name="rotation_weekly_hours_in_week",
                violation_error_message="A week has 168 hours.",
            ),
            models.CheckConstraint(
                condition=Q(supervision_ratio__isnull=True) | Q(supervision_ratio__gte=1),
                name="rotation_supervision_ratio_positive",
                violation_error_message="The supervision ratio must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(color="") | Q(color__regex=r"^#[0-9a-fA-F]{6}$"),
                name="rotation_color_hex",
                violation_error_message="Use a colour like #3f4a8a.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def display_color(self) -> str:
        if self.color:
            return self.color.lower()
        return KIND_COLORS.get(self.kind) or PALETTE[(self.pk or 0) % len(PALETTE)]

    @property
    def text_color(self) -> str:
        return readable_text_color(self.display_color)


class Assignment(models.Model):
    class Role(models.TextChoices):
        PRIMARY = "primary", "Primary"
        SUPERVISING = "supervising", "Supervising"
        BACKUP = "backup", "Backup"

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="assignments")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="assignments")
    rotation = models.ForeignKey(
        RotationTemplate, on_delete=models.PROTECT, related_name="assignments"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.PRIMARY)
    notes = models.TextField(blank=True, max_length=2000)
    pinned = models.BooleanField(
        default=False, help_text="Kept exactly as it is by schedule generation."
    )
    # Optimistic locking: every edit is `UPDATE ... WHERE version = <the version the editor read>`
    # with `version = version + 1`; see residency.services.assignment_update.
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
    # The GenerationRun that wrote this row, if any (an id, not a foreign key: residency does not
    # depend on scheduling).
    generation_run_id = models.PositiveBigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["block__start_date", "person__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "block"],
                name="one_assignment_per_person_per_block",
                violation_error_message="This person already has an assignment in this block.",
            ),
        ]
        indexes = [models.Index(fields=["block", "rotation"])]

    def __str__(self) -> str:
        return f"{self.person} - {self.rotation.code} - {self.block}"


class Absence(VersionedModel):
    class Kind(models.TextChoices):
        VACATION = "vacation", "Vacation"
        CONFERENCE = "conference", "Conference"
        SICK = "sick", "Sick"
        PARENTAL = "parental", "Parental leave"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        CANCELLED = "cancelled", "Cancelled"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="absences")
    start_date = models.DateField()
    end_date = models.DateField(help_text="Inclusive: the last day away.")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.VACATION)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")),
                name="absence_dates_ordered",
                violation_error_message="The end date must not be before the start date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.get_kind_display()} {self.start_date}..{self.end_date}"

    def clean(self) -> None:
        _check_date_order(
            self.start_date,
            self.end_date,
            allow_same_day=True,
            message="The end date must not be before the start date.",
        )


# History tables (triggers on the models above) and the notification outbox: kept in their own
# modules, loaded with the app's models.
from residency.history_models import *  # noqa: E402, F403
from residency.notification_models import *  # noqa: E402, F403
