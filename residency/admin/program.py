"""The admin of the program's reference data: people, years, PGY levels, blocks, rotations and
absences. Every change form is version-checked (``VersionedAdminMixin``)."""

from __future__ import annotations

import csv
import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from residency import selectors, services
from residency.admin.safe_input import SafeInputAdminMixin
from residency.admin.versioned import VersionedAdminForm, VersionedAdminMixin
from residency.errors import RotaError
from residency.forms import BlocksCreateForm
from residency.models import (
    PGY_LEVELS,
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)
from residency.notifications import absence_decision_notify


def _pgy_subquery(*, person_ref: str, year_ref: str) -> Subquery:
    return Subquery(
        ResidentYear.objects.filter(
            person_id=OuterRef(person_ref), academic_year_id=OuterRef(year_ref)
        ).values("pgy_level")[:1]
    )


# --- Assignments shown on Block and Person pages ---


class _ReadOnlyAssignmentInline(admin.TabularInline):
    """Read-only on purpose: an editable inline saves every row it shows with the values it read,
    silently overwriting a newer edit. Edits go through the version-checked change form (the
    "View" link on each row)."""

    model = Assignment
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("person", "rotation", "block__academic_year")
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class BlockAssignmentInline(_ReadOnlyAssignmentInline):
    fields = readonly_fields = ("person", "rotation", "role", "pinned", "notes", "version")
    ordering = ("rotation__name", "person__name")


class PersonAssignmentInline(_ReadOnlyAssignmentInline):
    fields = readonly_fields = ("block", "rotation", "role", "pinned", "notes", "version")
    ordering = ("-block__start_date",)


class ResidentYearInline(SafeInputAdminMixin, admin.TabularInline):
    """New PGY levels can be added here; existing ones are changed on their own (versioned)
    change page: an editable inline row would be saved with the values it read, silently
    overwriting a newer edit."""

    model = ResidentYear
    extra = 0
    show_change_link = True

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    autocomplete_fields = ("academic_year",)
    verbose_name = "PGY level"
    verbose_name_plural = "PGY level per academic year"


class BlockInline(admin.TabularInline):
    """Read-only: blocks are cut by the "Create blocks" action or edited one at a time, where
    the overlap constraint is checked against the saved blocks."""

    model = Block
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = ("number", "start_date", "end_date")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- People, years, blocks, rotations, absences ---


@admin.register(Person)
class PersonAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "email", "kind", "pgy_now", "login", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "email", "user__username")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    inlines = (ResidentYearInline, PersonAssignmentInline)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        year = selectors.current_academic_year()
        if year is None:
            return queryset
        return queryset.annotate(
            pgy_now=Subquery(
                ResidentYear.objects.filter(person=OuterRef("pk"), academic_year=year).values(
                    "pgy_level"
                )[:1]
            )
        )

    @admin.display(description="PGY (current year)", ordering="pgy_now")
    def pgy_now(self, person: Person) -> str:
        level = getattr(person, "pgy_now", None)
        return f"PGY-{level}" if level else "-"

    @admin.display(description="Login", ordering="user__username")
    def login(self, person: Person) -> str:
        return person.user.username if person.user else "-"


@admin.register(AcademicYear)
class AcademicYearAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("label", "start_date", "end_date", "block_count", "generation_fence")
    search_fields = ("label",)
    readonly_fields = ("generation_fence",)
    inlines = (BlockInline,)
    actions = ("create_blocks", "export_assignments_csv")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(block_count=Count("blocks"))

    @admin.display(description="Blocks", ordering="block_count")
    def block_count(self, year: AcademicYear) -> int:
        return year.block_count

    @admin.action(description="Create blocks (13 four-week blocks, or choose a length)")
    def create_blocks(self, request: HttpRequest, queryset: QuerySet[AcademicYear]):
        """An intermediate page asks for the block length (4 weeks preselected); the service cuts
        each selected year and refuses a year that already has blocks."""
        if "apply" in request.POST:
            form = BlocksCreateForm(request.POST)
            if form.is_valid():
                for year in queryset.order_by("start_date"):
                    try:
                        blocks = services.blocks_create_for_year(
                            academic_year=year, length_days=form.length_days()
                        )
                    except RotaError as error:
                        self.message_user(request, error.message, messages.ERROR)
                    else:
                        self.message_user(
                            request,
                            f"{year}: created {len(blocks)} blocks, "
                            f"{blocks[0].start_date} to {blocks[-1].end_date}.",
                            messages.SUCCESS,
                        )
                return None  # back to the changelist, where the messages show
        else:
            form = BlocksCreateForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Create blocks",
            "opts": self.opts,
            "form": form,
            "years": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/residency/academicyear/create_blocks.html", context)

    @admin.action(description="Export assignments as CSV")
    def export_assignments_csv(self, request: HttpRequest, queryset: QuerySet[AcademicYear]):
        years = list(queryset.order_by("start_date"))
        name = "_".join(re.sub(r"[^\w.-]", "", year.label) for year in years)
        response = HttpResponse(
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="assignments-{name}.csv"'},
        )
        writer = csv.writer(response)
        writer.writerow(CSV_HEADER)
        for year in years:
            levels = selectors.pgy_levels_for_year(academic_year=year)
            for a in selectors.assignments_for_year(academic_year=year):
                writer.writerow(
                    [
                        year.label,
                        a.block.number,
                        a.block.start_date.isoformat(),
                        a.block.end_date.isoformat(),
                        _csv_text(a.person.name),
                        _csv_text(a.person.email),
                        a.person.kind,
                        levels.get(a.person_id, ""),
                        _csv_text(a.rotation.code),
                        _csv_text(a.rotation.name),
                        a.role,
                        "yes" if a.pinned else "no",
                        _csv_text(a.notes),
                        a.version,
                    ]
                )
        return response


CSV_HEADER = [
    "academic_year",
    "block",
    "block_start",
    "block_end",
    "person",
    "email",
    "kind",
    "pgy",
    "rotation_code",
    "rotation",
    "role",
    "pinned",
    "notes",
    "version",
]


def _csv_text(value: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheet programs; a leading quote
    # keeps typed text (a note, a name) as text.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value


@admin.register(ResidentYear)
class ResidentYearAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("person", "academic_year", "pgy_level")
    list_filter = ("academic_year", "pgy_level")
    search_fields = ("person__name", "person__email")
    autocomplete_fields = ("person", "academic_year")
    list_select_related = ("person", "academic_year")


@admin.register(Block)
class BlockAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "number", "start_date", "end_date", "days", "assignment_count")
    list_filter = ("academic_year",)
    search_fields = ("academic_year__label", "number")
    autocomplete_fields = ("academic_year",)
    list_select_related = ("academic_year",)
    ordering = ("-academic_year__start_date", "number")
    inlines = (BlockAssignmentInline,)

    def get_queryset(self, request):
        # select_related for every use (autocomplete, change form), not only the changelist:
        # str(block) names its year.
        return (
            super()
            .get_queryset(request)
            .select_related("academic_year")
            .annotate(assignment_count=Count("assignments"))
        )

    @admin.display(description="Days")
    def days(self, block: Block) -> int:
        return block.days

    @admin.display(description="Assignments", ordering="assignment_count")
    def assignment_count(self, block: Block) -> int:
        return block.assignment_count


class RotationTemplateAdminForm(VersionedAdminForm):
    """The PGY levels as checkboxes (1..8) instead of a raw array text box."""

    allowed_pgy_levels = forms.TypedMultipleChoiceField(
        choices=[(level, f"PGY-{level}") for level in PGY_LEVELS],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Allowed PGY levels",
        help_text="Residents of these levels may take it. Leave rotations ignore this.",
    )

    class Meta:
        model = RotationTemplate
        fields = (
            "name",
            "code",
            "kind",
            "staffed_by",
            "min_people",
            "max_people",
            "allowed_pgy_levels",
            "supervision_ratio",
            "heavy",
            "weekly_hours",
            "color",
            "active",
        )

    def clean_allowed_pgy_levels(self) -> list[int]:
        return sorted(set(self.cleaned_data["allowed_pgy_levels"]))

    def clean(self):
        cleaned = super().clean()
        levels = cleaned.get("allowed_pgy_levels")
        if (
            levels == []
            and cleaned.get("staffed_by") == RotationTemplate.StaffedBy.RESIDENTS
            and cleaned.get("kind") != RotationTemplate.Kind.LEAVE
        ):
            self.add_error(
                "allowed_pgy_levels",
                "Choose at least one PGY level: no resident could be placed on this rotation.",
            )
        return cleaned


@admin.register(RotationTemplate)
class RotationTemplateAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    form = RotationTemplateAdminForm
    list_display = (
        "name",
        "code",
        "kind",
        "staffed_by",
        "capacity",
        "pgy_levels",
        "supervision_ratio",
        "heavy",
        "weekly_hours",
        "active",
    )
    list_filter = ("kind", "staffed_by", "heavy", "active")
    search_fields = ("name", "code")

    @admin.display(description="People per block")
    def capacity(self, rotation: RotationTemplate) -> str:
        return f"{rotation.min_people}-{rotation.max_people}"

    @admin.display(description="PGY levels")
    def pgy_levels(self, rotation: RotationTemplate) -> str:
        return ", ".join(str(level) for level in rotation.allowed_pgy_levels) or "-"


@admin.register(Absence)
class AbsenceAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("person", "kind", "status", "start_date", "end_date", "days")
    list_filter = ("status", "kind", "person__kind")
    search_fields = ("person__name", "person__email", "note")
    autocomplete_fields = ("person",)
    list_select_related = ("person",)
    date_hierarchy = "start_date"

    @admin.display(description="Days")
    def days(self, absence: Absence) -> int:
        return (absence.end_date - absence.start_date).days + 1

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)  # the versioned write
        if not change or "status" in form.changed_data:
            # Approved or denied: the person hears (the admin's transaction: the outbox).
            absence_decision_notify(absence=obj)
