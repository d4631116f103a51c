from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ocpi.services.delivery import KINDS, connection_push_all
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection


class Command(BaseCommand):
    help = (
        "Initial load: queue everything we publish to a partner connection in the outbox "
        "(the workers then push it like any other change)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--connection", type=int, required=True, help="Connection id")
        parser.add_argument(
            "--module",
            choices=sorted({k.module for k in KINDS.values() if getattr(k, "initial_load", True)}),
            default=None,
        )

    def handle(self, *args: Any, **options: Any) -> None:
        connection = PartnerConnection.objects.filter(pk=options["connection"]).first()
        if connection is None:
            raise CommandError(f"no connection #{options['connection']}")
        if connection.status != ConnectionStatus.CONNECTED:
            raise CommandError(f"connection #{connection.pk} is {connection.status}, not connected")
        counts = connection_push_all(
            connection=connection, module=options["module"], actor="command:ocpi_push"
        )
        for module, count in counts.items():
            self.stdout.write(f"{module}: {count} queued")
        if connection.outbound_paused:
            self.stdout.write(self.style.WARNING("pushes to this partner are paused"))
