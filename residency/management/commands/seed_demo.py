import os

from django.core.management.base import BaseCommand
from django.utils import timezone

from residency.demo import demo_program_seed
from residency.signals import demo_program_seeded


class Command(BaseCommand):
    help = "Create (or complete) the demo program: people, the current year, rotations, a schedule."

    def handle(self, *args, **options) -> None:
        today = timezone.localdate()
        summary = demo_program_seed(today=today)
        demo_program_seeded.send(sender=self.__class__, summary=summary, today=today)
        created = ", ".join(f"{n} {what}" for what, n in summary.created.items() if n)
        self.stdout.write(
            self.style.SUCCESS(f"Demo program for {summary.year}: ")
            + (f"created {created}." if created else "already complete, nothing changed.")
        )
        address = os.environ.get("ROTA_ADDRESS", "127.0.0.1:8000")  # as dev.py serves it
        self.stdout.write(f"Open http://{address}/ and log in as one of:")
        self.stdout.write(f"  {'username':<12} {'password':<10} role")
        for username, password, role in summary.logins:
            self.stdout.write(f"  {username:<12} {password:<10} {role}")
