from django.core.management.base import BaseCommand

from residency.notifications import notifications_deliver_pending


class Command(BaseCommand):
    help = (
        "E-mail every notification still pending (Redis was down, a worker died, a retry is "
        "due). Run it from cron every minute; safe to run alongside workers."
    )

    def handle(self, *args, **options) -> None:
        sent = notifications_deliver_pending()
        self.stdout.write(f"Sent {sent} notification(s).")
