"""The coordinators' admin for the daily layer.

Thin: shifts are written only through ``shifts.services`` (version-checked, every rule checked,
duty-hour overrides recorded); the holiday list is seeded by ``services.holidays_seed``. The
other models are plain ModelAdmin, whose ``full_clean`` turns a broken constraint into a form
error.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from residency import services as residency_services
from residency.admin import SafeInputAdminMixin, VersionedAdminForm, VersionedAdminMixin
from residency.errors import ConcurrentEdit, Gone, RotaError, RuleViolation
from residency.http import parse_id
from shifts import services
from shifts.errors import DutyHourViolation
from shifts.models import (
    CoverageRule,
    DutyHourOverride,
    DutyHourSettings,
    Holiday,
    Shift,
    ShiftRequest,
    ShiftRequestPeriod,
    ShiftType,
    WorkPattern,
)


class CoverageRuleInline(admin.TabularInline):
    """Read only: an editable inline would save every row it showed with the values it read,
    silently overwriting newer edits; each rule is edited on its own (version-checked) page."""

    model = CoverageRule
    extra = 0
    fields = ("days", "start_date", "end_date", "min_people", "max_people")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ShiftTypeAdminForm(VersionedAdminForm):
    """The version-checked form, minus the rotations (many-to-many) in the conflict comparison:
    the shared form compares column values only."""

    def editable_fields(self) -> list[str]:
        return [name for name in super().editable_fields() if name != "eligible_rotations"]


@admin.register(ShiftType)
class ShiftTypeAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "start_time",
        "length_hours",
        "in_house",
        "staffed_by",
        "burden_points",
        "rest_after_hours",
        "max_consecutive",
        "active",
    )
    list_filter = ("kind", "in_house", "staffed_by", "active")
    search_fields = ("code", "name")
    form = ShiftTypeAdminForm
    filter_horizontal = ("eligible_rotations",)
    inlines = (CoverageRuleInline,)

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # The rotations (many-to-many) are saved by the admin after this; the conditional UPDATE
        # writes the columns and bumps the version even when only the rotations changed.
        columns = {f.name for f in obj._meta.concrete_fields}
        fields = [name for name in form.changed_data if name in columns]
        if form.changed_data:
            residency_services.versioned_update(
                instance=obj, version=form.cleaned_data["expected_version"], fields=fields
            )


@admin.register(CoverageRule)
class CoverageRuleAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("shift_type", "days", "start_date", "end_date", "min_people", "max_people")
    list_filter = ("days", "shift_type")
    list_select_related = ("shift_type",)
    autocomplete_fields = ("shift_type",)


@admin.register(Holiday)
class HolidayAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("date", "name")
    date_hierarchy = "date"
    search_fields = ("name",)


@admin.register(WorkPattern)
class WorkPatternAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("rotation", "weekday", "start_time", "length_hours")
    list_filter = ("rotation", "weekday")
    list_select_related = ("rotation",)
    autocomplete_fields = ("rotation",)


@admin.register(DutyHourSettings)
class DutyHourSettingsAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    """One row (the program's limits); ACGME defaults until a coordinator changes them."""

    list_display = (
        "__str__",
        "averaging",
        "max_weekly_hours",
        "days_off_per_week",
        "max_continuous_hours",
        "call_every_nth_night",
        "holiday_country",
    )
    actions = ("seed_holidays",)

    def has_add_permission(self, request) -> bool:
        return not DutyHourSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(permissions=["change"], description="Add this and next year's public holidays")
    def seed_holidays(self, request, queryset):
        this_year = timezone.localdate().year
        added = []
        try:
            for year in (this_year, this_year + 1):
                added += services.holidays_seed(year=year)
        except RotaError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request, f"Added {len(added)} holiday(s) to the program's list.", messages.SUCCESS
        )


@admin.register(DutyHourOverride)
class DutyHourOverrideAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    """The record of duty-hour overrides: read only (it is the compliance trail)."""

    list_display = ("date", "person", "shift_type", "reason", "created_by", "created_at")
    list_filter = ("shift_type",)
    search_fields = ("person__name", "reason")
    list_select_related = ("person", "shift_type", "created_by")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ShiftAdminForm(forms.ModelForm):
    """The admin's Shift form: written by the service during validation (as
    ``residency.admin.AssignmentAdminForm``), so a stale version, a broken rule or a duty-hour
    refusal comes back as a form error with what the coordinator typed, and the right status."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    override_reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only if this change breaks a duty-hour rule and must be made anyway: why.",
    )
    editor = None
    status_code = 200

    EDITABLE = ("person", "date", "shift_type", "notes", "pinned")

    class Meta:
        model = Shift
        fields = ("person", "date", "shift_type", "notes", "pinned")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["expected_version"].initial = self.instance.version

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and not self._errors:
            self._write()

    def _write(self) -> None:
        data = {name: self.cleaned_data[name] for name in self.EDITABLE}
        reason = self.cleaned_data.get("override_reason") or ""
        try:
            if self.instance._state.adding:
                self.instance = services.shift_create(
                    person=data["person"], shift_type=data["shift_type"], date=data["date"],
                    notes=data["notes"], pinned=data["pinned"], by=self.editor,
                    override_reason=reason,
                )  # fmt: skip
                return
            version = self.cleaned_data.get("expected_version")
            if version is None:
                self.status_code = 400
                self.add_error(None, "This form lost the version it was opened with. Reload it.")
                return
            changes = {name: data[name] for name in self.changed_data if name in data}
            if changes:
                self.instance = services.shift_update(
                    shift_id=self.instance.pk, version=version, by=self.editor,
                    override_reason=reason, **changes,
                )  # fmt: skip
        except ConcurrentEdit as error:
            current = error.current
            self.status_code = 409
            who = current.updated_by or "Someone"
            when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M")
            self.add_error(
                None,
                f"{who} saved a newer version of this shift at {when} (version "
                f"{current.version}): {current.person}, {current.shift_type.name} on "
                f"{current.date}, notes “{current.notes}”. Nothing of yours was saved; what you "
                "typed is kept below. Save again to replace their values with yours.",
            )
            data = self.data.copy()
            data[self.add_prefix("expected_version")] = str(current.version)
            self.data = data
        except DutyHourViolation as error:
            self.status_code = error.status_code
            for problem in error.problems:
                self.add_error("override_reason", problem.message)
            self.add_error(
                "override_reason",
                "Refused: the change breaks the duty-hour rules above. A coordinator may save it "
                "anyway by writing the reason here.",
            )
        except RuleViolation as error:
            self.status_code = error.status_code
            self.add_error(error.field if error.field in self.fields else None, error.message)
        except RotaError as error:
            self.status_code = error.status_code
            self.add_error(None, error.message)


@admin.register(Shift)
class ShiftAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    form = ShiftAdminForm
    list_display = (
        "date", "shift_type", "person", "pinned", "version", "updated_by", "updated_at",
    )  # fmt: skip
    list_filter = ("shift_type", "person__kind", "pinned")
    date_hierarchy = "date"
    search_fields = ("person__name", "shift_type__code", "shift_type__name", "notes")
    autocomplete_fields = ("person", "shift_type")
    list_select_related = ("person", "shift_type", "updated_by")
    readonly_fields = ("version", "updated_by", "updated_at", "starts_at", "ends_at")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "person",
                    "date",
                    "shift_type",
                    "notes",
                    "pinned",
                    "override_reason",
                    "expected_version",
                )
            },
        ),
        ("Times and last change", {"fields": readonly_fields}),
    )
    # Django's bulk delete would delete rows changed after the coordinator looked at them;
    # shifts are deleted one at a time (version-checked) here or on the calendar.
    actions = None

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.editor = request.user
        return form

    def save_model(self, request, obj, form, change) -> None:
        # Already written by the service during validation (ShiftAdminForm).
        pass

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(request, context, add, change, form_url, obj)
        response.status_code = getattr(context["adminform"].form, "status_code", 200)
        return response

    def delete_model(self, request, obj) -> None:
        try:
            version = int(request.POST["expected_version"])
        except (KeyError, ValueError):
            version = obj.version
        services.shift_delete(shift_id=obj.pk, version=version)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except Gone as error:
            self.message_user(request, error.message, messages.WARNING)
            return HttpResponseRedirect(reverse("admin:shifts_shift_changelist"))
        except RotaError as error:
            self.message_user(request, error.message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:shifts_shift_change", args=[object_id]))


@admin.register(ShiftRequestPeriod)
class ShiftRequestPeriodAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    """Coordinators open days for requests and set the deadline. Saving takes the period row
    (version-checked), so it waits for requests being written under the old deadline and every
    later request sees the new one (shifts/requests.py, ``_period_locked``)."""

    list_display = ("__str__", "start_date", "end_date", "deadline", "is_open", "requests")
    date_hierarchy = "start_date"

    @admin.display(boolean=True, description="open")
    def is_open(self, obj: ShiftRequestPeriod) -> bool:
        return obj.is_open

    @admin.display(description="requests")
    def requests(self, obj: ShiftRequestPeriod) -> str:
        count = ShiftRequest.objects.filter(date__range=(obj.start_date, obj.end_date)).count()
        url = reverse("admin:shifts_shiftrequest_changelist") + f"?period={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)


class RequestPeriodFilter(admin.SimpleListFilter):
    """Requests whose date lies in a period (requests name a date, not a period)."""

    title = "period"
    parameter_name = "period"

    def lookups(self, request, model_admin):
        return [(str(p.pk), str(p)) for p in ShiftRequestPeriod.objects.order_by("-start_date")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        period = ShiftRequestPeriod.objects.filter(pk=parse_id(self.value()) or 0).first()
        if period is None:
            return queryset.none()
        return queryset.filter(date__range=(period.start_date, period.end_date))


@admin.register(ShiftRequest)
class ShiftRequestAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    """Every request, for the coordinator to read (and delete, e.g. for someone who left).
    Read only: a request is the person's own words, entered on their page or through the API
    before the deadline."""

    list_display = ("date", "person", "kind", "shift_type", "priority", "note", "created_at")
    list_filter = (
        RequestPeriodFilter,
        "kind",
        "priority",
        "shift_type",
        ("person", admin.RelatedOnlyFieldListFilter),
    )
    date_hierarchy = "date"
    search_fields = ("person__name", "note")
    list_select_related = ("person", "shift_type")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
