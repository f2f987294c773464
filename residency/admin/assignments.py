"""The assignments admin: every write goes through ``residency.services`` (the version-checked
update, the rule-checked create and delete)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from residency import services
from residency.admin.program import _pgy_subquery
from residency.admin.safe_input import SafeInputAdminMixin
from residency.admin.versioned import VersionedAdminForm, VersionedAdminMixin, user_name
from residency.errors import ConcurrentEdit, Gone, RotaError
from residency.history_views import assignment_history_admin_view
from residency.http import parse_id
from residency.models import Assignment


class AssignmentAdminForm(VersionedAdminForm):
    """The admin's Assignment form: version-checked like every other (``VersionedAdminForm``),
    but the write itself happens as the last step of validation, through the assignment
    services (one conditional UPDATE for a change, the placement rules for a move). A stale
    version, a broken rule or a busy lock becomes a form error with its status code;
    ``AssignmentAdmin.save_model`` then has nothing left to do.
    """

    EDITABLE = ("person", "block", "rotation", "role", "pinned", "notes")

    class Meta:
        model = Assignment
        fields = ("person", "block", "rotation", "role", "pinned", "notes")  # = EDITABLE

    def editable_fields(self) -> list[str]:
        return list(self.EDITABLE)

    def write(self) -> None:
        data = {name: self.cleaned_data[name] for name in self.EDITABLE}
        try:
            if self.instance._state.adding:
                self.instance = services.assignment_create(by=self.editor, **data)
                return
            version = self.expected()
            if version is None:
                return
            changes = {name: data[name] for name in self.changed_data if name in data}
            if changes:
                self.instance = services.assignment_update(
                    assignment_id=self.instance.pk, version=version, by=self.editor, **changes
                )
        except ConcurrentEdit as error:
            self.show_conflict(error.current)
        except RotaError as error:  # RuleViolation, Gone, Busy
            self.fail(error)


@admin.register(Assignment)
class AssignmentAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
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

    def history_view(self, request, object_id, extra_context=None):
        # Every change from every path (triggers), not only the admin's log; kept after the
        # row is deleted, so it answers for an object id that no longer exists.
        return assignment_history_admin_view(self, request, object_id)

    def save_model(self, request, obj, form, change) -> None:
        # Already written by the service during validation (AssignmentAdminForm); a save() here
        # would be an unchecked second write.
        pass

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
        deleted, kept, gone = 0, [], 0
        # Rows a colleague deleted after the confirmation page are no longer in the queryset.
        selected = {parse_id(value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME)}
        assignments = list(queryset)
        gone += len(selected - {assignment.pk for assignment in assignments} - {None})
        for assignment in assignments:
            version = parse_id(request.POST.get(f"version_{assignment.pk}", ""))
            try:
                if version is None:
                    raise ConcurrentEdit(assignment)
                services.assignment_delete(
                    assignment_id=assignment.pk, version=version, by=request.user
                )
                self.log_deletions(request, [assignment])  # "Recent actions" on the index
                deleted += 1
            except Gone:
                gone += 1
            except ConcurrentEdit:
                kept.append(str(assignment))
        if deleted:
            self.message_user(request, f"Deleted {deleted} assignment(s).", messages.SUCCESS)
        if gone:
            self.message_user(
                request,
                f"{gone} assignment(s) had already been deleted by someone else.",
                messages.INFO,
            )
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
            who = user_name(error.current.updated_by) if error.current.updated_by else "Someone"
            self.message_user(
                request,
                f"{who} changed this assignment after you opened the delete page, so it was not "
                "deleted. Check the new values and delete again if you still want to.",
                messages.ERROR,
            )
        except RotaError as error:
            self.message_user(request, error.message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:residency_assignment_change", args=[object_id]))
