from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo.seed import seed_demo


class Command(BaseCommand):
    help = (
        "Create the demo dataset (parties, partners, tariffs, locations, tokens) and its history "
        "of the last 90 days up to now (sessions, CDRs, status changes, exchange log, sync "
        "cursors). Idempotent: a run adds only what happened since the last one."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even when DEBUG is off (demo data rarely belongs in production)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "refusing to load demo data with DEBUG off; pass --allow-production if you mean it"
            )
        counts = seed_demo()
        width = max(len(c.label) for c in counts)
        for count in counts:
            self.stdout.write(f"{count.label:<{width}}  {count.total:>6}  (+{count.created})")
        created = sum(c.created for c in counts)
        self.stdout.write(
            self.style.SUCCESS(f"demo data ready: {created} rows created")
            if created
            else "demo data already complete: nothing created"
        )
