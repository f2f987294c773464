"""The outbox in the admin (issue 10): failed e-mails are visible and can be retried; nothing
here edits a notification's content or deletes one."""

from __future__ import annotations

from django.contrib import admin, messages

from residency.notification_models import Notification
from residency.notifications import notifications_retry


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "subject", "email", "user", "email_status", "attempts")
    list_filter = ("email_status", "kind")
    search_fields = ("subject", "email", "user__username")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ("retry",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Send the selected failed e-mails again", permissions=["view"])
    def retry(self, request, queryset) -> None:
        count = notifications_retry(notification_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"{count} failed e-mail(s) will be sent again.",
            messages.SUCCESS,
        )
