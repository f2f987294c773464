"""The notification outbox (issue 10).

A service that changes something writes Notification rows in the same transaction (so a
rolled-back change notifies nobody and a committed one cannot be forgotten). Delivery is a
separate step (residency/notifications.py): an rq job enqueued on commit, and
``manage.py deliver_notifications`` for whatever is left. The in-app list reads the same rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = ["Notification", "NotificationPreference"]


class Notification(models.Model):
    class Kind(models.TextChoices):
        SWAP_REQUESTED = "swap_requested", "A swap request to you"
        SWAP_ACCEPTED = "swap_accepted", "Your swap request was accepted"
        SWAP_DECLINED = "swap_declined", "A swap request was declined"
        SWAP_CANCELLED = "swap_cancelled", "A swap request was cancelled"
        SWAP_EXPIRED = "swap_expired", "A swap request expired"
        SWAP_APPROVED = "swap_approved", "A swap was approved"
        SWAP_EXECUTED = "swap_executed", "A swap was executed"
        SWAP_ROLLED_BACK = "swap_rolled_back", "A swap was rolled back"
        SCHEDULE_CHANGED = "schedule_changed", "Your assignments changed"
        ABSENCE_DECIDED = "absence_decided", "Your absence was approved or denied"
        SWAP_AWAITING_APPROVAL = "swap_awaiting_approval", "Swaps awaiting approval (coordinators)"
        GENERATION_FINISHED = "generation_finished", "A generation run ended (coordinators)"

    class EmailStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"  # claimed by one delivery worker
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # every attempt failed; shown in the admin
        SKIPPED = "skipped", "Not e-mailed"  # turned off by the person, or no address

    # The login that sees it in the app (if any) and the address it is e-mailed to (if any).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    email = models.EmailField(blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    email_status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user"),
            models.Index(
                fields=["email_status", "next_attempt_at"],
                name="notification_to_send",
                condition=Q(email_status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} -> {self.email or self.user}"


class NotificationPreference(models.Model):
    """A kind of notification someone does not want by e-mail (they still see it in the app)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=Notification.Kind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}: {'e-mail' if self.email else 'in-app only'}"
