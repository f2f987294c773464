"""Admin for residents' wishes: the coordinator sets each year's deadline, reviews the wishes
(read-only: residents own them) and the fairness groups generation balances. Deadlines and
fairness groups are version-checked (two coordinators editing one: the second is told)."""

from __future__ import annotations

from django.contrib import admin

from residency.admin import SafeInputAdminMixin, VersionedAdminMixin
from scheduling.models import FairnessGroup, PreferenceWindow, RotationWish


@admin.register(PreferenceWindow)
class PreferenceWindowAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("academic_year", "deadline", "wish_count", "note")
    list_select_related = ("academic_year",)

    @admin.display(description="Wishes")
    def wish_count(self, obj: PreferenceWindow) -> int:
        return RotationWish.objects.filter(block__academic_year=obj.academic_year_id).count()


@admin.register(RotationWish)
class RotationWishAdmin(SafeInputAdminMixin, admin.ModelAdmin):
    list_display = ("person", "block_number", "rank", "rotation", "created_at")
    list_filter = ("block__academic_year", "rank", "rotation")
    list_select_related = ("person", "block", "rotation")
    search_fields = ("person__name", "person__email", "rotation__name", "rotation__code")
    ordering = ("person__name", "block__number", "rank")

    @admin.display(description="Block", ordering="block__number")
    def block_number(self, obj: RotationWish) -> int:
        return obj.block.number

    def has_add_permission(self, request) -> bool:
        return False  # residents enter wishes on their page, before the deadline

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FairnessGroup)
class FairnessGroupAdmin(SafeInputAdminMixin, VersionedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "weight", "holiday_blocks_only", "active", "rotation_codes")
    list_filter = ("active", "holiday_blocks_only")
    filter_horizontal = ("rotations",)

    @admin.display(description="Rotations")
    def rotation_codes(self, obj: FairnessGroup) -> str:
        return ", ".join(r.code for r in obj.rotations.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rotations")
