"""Schedule generation: the curriculum it must meet and the record of every generation run."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from residency.models import PGY_MAX, PGY_MIN, AcademicYear, RotationTemplate, VersionedModel


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
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)
    FINISHED_STATUSES = (Status.CANCELLED, Status.SUCCEEDED, Status.FAILED)

    academic_year = models.ForeignKey(
        AcademicYear, on_delete=models.CASCADE, related_name="generation_runs"
    )
    first_block = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Block number; empty with the last block: whole year."
    )
    last_block = models.PositiveSmallIntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parameters = models.JSONField(default=dict, blank=True)

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

    rq_job_id = models.CharField(max_length=64, blank=True)
    # The year's generation_fence value this run got when it took the year's Redis lock; it may
    # write only while the year still holds this value (see scheduling/services.py).
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

    @property
    def block_range_label(self) -> str:
        if self.first_block is None:
            return "whole year"
        return f"blocks {self.first_block}-{self.last_block}"
