from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.ocpi.adapters.registry import profiles
from apps.ocpi.services.handshake import connection_invite, our_versions_url
from apps.ocpi.versions import STANDARD_PROFILE
from apps.partners.models import Partner


class Command(BaseCommand):
    help = (
        "Invite a partner to register with us: prints our versions URL and a fresh registration "
        "token (token A) to hand over on a secure channel."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--partner", default="", help="Partner name (created if missing)")
        parser.add_argument("--profile", default=STANDARD_PROFILE, choices=profiles())
        parser.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["partner"] or "Invited partner"
        partner, _ = Partner.objects.get_or_create(name=name)
        if not partner.is_active:
            raise CommandError(f"partner {name!r} is inactive")
        connection, token_a = connection_invite(
            partner=partner, profile=options["profile"], actor="command:ocpi_invite"
        )
        expires = connection.issued_token_expires_at
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "versions_url": our_versions_url(),
                        "token_a": token_a,
                        "connection_id": connection.pk,
                        "expires_at": expires.isoformat() if expires else None,
                    }
                )
            )
            return
        self.stdout.write(f"versions URL: {our_versions_url()}")
        self.stdout.write(f"token A:      {token_a}")
        self.stdout.write(f"expires:      {expires:%Y-%m-%d %H:%M UTC}" if expires else "")
        self.stdout.write(f"connection:   #{connection.pk} ({partner.name})")
