from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.commands.enums import CommandType
from apps.core.errors import DomainError
from apps.ocpi.services.commands import command_send
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection
from apps.tokens.models import Token


class Command(BaseCommand):
    help = (
        "Send a remote command (START_SESSION, STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION, "
        "UNLOCK_CONNECTOR) to the CPO behind a partner connection, as our eMSP, and print the "
        "CPO's answer. The result arrives later on our response_url (see the admin: Commands)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--connection", type=int, required=True, help="Connection id")
        parser.add_argument("type", choices=CommandType.values)
        parser.add_argument("--token", help="uid of one of our tokens (START/RESERVE)")
        parser.add_argument("--token-type", default=None, help="type of that token, if ambiguous")
        parser.add_argument("--location", default="", help="location id")
        parser.add_argument("--evse", default="", help="EVSE uid")
        parser.add_argument("--connector", default="", help="connector id")
        parser.add_argument("--session", default="", help="session id (STOP_SESSION)")
        parser.add_argument("--reservation", default="", help="reservation id")
        parser.add_argument(
            "--minutes", type=int, default=30, help="RESERVE_NOW: reservation length"
        )
        parser.add_argument("--authorization-reference", default="")
        parser.add_argument("--cpo", default=None, help="CPO party as CC*PID, if several")

    def handle(self, *args: Any, **options: Any) -> None:
        connection = PartnerConnection.objects.filter(pk=options["connection"]).first()
        if connection is None:
            raise CommandError(f"no connection #{options['connection']}")
        if connection.status != ConnectionStatus.CONNECTED:
            raise CommandError(f"connection #{connection.pk} is {connection.status}, not connected")
        token = None
        if options["token"]:
            tokens = Token.objects.filter(party__partner__isnull=True, uid__iexact=options["token"])
            if options["token_type"]:
                tokens = tokens.filter(type=options["token_type"])
            found = list(tokens.select_related("party")[:2])
            if len(found) != 1:
                raise CommandError(
                    f"{len(found) or 'no'} tokens of ours with uid {options['token']!r}"
                    + ("; give --token-type" if found else "")
                )
            token = found[0]
        cpo = None
        if options["cpo"]:
            country_code, _, party_id = options["cpo"].partition("*")
            cpo = connection.represented_parties.filter(
                country_code__iexact=country_code, party_id__iexact=party_id
            ).first()
            if cpo is None:
                raise CommandError(
                    f"connection #{connection.pk} does not represent {options['cpo']}"
                )
        command_type = options["type"]
        try:
            command = command_send(
                connection=connection,
                type=command_type,
                token=token,
                location_id=options["location"],
                evse_uid=options["evse"],
                connector_id=options["connector"],
                session_id=options["session"],
                reservation_id=options["reservation"],
                expiry_date=timezone.now() + timedelta(minutes=options["minutes"])
                if command_type == CommandType.RESERVE_NOW
                else None,
                authorization_reference=options["authorization_reference"],
                cpo_party=cpo,
                actor="command:ocpi_command",
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        answer = command.response_result or "no response"
        line = f"{command.type} {command.uid}: {answer}"
        if command.response_timeout is not None:
            line += f" (result within {command.response_timeout} s)"
        if command.response_message:
            line += f" - {command.response_message}"
        self.stdout.write(line)
        if not command.response_result:
            raise CommandError("the CPO did not answer the command")
