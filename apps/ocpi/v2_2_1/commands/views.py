"""OCPI 2.2.1 Commands (spec 11): the CPO's receiver interface and the eMSP's result callback."""

from __future__ import annotations

from typing import ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from apps.commands.enums import CommandResponseType, CommandType
from apps.commands.services import (
    CommandLocationUnknown,
    command_receive,
    command_result_record,
    command_sent_get,
    result_timeout,
)
from apps.commands.types import CommandAnswer
from apps.ocpi.common.errors import NotFound
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.v2_2_1.commands.codec import request_kind
from apps.ocpi.v2_2_1.views import ModuleView


def _command_type(name: str) -> CommandType:
    if name not in CommandType.values:
        raise NotFound(
            f"unknown command {name!r}; expected one of {', '.join(CommandType.values)}",
            status_code=OcpiStatus.INVALID_PARAMETERS,
        )
    return CommandType(name)


class CommandsReceiverView(ModuleView):
    """CPO role: ``POST …/commands/{command}``. Answers a CommandResponse at once; an accepted
    command is executed by the charge-point backend after commit, and its CommandResult is
    posted to the ``response_url`` later (the outbox)."""

    module: ClassVar[str] = "commands"

    def post(self, request: Request, command: str) -> Response:
        command_type = _command_type(command)
        parsed = self.adapter.parse(request_kind(command_type), request.data)
        assert self.routing is not None
        try:
            stored = command_receive(
                connection=self.connection,
                sender=self.routing.sender,
                cpo_parties=self.own_parties("CPO"),
                request=parsed,
            )
        except CommandLocationUnknown as exc:
            answer = CommandAnswer(CommandResponseType.REJECTED, result_timeout(), exc.message)
            return self.ocpi(
                self.adapter.render("command_response", answer),
                status_code=OcpiStatus.UNKNOWN_LOCATION,
                message=exc.message,
            )
        return self.ocpi(self.adapter.render("command_response", stored.answer))


class CommandsReceiverRootView(ModuleView):
    """The published root of the receiver interface; commands are POSTed below it."""

    module: ClassVar[str] = "commands"


class CommandResultView(ModuleView):
    """eMSP role: the ``response_url`` we gave with a command, ``…/commands/{command}/{uid}``.
    Only the connection the command was sent through may post its result."""

    module: ClassVar[str] = "commands"

    def post(self, request: Request, command: str, uid: str) -> Response:
        stored = command_sent_get(connection=self.connection, uid=uid)
        if stored is None or stored.type != command:
            raise NotFound(f"no {command} command {uid!r} was sent to this connection")
        outcome = self.adapter.parse("command_result", request.data)
        command_result_record(
            command=stored,
            result=outcome.result,
            message=outcome.message,
            actor=f"connection {self.connection.pk}",
        )
        return self.ocpi()


class CommandsSenderRootView(ModuleView):
    """The published root of the sender interface (the results arrive below it)."""

    module: ClassVar[str] = "commands"
