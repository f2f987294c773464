"""The outbox in the admin (issue 10): failed e-mails are visible and can be retried; nothing
here edits a notification's content or deletes one."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F

from residency.notification_models import Notification


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
        count = queryset.filter(email_status=Notification.EmailStatus.FAILED).update(
            email_status=Notification.EmailStatus.PENDING,
            next_attempt_at=None,
            attempts=F("attempts") * 0,
        )
        self.message_user(
            request,
            f"{count} e-mail(s) will be sent by the next `deliver_notifications` run.",
            messages.SUCCESS,
        )
