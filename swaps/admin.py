"""Coordinators see every swap request here and act through actions that call the services."""

from __future__ import annotations

from django.contrib import admin, messages

from residency.admin import SafeInputAdminMixin
from residency.errors import RotaError
from residency.selectors import is_coordinator
from swaps import services
from swaps.models import SwapEvent, SwapRequest, SwapRules


class SwapEventInline(admin.TabularInline):
    model = SwapEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "actor_label", "actor", "note")
    readonly_fields = fields

    def has_view_permission(self, request, obj=None) -> bool:
        return is_coordinator(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SwapRequest)
class SwapRequestAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "requester",
        "counterpart",
        "offered_label",
        "wanted_label",
        "created_at",
        "executed_at",
    )
    list_filter = ("status", "unit", "kind", "academic_year")
    search_fields = ("requester__name", "counterpart__name", "offered_label", "wanted_label")
    list_select_related = ("requester", "counterpart")
    date_hierarchy = "created_at"
    inlines = [SwapEventInline]
    actions = [
        "approve_and_execute",
        "execute",
        "reject",
        "roll_back",
        "run_matcher",
    ]
    # Requests are made and changed only through the services (pages, API, these actions), so
    # the change form is read-only: a raw edit would bypass the locks and the event log.
    readonly_fields = (
        "academic_year",
        "unit",
        "kind",
        "status",
        "requester",
        "counterpart",
        "offered",
        "offered_version",
        "offered_label",
        "wanted",
        "wanted_version",
        "wanted_label",
        "message",
        "created_at",
        "updated_at",
        "executed_at",
        "offered_version_after",
        "wanted_version_after",
        "offered_shift",
        "wanted_shift",
        "sick_call",
        "refusal",
    )

    # Coordinators (staff in the Coordinators group) see and act on every request, whatever
    # model permissions their group was given; nobody adds or deletes requests here.
    def has_module_permission(self, request) -> bool:
        return is_coordinator(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_coordinator(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_coordinator(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _each(self, request, queryset, call, done: str) -> None:
        for swap in queryset.order_by("pk"):
            try:
                result = call(swap)
            except RotaError as error:
                self.message_user(request, f"#{swap.pk}: {error.message}", messages.ERROR)
            else:
                # The admin index's "Recent actions": an action is a change made in the admin.
                self.log_change(request, result, f"{done.capitalize()} (admin action).")
                self.message_user(
                    request,
                    f"#{swap.pk}: {done} (now {result.get_status_display().lower()}).",
                    messages.SUCCESS,
                )

    @admin.action(description="Approve and execute the selected accepted swaps")
    def approve_and_execute(self, request, queryset) -> None:
        def call(swap: SwapRequest) -> SwapRequest:
            if swap.status == SwapRequest.Status.ACCEPTED:
                services.swap_request_approve(swap_request_id=swap.pk, by=request.user)
            return services.swap_request_execute(swap_request_id=swap.pk, by=request.user)

        self._each(request, queryset, call, "approved and executed")

    @admin.action(description="Execute the selected approved swaps")
    def execute(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda swap: services.swap_request_execute(swap_request_id=swap.pk, by=request.user),
            "executed",
        )

    @admin.action(description="Reject (decline) the selected requests")
    def reject(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda swap: services.swap_request_reject(swap_request_id=swap.pk, by=request.user),
            "rejected",
        )

    @admin.action(description="Roll back the selected executed swaps")
    def roll_back(self, request, queryset) -> None:
        self._each(
            request,
            queryset,
            lambda swap: services.swap_request_rollback(swap_request_id=swap.pk, by=request.user),
            "rolled back",
        )

    @admin.action(description="Run the auto-matcher now (all pending requests)")
    def run_matcher(self, request, queryset) -> None:
        report = services.swap_requests_match()
        level = messages.WARNING if report.failed else messages.SUCCESS
        self.message_user(request, report.summary(), level)


@admin.register(SwapRules)
class SwapRulesAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    """One row: the program's shift-trade rules, edited by coordinators."""

    list_display = (
        "__str__",
        "shift_notice_hours",
        "pgy_levels_may_cross",
        "shift_trades_need_approval",
        "give_away_cap_per_block",
    )

    def has_module_permission(self, request) -> bool:
        return is_coordinator(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_coordinator(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_coordinator(request.user)

    def has_add_permission(self, request) -> bool:
        return is_coordinator(request.user) and not SwapRules.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
