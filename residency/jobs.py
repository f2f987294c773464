"""rq entry points of the residency app: thin, they take ids and call a service."""

from residency.notifications import notifications_deliver


def deliver_notifications(*, notification_ids: list[int]) -> int:
    return notifications_deliver(notification_ids=notification_ids)
