"""The charge-point backend: what executes a command at a charger.

roamdesk does not speak OCPP. Whatever does (an OCPP bridge, a CPO's own central system, or the
built-in :mod:`apps.commands.simulator`) implements :class:`ChargePointBackend` and is named by
the ``CHARGE_POINT_BACKEND`` setting (a dotted path to a class or a factory; default the
simulator).

A command received from an eMSP goes through two steps:

1. **Decide** (``start_session``, ``stop_session``, ``reserve_now``, ``cancel_reservation``,
   ``unlock_connector``): called while roamdesk answers the eMSP, inside the transaction that
   stores the command, after roamdesk's own checks (the location is ours and visible to the
   eMSP, the session and the token belong to it). Return at once: ACCEPTED (the charge point
   can be asked), REJECTED, NOT_SUPPORTED or UNKNOWN_SESSION. This is the immediate
   CommandResponse the eMSP gets, so never wait for the charger here and change nothing
   outside the database transaction you are given.
2. **Execute** (``execute``): for an accepted command only, called in a Celery worker after the
   command is committed (at least once: it may be called again for the same command if a worker
   is lost, so do nothing twice for one ``command.uid``). Ask the charger, then report the
   outcome with :func:`apps.commands.services.command_result_record`, from this call or later
   from any process (e.g. when the charger's OCPP confirmation arrives). A command with no
   outcome by its ``deadline`` is reported as TIMEOUT by roamdesk.

Charging profiles have their own backend protocol (``ChargingProfileBackend``); one class may
implement both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from apps.commands.enums import CommandResponseType, CommandType

if TYPE_CHECKING:
    from apps.commands.models import Command

DEFAULT_BACKEND = "apps.commands.simulator.SimulatorBackend"


@dataclass(frozen=True)
class BackendReply:
    """A backend's immediate decision on a command (a ``CommandResponseType``)."""

    acceptance: str
    message: str = ""

    @classmethod
    def accepted(cls, message: str = "") -> BackendReply:
        return cls(CommandResponseType.ACCEPTED, message)

    @classmethod
    def rejected(cls, message: str) -> BackendReply:
        return cls(CommandResponseType.REJECTED, message)

    @classmethod
    def not_supported(cls, message: str) -> BackendReply:
        return cls(CommandResponseType.NOT_SUPPORTED, message)

    @classmethod
    def unknown_session(cls, message: str) -> BackendReply:
        return cls(CommandResponseType.UNKNOWN_SESSION, message)


@runtime_checkable
class ChargePointBackend(Protocol):
    """Executes remote commands at our charge points (see the module docstring for the contract).

    Every decide method gets the stored :class:`~apps.commands.models.Command` (payload fields,
    ``location``/``evse``/``connector``/``charging_session`` resolved where roamdesk holds them,
    ``cpo_party`` the CPO it is for) and may fill in the objects it chooses (e.g. the EVSE when
    the eMSP named none); roamdesk saves them with the answer.
    """

    def start_session(self, command: Command) -> BackendReply:
        """START_SESSION: the token (``command.token_data``) is already authorized by the eMSP."""
        ...

    def stop_session(self, command: Command) -> BackendReply:
        """STOP_SESSION of ``command.charging_session`` (``None`` when roamdesk has no such
        session: answer UNKNOWN_SESSION unless the charger may know it)."""
        ...

    def reserve_now(self, command: Command) -> BackendReply:
        """RESERVE_NOW until ``command.expiry_date``; the same ``reservation_ref`` from the same
        eMSP at the same location replaces the reservation."""
        ...

    def cancel_reservation(self, command: Command) -> BackendReply:
        """CANCEL_RESERVATION of the eMSP's ``reservation_ref``."""
        ...

    def unlock_connector(self, command: Command) -> BackendReply:
        """UNLOCK_CONNECTOR at ``command.evse``/``command.connector``."""
        ...

    def execute(self, command: Command) -> None:
        """Carry out an accepted command; report the outcome through ``command_result_record``."""
        ...


DECIDERS = {
    CommandType.START_SESSION: "start_session",
    CommandType.STOP_SESSION: "stop_session",
    CommandType.RESERVE_NOW: "reserve_now",
    CommandType.CANCEL_RESERVATION: "cancel_reservation",
    CommandType.UNLOCK_CONNECTOR: "unlock_connector",
}


def backend_decide(backend: ChargePointBackend, command: Command) -> BackendReply:
    """Ask ``backend`` for its decision on ``command`` (by the command's type)."""
    reply: BackendReply = getattr(backend, DECIDERS[CommandType(command.type)])(command)
    if reply.acceptance not in CommandResponseType.values:
        raise ImproperlyConfigured(
            f"{type(backend).__name__} answered {reply.acceptance!r}, not a CommandResponseType"
        )
    return reply


@cache
def _load(path: str) -> ChargePointBackend:
    try:
        factory = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"CHARGE_POINT_BACKEND {path!r} cannot be imported") from exc
    backend = factory()
    if not isinstance(backend, ChargePointBackend):
        raise ImproperlyConfigured(
            f"CHARGE_POINT_BACKEND {path!r} does not implement ChargePointBackend"
        )
    return backend


def charge_point_backend() -> ChargePointBackend:
    """The configured backend (one instance per process and setting)."""
    return _load(getattr(settings, "CHARGE_POINT_BACKEND", DEFAULT_BACKEND) or DEFAULT_BACKEND)
