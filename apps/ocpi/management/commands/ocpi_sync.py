from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ocpi.services.sync import SYNC_KINDS, sync_cursors_ensure, sync_run
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection


class Command(BaseCommand):
    help = (
        "Pull now: run (or resume) the sync of one or every module from one or every connected "
        "partner, in this process. Incremental from the high-water mark unless --full."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--connection", type=int, default=None, help="Connection id")
        parser.add_argument("--module", choices=sorted(SYNC_KINDS), default=None)
        parser.add_argument("--full", action="store_true", help="Full resync (no date_from)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["connection"] is not None:
            connection = PartnerConnection.objects.filter(pk=options["connection"]).first()
            if connection is None:
                raise CommandError(f"no connection #{options['connection']}")
            if connection.status != ConnectionStatus.CONNECTED:
                raise CommandError(
                    f"connection #{connection.pk} is {connection.status}, not connected"
                )
        targets = [
            (c.connection_id, c.module)
            for c in sync_cursors_ensure()
            if options["connection"] in (None, c.connection_id)
            and options["module"] in (None, c.module)
        ]
        if not targets:
            raise CommandError("nothing to sync: no connected partner offers that module")
        failed = False
        for connection_id, module in targets:
            report = sync_run(connection_id=connection_id, module=module, full=options["full"])
            state = (
                "busy (another run holds it)"
                if report.busy
                else "done"
                if report.completed
                else f"failed: {report.error}"
            )
            failed |= not report.completed and not report.busy
            self.stdout.write(
                f"connection #{connection_id} {module}: {state}; {report.pages} page(s), "
                f"{report.objects} stored, {report.invalid} invalid"
                + (" (resumed)" if report.resumed else "")
            )
        if failed:
            raise CommandError("some syncs failed; they resume from where they stopped")
