"""Schedule generation: the curriculum it must meet and the record of every generation run."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from residency.models import (
    PGY_MAX,
    PGY_MIN,
    AcademicYear,
    Block,
    Person,
    RotationTemplate,
    VersionedModel,
)


class CurriculumRequirement(VersionedModel):
    """How many blocks of a rotation each resident of a PGY level takes in an academic year.

    The program's curriculum, not one year's: it applies to every year that is generated.
    A rotation without a requirement for a level is unlimited for that level (within capacity).
    """

    rotation = models.ForeignKey(
        RotationTemplate, on_delete=models.CASCADE, related_name="curriculum_requirements"
    )
    pgy_level = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(PGY_MIN), MaxValueValidator(PGY_MAX)]
    )
    min_blocks = models.PositiveSmallIntegerField(default=0)
    max_blocks = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty: no maximum."
    )

    class Meta:
        ordering = ["pgy_level", "rotation__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "pgy_level"],
                name="one_requirement_per_rotation_per_level",
                violation_error_message="This rotation already has a requirement for this level.",
            ),
            models.CheckConstraint(
                condition=Q(max_blocks__isnull=True) | Q(min_blocks__lte=F("max_blocks")),
                name="requirement_min_le_max",
                violation_error_message="The minimum must not exceed the maximum.",
            ),
            models.CheckConstraint(
                condition=Q(pgy_level__gte=PGY_MIN, pgy_level__lte=PGY_MAX),
                name="requirement_pgy_level_in_range",
                violation_error_message=f"PGY level must be between {PGY_MIN} and {PGY_MAX}.",
            ),
        ]

    def __str__(self) -> str:
        most = "" if self.max_blocks is None else f"-{self.max_blocks}"
        return f"PGY-{self.pgy_level} {self.rotation.code}: {self.min_blocks}{most} blocks"


class ScheduleYear(AcademicYear):
    """An academic year seen from scheduling: the "Schedules" admin (generate, validate)."""

    class Meta:
        proxy = True
        verbose_name = "schedule"
        verbose_name_plural = "schedules"


class GenerationRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"
        READY = "ready", "Ready for review"
        SUCCEEDED = "succeeded", "Published"
        DISCARDED = "discarded", "Discarded"
        SUPERSEDED = "superseded", "Superseded"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        BLOCKS = "blocks", "Block schedule"
        SHIFTS = "shifts", "Shifts"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)
    # The job is over (a draft waiting for review is finished as far as the worker goes).
    FINISHED_STATUSES = (
        Status.CANCELLED,
        Status.READY,
        Status.SUCCEEDED,
        Status.DISCARDED,
        Status.SUPERSEDED,
        Status.FAILED,
    )

    academic_year = models.ForeignKey(
        AcademicYear, on_delete=models.CASCADE, related_name="generation_runs"
    )
    # What the run generates: the year's block schedule (rotations per block) or its shifts
    # over a date range (scheduling/shift_runs.py). One machinery (queue, lock, fence, guard,
    # reaper, draft, publish) serves both; one active run per year whatever its kind.
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.BLOCKS)
    start_date = models.DateField(null=True, blank=True, help_text="Shifts runs: first day.")
    end_date = models.DateField(null=True, blank=True, help_text="Shifts runs: last day.")
    first_block = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Block number; empty with the last block: whole year."
    )
    last_block = models.PositiveSmallIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=dict, blank=True)
    auto_publish = models.BooleanField(
        default=False,
        help_text="Publish the result at once (the same version-checked diff write) instead of "
        "leaving a draft for review.",
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=300, blank=True)

    solver_status = models.CharField(max_length=32, blank=True)
    objective = models.FloatField(null=True, blank=True)
    best_bound = models.FloatField(null=True, blank=True)
    gap = models.FloatField(null=True, blank=True, help_text="Relative gap, 0 = proven optimal.")
    first_solution_seconds = models.FloatField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    assignments_written = models.PositiveIntegerField(null=True, blank=True)
    # What the coordinator judges a schedule by (scheduling/report.py): rules met, person-blocks
    # changed (and how many had to), fairness spreads, wishes honoured per person.
    report = models.JSONField(default=dict, blank=True)

    # The diff against the snapshot the solve read (docs/scheduling.md, "Drafts and publishing").
    # Taken before the first read of the schedule: every change acknowledged before this moment
    # is in the snapshot; any change after it is caught by the version check at publish.
    snapshot_at = models.DateTimeField(null=True, blank=True)
    rows_kept = models.PositiveIntegerField(null=True, blank=True)
    rows_changed = models.PositiveIntegerField(null=True, blank=True)
    rows_added = models.PositiveIntegerField(null=True, blank=True)
    rows_removed = models.PositiveIntegerField(null=True, blank=True)
    fairness_spread = models.JSONField(
        default=dict, blank=True, help_text="PGY level -> max - min heavy blocks in the cohort."
    )
    resolves = models.PositiveSmallIntegerField(
        default=0, help_text="Automatic publishing: re-solves after rows changed during a solve."
    )
    stale_rows = models.JSONField(
        default=list, blank=True, help_text="Rows changed since the snapshot (publish refused)."
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    publish_seconds = models.FloatField(null=True, blank=True)

    rq_job_id = models.CharField(max_length=64, blank=True)
    # The year's generation_fence value this run got when it took the year's Redis lock; it may
    # write only while the year still holds this value (see scheduling/publish.py).
    fence_token = models.PositiveBigIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    error = models.TextField(blank=True, help_text="Why the run failed (rules, violations).")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="generation_progress_at_most_100"
            ),
            models.CheckConstraint(
                condition=Q(first_block__isnull=True, last_block__isnull=True)
                | Q(
                    first_block__isnull=False,
                    last_block__isnull=False,
                    first_block__lte=F("last_block"),
                ),
                name="generation_block_range_ordered",
                violation_error_message="Give both the first and last block, first <= last.",
            ),
            models.CheckConstraint(
                condition=Q(kind="blocks", start_date__isnull=True, end_date__isnull=True)
                | Q(
                    kind="shifts",
                    start_date__isnull=False,
                    end_date__isnull=False,
                    start_date__lte=F("end_date"),
                    first_block__isnull=True,
                    last_block__isnull=True,
                ),
                name="generation_kind_range",
                violation_error_message="A shifts run has a date range (first <= last day) and "
                "no blocks; a blocks run has no dates.",
            ),
            # The database's last word on "one generation per academic year at a time": the
            # start service checks under a row lock on the year and answers 409 first.
            models.UniqueConstraint(
                fields=["academic_year"],
                condition=Q(status__in=["queued", "running", "cancelling"]),
                name="one_active_generation_per_year",
                violation_error_message="A generation for this year is already queued or running.",
            ),
        ]
        indexes = [models.Index(fields=["academic_year", "status"])]

    def __str__(self) -> str:
        return f"Generation #{self.pk} {self.academic_year} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    # The solver's status in words for the pages (the raw value stays in the admin and the API).
    SOLVER_STATUS_WORDS = {
        "OPTIMAL": "Best possible schedule found",
        "FEASIBLE": "A valid schedule found (the time limit stopped the search for a better one)",
        "INFEASIBLE": "No schedule can meet every rule",
        "MODEL_INVALID": "The rules could not be given to the solver (a bug: please report it)",
        "UNKNOWN": "No schedule found within the time limit",
        "PRECHECK": "Stopped before solving: the rules cannot all be met",
    }

    @property
    def solver_status_words(self) -> str:
        return self.SOLVER_STATUS_WORDS.get(self.solver_status, self.solver_status)

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.READY

    @property
    def is_shifts(self) -> bool:
        return self.kind == self.Kind.SHIFTS

    @property
    def block_range_label(self) -> str:
        """What the run generates, in words: blocks, or a shifts run's dates."""
        if self.kind == self.Kind.SHIFTS:
            return f"shifts {self.start_date:%d %b %Y} - {self.end_date:%d %b %Y}"
        if self.first_block is None:
            return "whole year"
        return f"blocks {self.first_block}-{self.last_block}"


class GenerationChange(models.Model):
    """One proposed change of a run: what a person does in a block, before -> after, and the
    assignment row and version the solve read (none for an addition).

    Publishing applies it only if that row is still at that version. Keyed by (person, block);
    a schedule of another shape (shifts) would key its own changes the same way.
    """

    class Kind(models.TextChoices):
        ADD = "add", "Added"
        CHANGE = "change", "Changed"
        REMOVE = "remove", "Removed"

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="+")
    # The row read (an id, not a foreign key: the row may be deleted or replaced meanwhile).
    assignment_id = models.PositiveBigIntegerField(null=True, blank=True)
    version_read = models.PositiveIntegerField(null=True, blank=True)
    rotation_before = models.ForeignKey(
        RotationTemplate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role_before = models.CharField(max_length=16, blank=True)
    rotation_after = models.ForeignKey(
        RotationTemplate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role_after = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["run", "block__number", "person__name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "person", "block"], name="one_change_per_person_block_per_run"
            ),
            models.CheckConstraint(
                condition=Q(kind="add", assignment_id__isnull=True, rotation_after__isnull=False)
                | Q(
                    kind="change",
                    assignment_id__isnull=False,
                    rotation_before__isnull=False,
                    rotation_after__isnull=False,
                )
                | Q(kind="remove", assignment_id__isnull=False, rotation_after__isnull=True),
                name="generation_change_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.person_id} block {self.block_id}"


class ShiftChange(models.Model):
    """One proposed change of a shifts run: a shift added or removed (a different type on a
    person-day is a removal plus an addition). A removal carries the shift row and version the
    solve read; publishing applies it only if that row is still at that version."""

    class Kind(models.TextChoices):
        ADD = "add", "Added"
        REMOVE = "remove", "Removed"

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="shift_changes")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    shift_type = models.ForeignKey("shifts.ShiftType", on_delete=models.CASCADE, related_name="+")
    # The row read (an id, not a foreign key: the shift may be deleted or replaced meanwhile).
    shift_id = models.PositiveBigIntegerField(null=True, blank=True)
    version_read = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["run", "date", "person__name", "kind", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "person", "date", "shift_type"],
                name="one_shift_change_per_person_date_type_per_run",
            ),
            models.CheckConstraint(
                condition=Q(kind="add", shift_id__isnull=True, version_read__isnull=True)
                | Q(kind="remove", shift_id__isnull=False, version_read__isnull=False),
                name="shift_change_kind_fields",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.person_id} {self.date} {self.shift_type_id}"


class PreferenceWindow(VersionedModel):
    """The period in which residents enter wishes for a year's blocks; the coordinator sets the
    deadline. After it, wishes can no longer be added or removed (generation weighs what is
    there)."""

    academic_year = models.OneToOneField(
        AcademicYear, on_delete=models.CASCADE, related_name="preference_window"
    )
    deadline = models.DateTimeField(help_text="Residents may enter wishes until this moment.")
    note = models.CharField(max_length=300, blank=True, help_text="Shown to residents.")

    def __str__(self) -> str:
        return f"Wishes for {self.academic_year} until {self.deadline:%Y-%m-%d %H:%M}"


class RotationWish(models.Model):
    """A resident's ranked wish (1 = first choice) for a rotation in one block."""

    MAX_RANK = 3

    person = models.ForeignKey(
        "residency.Person", on_delete=models.CASCADE, related_name="rotation_wishes"
    )
    block = models.ForeignKey("residency.Block", on_delete=models.CASCADE, related_name="wishes")
    rotation = models.ForeignKey(RotationTemplate, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RANK)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person", "block__number", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "block", "rank"],
                name="one_wish_per_rank_per_block",
                violation_error_message="You already have a wish of this rank for this block.",
            ),
            models.UniqueConstraint(
                fields=["person", "block", "rotation"],
                name="one_wish_per_rotation_per_block",
                violation_error_message="You already wish for this rotation in this block.",
            ),
            models.CheckConstraint(
                condition=Q(rank__gte=1, rank__lte=3),
                name="wish_rank_1_to_3",
                violation_error_message="Rank a wish 1 (first choice) to 3.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} block {self.block.number}: #{self.rank} {self.rotation.code}"


class FairnessGroup(VersionedModel):
    """Rotations whose blocks should be shared evenly within each PGY cohort (nights, ICU...).
    Heavy rotations are always balanced; each active group adds its own balance term. A
    holiday group counts only the blocks that contain a program holiday (shifts' Holiday
    dates), so holiday work is shared evenly too."""

    name = models.CharField(max_length=80, unique=True)
    rotations = models.ManyToManyField(RotationTemplate, related_name="fairness_groups")
    weight = models.PositiveSmallIntegerField(
        default=5, help_text="Cost of one block of spread (max - min) within a PGY cohort."
    )
    holiday_blocks_only = models.BooleanField(
        "holiday blocks only",
        default=False,
        help_text=(
            "Count only blocks that contain a program holiday (Shifts > Holidays), so that "
            "working over the holidays is shared evenly. Choose the rotations that work then."
        ),
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
