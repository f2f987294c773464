"""The coordinators' admin.

Thin, like every interface: assignments are written only through ``residency.services`` (the
version-checked update, the rule-checked create and delete), blocks are cut by
``services.blocks_create_for_year``. Everything else is plain ModelAdmin, whose model validation
(``full_clean``, including the CHECK, UNIQUE and EXCLUDE constraints) turns a bad value into a form
error instead of a database error.
"""

from __future__ import annotations

import csv
import json
import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from residency import selectors, services
from residency.errors import ConcurrentEdit, Gone, RotaError, RuleViolation
from residency.forms import (
    BlocksCreateForm,
    RotationTemplateAdminForm,
    assignment_raw_values,
    field_raw,
    values_read_parse,
)
from residency.history_views import assignment_history_admin_view
from residency.http import parse_id
from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)


class SafeAutocompleteSelect(AutocompleteSelect):
    """The admin's autocomplete widget, minus a 500 on bad input.

    Django's widget re-renders a refused form by looking up the submitted value; a value that is
    not a valid id (a tampered or garbage POST) raises ValueError in that lookup, so the page
    answers 500 instead of the form with "Select a valid choice". Such values are left out of
    the lookup: the field's own error already says what was wrong.
    """

    def optgroups(self, name, value, attr=None):
        pk = self.field.remote_field.model._meta.pk
        valid = []
        for item in value:
            try:
                pk.to_python(item)
            except ValidationError:
                continue
            valid.append(item)
        return super().optgroups(name, valid, attr)


class SafeInputAdminMixin:
    """Bad input to the admin is answered, never a 500 (found by fuzzing the admin):

    - ``autocomplete_fields`` use ``SafeAutocompleteSelect``;
    - an action posted with selected ids that are not ids (a tampered POST: Django looks them
      up as they are and raises ValueError) does nothing and says so.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
                pk.to_python(value)
        except ValidationError:
            self.message_user(
                request, "Some of the selected items do not exist; nothing was done.",
                messages.WARNING,
            )  # fmt: skip
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


admin.site.site_header = "Rota coordinators"
admin.site.site_title = "Rota admin"
admin.site.index_title = "Residency program"


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
    model = ResidentYear
    extra = 0
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
class PersonAdmin(SafeInputAdminMixin, admin.ModelAdmin):
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
class AcademicYearAdmin(SafeInputAdminMixin, admin.ModelAdmin):
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
class ResidentYearAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    list_display = ("person", "academic_year", "pgy_level")
    list_filter = ("academic_year", "pgy_level")
    search_fields = ("person__name", "person__email")
    autocomplete_fields = ("person", "academic_year")
    list_select_related = ("person", "academic_year")


@admin.register(Block)
class BlockAdmin(SafeInputAdminMixin, admin.ModelAdmin):
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


@admin.register(RotationTemplate)
class RotationTemplateAdmin(SafeInputAdminMixin, admin.ModelAdmin):
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
class AbsenceAdmin(SafeInputAdminMixin, admin.ModelAdmin):
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
        # Through the service: approving or denying tells the person (same transaction).
        services.absence_save(absence=obj, by=request.user)


# --- Assignments: version-checked ---


class AssignmentAdminForm(forms.ModelForm):
    """The admin's Assignment form, protected against lost updates.

    It carries the version it was rendered with (``expected_version``). The admin's flow offers
    no hook between "the form is valid" and "the object is saved" that can still send the form
    back with an error, so the write happens as the last step of validation: once every field
    and model check passed, ``full_clean`` calls the service (one conditional UPDATE for a
    change). A stale version, a broken rule or a busy lock becomes a form error: the form
    re-renders with what the coordinator typed, and ``status_code`` tells the admin which HTTP
    status to answer with. ``AssignmentAdmin.save_model`` then has nothing left to do.
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # The editable values as the form was rendered (JSON). After a conflict, fields the
    # coordinator left alone take the newer saved values, so saving again overwrites only what
    # they actually changed, never someone else's edit of a field they did not touch.
    values_read = forms.CharField(widget=forms.HiddenInput, required=False)
    editor = None  # the user saving; set per request by AssignmentAdmin.get_form
    status_code = 200

    EDITABLE = ("person", "block", "rotation", "role", "pinned", "notes")

    class Meta:
        model = Assignment
        fields = ("person", "block", "rotation", "role", "pinned", "notes")  # = EDITABLE

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["expected_version"].initial = self.instance.version
            self.fields["values_read"].initial = json.dumps(_raw_values(self.instance))

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and not self._errors:
            self._write()

    def _write(self) -> None:
        data = {name: self.cleaned_data[name] for name in self.EDITABLE}
        try:
            if self.instance._state.adding:
                self.instance = services.assignment_create(by=self.editor, **data)
                return
            version = self.cleaned_data.get("expected_version")
            if version is None:
                self.status_code = 400
                self.add_error(None, "This form lost the version it was opened with. Reload it.")
                return
            changes = {name: data[name] for name in self.changed_data if name in data}
            if changes:
                self.instance = services.assignment_update(
                    assignment_id=self.instance.pk, version=version, by=self.editor, **changes
                )
        except ConcurrentEdit as error:
            self._show_conflict(error.current)
        except RuleViolation as error:
            self.status_code = error.status_code
            self.add_error(error.field if error.field in self.fields else None, error.message)
        except RotaError as error:  # Gone, Busy
            self.status_code = error.status_code
            self.add_error(None, error.message)

    def _show_conflict(self, current: Assignment) -> None:
        self.status_code = 409
        who = _user_name(current.updated_by) if current.updated_by else "Someone"
        when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M")
        saved = "; ".join(
            f"{self.fields[name].label}: {_display(current, name)}" for name in self.EDITABLE
        )
        self.add_error(
            None,
            f"{who} saved a newer version of this assignment at {when} (version "
            f"{current.version}) while you were editing it. Nothing of yours was saved; what you "
            "typed is kept below.",
        )
        self.add_error(None, f"Saved now: {saved}.")
        self.add_error(None, "To replace their values with yours, check them and save again.")
        data = self.data.copy()
        read = self._values_read()
        now = _raw_values(current)
        for name in self.EDITABLE:
            typed = field_raw(self.cleaned_data.get(name))
            if typed == now[name]:
                continue
            if name in read and typed == read[name]:
                # Untouched by this coordinator: show (and on a second save keep) the newer value.
                _set_form_value(data, self.add_prefix(name), now[name])
                self.add_error(name, f"Updated to the newer saved value: {_display(current, name)}")
            else:
                self.add_error(name, f"Saved meanwhile: {_display(current, name)}")
        # The page now shows the newer version, so a second save is a deliberate overwrite of it.
        data[self.add_prefix("expected_version")] = str(current.version)
        data[self.add_prefix("values_read")] = json.dumps(now)
        self.data = data
        for field in ("version", "updated_by", "updated_at"):
            setattr(self.instance, field, getattr(current, field))

    def _values_read(self) -> dict:
        return values_read_parse(self.cleaned_data.get("values_read"))


def _raw_values(assignment: Assignment) -> dict:
    return assignment_raw_values(assignment, AssignmentAdminForm.EDITABLE)


def _set_form_value(data, key: str, value) -> None:
    if isinstance(value, bool):  # a checkbox is sent only when checked
        if value:
            data[key] = "on"
        else:
            data.pop(key, None)
    else:
        data[key] = "" if value is None else str(value)


def _user_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _display(assignment: Assignment, name: str) -> str:
    if name == "role":
        return assignment.get_role_display()
    if name == "pinned":
        return "yes" if assignment.pinned else "no"
    if name == "notes":
        return f"“{assignment.notes}”" if assignment.notes else "(none)"
    return str(getattr(assignment, name))


@admin.register(Assignment)
class AssignmentAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    form = AssignmentAdminForm
    list_display = (
        "person",
        "block",
        "rotation",
        "role",
        "pgy",
        "pinned",
        "version",
        "updated_by",
        "updated_at",
    )
    list_filter = ("block__academic_year", "rotation", "role", "pinned", "person__kind")
    search_fields = ("person__name", "person__email", "rotation__code", "rotation__name", "notes")
    autocomplete_fields = ("person", "block", "rotation")
    list_select_related = ("person", "block__academic_year", "rotation", "updated_by")
    readonly_fields = ("version", "updated_by", "updated_at", "generation_run_id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "person",
                    "block",
                    "rotation",
                    "role",
                    "pinned",
                    "notes",
                    "expected_version",
                )
            },
        ),
        ("Last change", {"fields": ("version", "updated_by", "updated_at", "generation_run_id")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("person", "block__academic_year", "rotation", "updated_by")
            .annotate(
                pgy_level=_pgy_subquery(person_ref="person_id", year_ref="block__academic_year_id")
            )
        )

    @admin.display(description="PGY", ordering="pgy_level")
    def pgy(self, assignment: Assignment) -> str:
        level = getattr(assignment, "pgy_level", None)
        return f"PGY-{level}" if level else "-"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.editor = request.user  # a fresh class per call (modelform_factory)
        return form

    def save_model(self, request, obj, form, change) -> None:
        # Already written by the service during validation (AssignmentAdminForm); a save() here
        # would be an unchecked second write.
        pass

    def history_view(self, request, object_id, extra_context=None):
        # Every change from every path (triggers), not only the admin's log; kept after the
        # row is deleted, so it answers for an object id that no longer exists.
        return assignment_history_admin_view(self, request, object_id)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(request, context, add, change, form_url, obj)
        form = context["adminform"].form
        response.status_code = getattr(form, "status_code", 200)
        return response

    # Deleting is version-checked too: the confirmation page carries the version it showed.

    actions = ("delete_selected",)

    @admin.action(permissions=["delete"], description="Delete selected assignments")
    def delete_selected(self, request, queryset):
        """Replaces Django's bulk delete, which would delete rows edited after the coordinator
        looked at them. The confirmation page carries each row's version; a row changed since
        then is kept and named."""
        if not request.POST.get("post"):
            return TemplateResponse(
                request,
                "admin/residency/assignment/delete_selected_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Delete assignments?",
                    "opts": self.model._meta,
                    "assignments": queryset,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        deleted, kept = 0, []
        for assignment in queryset:
            version = parse_id(request.POST.get(f"version_{assignment.pk}", ""))
            try:
                if version is None:
                    raise ConcurrentEdit(assignment)
                services.assignment_delete(
                    assignment_id=assignment.pk, version=version, by=request.user
                )
                self.log_deletions(request, [assignment])  # "Recent actions" on the index
                deleted += 1
            except (ConcurrentEdit, Gone):
                kept.append(str(assignment))
        if deleted:
            self.message_user(request, f"Deleted {deleted} assignment(s).", messages.SUCCESS)
        if kept:
            self.message_user(
                request,
                f"Kept {len(kept)} assignment(s) changed since you selected them: "
                f"{'; '.join(kept)}. Look at them again before deleting.",
                messages.WARNING,
            )
        return None

    def delete_model(self, request, obj) -> None:
        try:
            version = int(request.POST["expected_version"])
        except (KeyError, ValueError):
            version = obj.version
        services.assignment_delete(assignment_id=obj.pk, version=version, by=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except Gone as error:
            self.message_user(request, error.message, messages.WARNING)
            return HttpResponseRedirect(reverse("admin:residency_assignment_changelist"))
        except ConcurrentEdit as error:
            who = _user_name(error.current.updated_by) if error.current.updated_by else "Someone"
            self.message_user(
                request,
                f"{who} changed this assignment after you opened the delete page, so it was not "
                "deleted. Check the new values and delete again if you still want to.",
                messages.ERROR,
            )
        except RotaError as error:
            self.message_user(request, error.message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:residency_assignment_change", args=[object_id]))


# The notification outbox (issue 10).
from residency import notification_admin  # noqa: E402, F401
