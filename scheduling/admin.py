"""Admin: the curriculum, generation runs (cancel, publish, discard, with their proposed
changes), and "Schedules" (a proxy of AcademicYear) with the Generate (for review or published
automatically) and Validate actions. Thin: every action calls a service."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from residency.admin import SafeInputAdminMixin, VersionedAdminMixin
from residency.errors import RotaError
from residency.selectors import is_coordinator
from scheduling import services
from scheduling.models import (
    CurriculumRequirement,
    GenerationChange,
    GenerationRun,
    ScheduleYear,
    ShiftChange,
)
from scheduling.validator import schedule_validate
from shifts.validator import shifts_validate_year

SHOWN_VIOLATIONS = 20


@admin.register(CurriculumRequirement)
class CurriculumRequirementAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("pgy_level", "rotation", "min_blocks", "max_blocks")
    list_filter = ("pgy_level", "rotation__kind")
    list_select_related = ("rotation",)
    search_fields = ("rotation__name", "rotation__code")
    ordering = ("pgy_level", "rotation__name")


class _CoordinatorsMayView:
    """Coordinators see generation in the admin whatever their model permissions."""

    def has_module_permission(self, request) -> bool:
        return is_coordinator(request.user) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_coordinator(request.user) or super().has_view_permission(request, obj)


class GenerationChangeInline(admin.TabularInline):
    model = GenerationChange
    fields = readonly_fields = (
        "kind", "block", "person", "rotation_before", "role_before", "rotation_after",
        "role_after", "assignment_id", "version_read",
    )  # fmt: skip
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("block", "person", "rotation_before", "rotation_after")
        )


class ShiftChangeInline(admin.TabularInline):
    """A shifts run's proposed (or published) changes."""

    model = ShiftChange
    fields = readonly_fields = ("kind", "date", "person", "shift_type", "shift_id", "version_read")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("person", "shift_type")


@admin.register(GenerationRun)
class GenerationRunAdmin(SafeInputAdminMixin, _CoordinatorsMayView, admin.ModelAdmin):
    list_display = (
        "pk",
        "academic_year",
        "kind",
        "block_range_label",
        "status",
        "progress",
        "progress_message",
        "solver_status",
        "created_at",
        "requested_by",
    )
    list_filter = ("kind", "status", "academic_year")
    list_select_related = ("academic_year", "requested_by")
    actions = ["cancel_runs", "publish_runs", "discard_runs"]
    readonly_fields = [f.name for f in GenerationRun._meta.fields]
    inlines = [GenerationChangeInline, ShiftChangeInline]

    def get_inlines(self, request, obj):
        """A run's own kind of changes only: a shifts run has no block changes and back."""
        if obj is None:
            return self.inlines
        return [ShiftChangeInline] if obj.is_shifts else [GenerationChangeInline]

    def has_add_permission(self, request) -> bool:
        return False  # runs are started from Schedules or /generation/, through the service

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request, queryset) -> None:
        for run in queryset:
            _, message = services.generation_run_cancel(run_id=run.pk)
            self.message_user(request, f"#{run.pk}: {message}")

    @admin.action(description="Publish selected drafts")
    def publish_runs(self, request, queryset) -> None:
        for run in queryset.order_by("pk"):
            try:
                published = services.generation_run_publish(run_id=run.pk, by=request.user)
            except RotaError as error:
                self.message_user(request, f"#{run.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(
                    request, f"#{run.pk}: {published.progress_message}", messages.SUCCESS
                )

    @admin.action(description="Discard selected drafts")
    def discard_runs(self, request, queryset) -> None:
        for run in queryset.order_by("pk"):
            try:
                _, message = services.generation_run_discard(run_id=run.pk, by=request.user)
            except RotaError as error:
                self.message_user(request, f"#{run.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"#{run.pk}: {message}")


@admin.register(ScheduleYear)
class ScheduleYearAdmin(SafeInputAdminMixin, _CoordinatorsMayView, admin.ModelAdmin):
    list_display = ("label", "start_date", "end_date", "latest_run")
    actions = ["generate", "generate_and_publish", "generate_shifts", "validate"]
    search_fields = ("label",)

    def has_add_permission(self, request) -> bool:
        return False  # years are created in the residency admin

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Latest generation")
    def latest_run(self, year: ScheduleYear):
        run = GenerationRun.objects.filter(academic_year_id=year.pk).first()
        if run is None:
            return "-"
        return format_html(
            '<a href="{}">#{} {}</a>', reverse("scheduling:run", args=[run.pk]), run.pk, run.status
        )

    @admin.action(description="Generate schedule for review (whole year)")
    def generate(self, request, queryset) -> None:
        self._generate(request, queryset, auto_publish=False)

    @admin.action(description="Generate and publish automatically (whole year)")
    def generate_and_publish(self, request, queryset) -> None:
        self._generate(request, queryset, auto_publish=True)

    def _generate(self, request, queryset, *, auto_publish: bool) -> None:
        for year in queryset:
            try:
                run = services.generation_run_start(
                    academic_year_id=year.pk, requested_by=request.user, auto_publish=auto_publish
                )
            except services.GenerationAlreadyRunning as error:
                url = reverse("scheduling:run", args=[error.run.pk])
                self.message_user(
                    request, format_html('{} <a href="{}">See it</a>.', error.message, url),
                    messages.ERROR,
                )  # fmt: skip
            except RotaError as error:
                self.message_user(request, f"{year}: {error.message}", messages.ERROR)
            else:
                self.log_change(request, year, f"Generation run #{run.pk} queued.")
                url = reverse("scheduling:run", args=[run.pk])
                self.message_user(
                    request,
                    format_html('Generation #{} for {} queued. <a href="{}">Follow it</a>.',
                                run.pk, year, url),
                    messages.SUCCESS,
                )  # fmt: skip

    @admin.action(description="Generate shifts (choose the period)")
    def generate_shifts(self, request, queryset):
        # A shifts run needs a period: the coordinators' form asks for it (and starts the run
        # through the same service as the API).
        years = list(queryset[:2])
        if len(years) != 1:
            self.message_user(request, "Choose one academic year.", messages.ERROR)
            return None
        query = urlencode({"academic_year": years[0].pk})
        return HttpResponseRedirect(f"{reverse('scheduling:shift_start')}?{query}")

    @admin.action(description="Validate schedule")
    def validate(self, request, queryset) -> None:
        for year in queryset:
            # The block schedule and the daily layer (coverage, who holds shifts, duty hours).
            violations = [
                *schedule_validate(academic_year=year),
                *shifts_validate_year(academic_year=year),
            ]
            if not violations:
                self.message_user(request, f"{year}: no violations.", messages.SUCCESS)
                continue
            self.message_user(request, f"{year}: {len(violations)} violation(s).", messages.WARNING)
            for violation in violations[:SHOWN_VIOLATIONS]:
                self.message_user(request, f"{year}: {violation}", messages.WARNING)
            if len(violations) > SHOWN_VIOLATIONS:
                self.message_user(
                    request,
                    f"...and {len(violations) - SHOWN_VIOLATIONS} more "
                    f"(python manage.py validate_schedule '{year.label}').",
                    messages.WARNING,
                )


from scheduling import preference_admin  # noqa: E402,F401 -- registers the wishes' admin
