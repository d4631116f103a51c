from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import DomainError
from apps.ocpi.adapters.registry import adapter_problem
from apps.ocpi.models import DeliveryStatus
from apps.partners.models import PartnerConnection
from apps.partners.services import (
    connection_outbound_set_paused,
    connection_resume,
    connection_suspend,
)

ACTIONS = ("pause-pushes", "resume-pushes", "suspend", "resume")


class Command(BaseCommand):
    help = (
        "List partner connections (status, version, pushes, backlog, problems), or change one: "
        "pause or resume our pushes to it, suspend or resume it (the same services as the admin "
        "buttons; resuming wakes the pushes that waited)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("connection", nargs="?", type=int, help="Connection id")
        parser.add_argument("action", nargs="?", choices=ACTIONS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["connection"] is None:
            self._list()
            return
        connection = PartnerConnection.objects.filter(pk=options["connection"]).first()
        if connection is None:
            raise CommandError(f"no connection #{options['connection']}")
        action = options["action"]
        actor = "command:ocpi_connection"
        try:
            if action == "pause-pushes":
                connection_outbound_set_paused(connection=connection, paused=True, actor=actor)
            elif action == "resume-pushes":
                connection_outbound_set_paused(connection=connection, paused=False, actor=actor)
            elif action == "suspend":
                connection_suspend(connection=connection, actor=actor)
            elif action == "resume":
                connection_resume(connection=connection, actor=actor)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        connection.refresh_from_db()
        self.stdout.write(self._line(connection))

    def _list(self) -> None:
        connections = PartnerConnection.objects.select_related("partner").order_by("pk")
        for connection in connections[:500]:
            self.stdout.write(self._line(connection))

    def _line(self, connection: PartnerConnection) -> str:
        pending = connection.deliveries.filter(status=DeliveryStatus.PENDING).count()
        dead = connection.deliveries.filter(status=DeliveryStatus.DEAD).count()
        parts = [
            f"#{connection.pk} {connection}",
            connection.status,
            f"OCPI {connection.version}" if connection.version else "no version yet",
            "pushes paused" if connection.outbound_paused else "pushes on",
            f"{pending} pending, {dead} dead",
        ]
        problem = adapter_problem(connection.adapter_profile, connection.version)
        if problem:
            parts.append(f"NOT WORKING: {problem}")
        return " | ".join(parts)
