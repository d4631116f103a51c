from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.management.parsing import ValuesMayStartWithDashParser
from apps.ocpi.adapters.registry import profiles
from apps.ocpi.services.handshake import HandshakeError, connection_register
from apps.ocpi.versions import STANDARD_PROFILE
from apps.partners.models import Partner


class Command(BaseCommand):
    help = "Register with a partner, given its versions URL and the token A it gave us."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # A token A may start with "-" (about 1 in 64 random tokens): it is still the token.
        return ValuesMayStartWithDashParser.adopt(
            super().create_parser(prog_name, subcommand, **kwargs)
        )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("versions_url")
        parser.add_argument("token_a")
        parser.add_argument("--partner", default="", help="Partner name (created if missing)")
        parser.add_argument("--profile", default=STANDARD_PROFILE, choices=profiles())

    def handle(self, *args: Any, **options: Any) -> None:
        partner, _ = Partner.objects.get_or_create(
            name=options["partner"] or f"Partner at {options['versions_url']}"[:100]
        )
        steps: list[str] = []
        try:
            connection = connection_register(
                partner=partner,
                versions_url=options["versions_url"],
                token_a=options["token_a"],
                profile=options["profile"],
                actor="command:ocpi_register",
                steps=steps,
            )
        except HandshakeError as exc:
            for line in steps:
                self.stderr.write(f"  {line}")
            raise CommandError(f"registration failed ({exc.ocpi_status}): {exc.message}") from exc
        for line in steps:
            self.stdout.write(f"  {line}")
        parties = ", ".join(p.code for p in connection.represented_parties.all())
        self.stdout.write(
            self.style.SUCCESS(
                f"registered: connection #{connection.pk}, OCPI {connection.version}, "
                f"parties {parties}"
            )
        )
