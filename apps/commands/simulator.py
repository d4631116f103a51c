"""A charge-point backend that simulates the chargers of our own locations (demo and tests).

Rules: a command for an unknown or REMOVED EVSE, or an EVSE that is not AVAILABLE, is rejected;
STOP_SESSION of a session that is not active answers UNKNOWN_SESSION. Executing:

* START_SESSION creates an ACTIVE :class:`ChargingSession` at the EVSE (the token snapshot, the
  authorization reference, auth method COMMAND) and sets the EVSE CHARGING;
* STOP_SESSION adds the last charging period and completes the session (which generates the
  CDR), and sets the EVSE AVAILABLE again;
* RESERVE_NOW / CANCEL_RESERVATION set the EVSE RESERVED / AVAILABLE;
* UNLOCK_CONNECTOR succeeds.

Meter values are simulated at a constant power (``COMMANDS_SIMULATOR_POWER_KW``, capped by the
connector's maximum): :func:`simulator_meter_advance` appends a charging period with its ENERGY
and TIME since the last one, so a session's periods and ``kwh`` are deterministic.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.charging_sessions.enums import AuthMethod, DimensionType, SessionStatus
from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
)
from apps.charging_sessions.services import session_complete
from apps.commands.backend import BackendReply
from apps.commands.enums import CommandResultType, CommandType
from apps.commands.models import Command
from apps.commands.services import command_result_record, reservation_active
from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.locations.enums import Capability, EvseStatus
from apps.locations.models import Connector, Evse
from apps.locations.services import evse_status_set
from apps.partners.models import Party
from apps.tariffs.models import Tariff
from apps.tokens.models import Token

ACTOR = "charge-point simulator"
QUANTUM = Decimal("1e-10")  # the precision of stored quantities
HOUR_US = Decimal(3_600_000_000)
#: The shortest charging period a meter reading adds.
MIN_PERIOD = timedelta(seconds=1)
INOPERATIVE = frozenset({EvseStatus.INOPERATIVE, EvseStatus.OUTOFORDER})


def simulated_power_kw(connector: Connector | None) -> Decimal:
    """The constant power of a simulated charge: the setting, capped by the connector."""
    power = Decimal(str(getattr(settings, "COMMANDS_SIMULATOR_POWER_KW", "11")))
    if connector is not None and connector.max_electric_power:
        power = min(power, Decimal(connector.max_electric_power) / 1000)
    return power


def _covered_until(session: ChargingSession) -> tuple[datetime, SessionChargingPeriod | None]:
    last = session.charging_periods.order_by("-sequence").first()
    if last is None:
        return session.start_date_time, None
    time = last.dimensions.filter(type=DimensionType.TIME).first()
    hours = time.volume if time else Decimal(0)
    return last.start_date_time + timedelta(microseconds=int(hours * HOUR_US)), last


def simulator_meter_advance(
    *, session: ChargingSession, at: datetime
) -> SessionChargingPeriod | None:
    """Append the charging period from the end of the last one (or the start) until ``at``,
    with the ENERGY charged at the simulated power and the TIME; adds the energy to the
    session's ``kwh``. Returns ``None`` when there is less than a second to add: the end of the
    last period is read back from its stored TIME (rounded to 1e-10 h), so a second reading at
    the same moment would otherwise add a period of a microsecond."""
    with transaction.atomic():
        locked = ChargingSession.objects.select_for_update().get(pk=session.pk)
        start, last = _covered_until(locked)
        if at - start < MIN_PERIOD:
            return None
        micros = (at - start) // timedelta(microseconds=1)
        hours = (Decimal(micros) / HOUR_US).quantize(QUANTUM)
        energy = (simulated_power_kw(locked.connector) * hours).quantize(QUANTUM)
        period = SessionChargingPeriod.objects.create(
            session=locked, sequence=(last.sequence + 1) if last else 1, start_date_time=start
        )
        SessionChargingDimension.objects.bulk_create(
            [
                SessionChargingDimension(period=period, type=DimensionType.ENERGY, volume=energy),
                SessionChargingDimension(period=period, type=DimensionType.TIME, volume=hours),
            ]
        )
        locked.kwh += energy
        locked.last_updated = max(at, locked.last_updated)
        locked.save(update_fields=["kwh", "last_updated"])
        change_announce(DomainChange(kind=ChangeKind.SESSION, object_id=locked.pk))
    session.kwh, session.last_updated = locked.kwh, locked.last_updated
    return period


def simulator_session_start(
    *,
    party: Party,
    evse: Evse,
    connector: Connector,
    token: Token | None,
    token_fields: dict[str, str],
    authorization_reference: str,
    at: datetime,
) -> ChargingSession:
    """A simulated charge begins: an ACTIVE session at the EVSE (announced) and the EVSE
    CHARGING. ``token_fields`` is the token snapshot (``token_uid``, ``token_type``, ...)."""
    location = evse.location
    tariff = Tariff.objects.filter(
        party=location.party, tariff_id__in=connector.tariff_ids or []
    ).first()
    session = ChargingSession.objects.create(
        party=party,
        session_id=str(uuid.uuid4()),
        start_date_time=at,
        kwh=Decimal(0),
        token=token,
        auth_method=AuthMethod.COMMAND,
        authorization_reference=authorization_reference,
        location_ref=location.location_id,
        evse_ref=evse.uid,
        connector_ref=connector.connector_id,
        location=location,
        evse=evse,
        connector=connector,
        currency=tariff.currency if tariff else getattr(settings, "DEFAULT_CURRENCY", "EUR"),
        status=SessionStatus.ACTIVE,
        last_updated=at,
        **token_fields,
    )
    change_announce(DomainChange(kind=ChangeKind.SESSION, object_id=session.pk))
    evse_status_set(evse=evse, status=EvseStatus.CHARGING, changed_at=at)
    return session


def simulator_session_stop(*, session: ChargingSession, at: datetime) -> None:
    """A simulated charge ends at ``at``: the last meter values, the session completed (which
    generates its CDR, priced by the tariff engine) and the EVSE AVAILABLE again."""
    simulator_meter_advance(session=session, at=at)
    session_complete(session=session, end_date_time=at, actor=ACTOR)
    if session.evse is not None:
        evse_status_set(evse=session.evse, status=EvseStatus.AVAILABLE, changed_at=at)


def _locked(model: type[Evse] | type[ChargingSession], pk: int | None) -> Any:
    """The row, locked for this transaction (the decide step resolved it)."""
    if pk is None:
        raise DomainError("the command lost the object it was accepted for", code="SIMULATOR")
    return model.objects.select_for_update().get(pk=pk)


def _status_reason(evse: Evse) -> str:
    return f"EVSE {evse.uid} is {evse.status}"


class SimulatorBackend:
    """Simulated chargers at our own locations (see the module docstring)."""

    # -- deciding ------------------------------------------------------------------------------
    def _evse(self, command: Command, *, choose: bool, reservation: Command | None = None) -> str:
        """Check (or choose, when the eMSP named none) the EVSE; returns why not, or ''."""
        if command.evse is None:
            if command.evse_ref or not choose or command.location is None:
                return f"unknown EVSE {command.evse_ref!r} at location {command.location_ref!r}"
            command.evse = (
                command.location.evses.filter(status=EvseStatus.AVAILABLE).order_by("uid").first()
            )
            if command.evse is None:
                return f"no EVSE is available at location {command.location_ref!r}"
        evse = command.evse
        if evse.status == EvseStatus.REMOVED:
            return f"unknown EVSE {evse.uid!r} (removed)"
        reserved_for_it = (
            reservation is not None
            and evse.status == EvseStatus.RESERVED
            and reservation.evse_id == evse.pk
        )
        if evse.status != EvseStatus.AVAILABLE and not reserved_for_it:
            return _status_reason(evse)
        return ""

    def _connector(self, command: Command, *, required_by_capability: bool) -> str:
        evse = command.evse
        assert evse is not None
        if command.connector is None:
            if command.connector_ref:
                return f"unknown connector {command.connector_ref!r} at EVSE {evse.uid!r}"
            if required_by_capability and (
                Capability.START_SESSION_CONNECTOR_REQUIRED in (evse.capabilities or [])
            ):
                return f"EVSE {evse.uid!r} needs a connector_id to start"
            command.connector = evse.connectors.order_by("connector_id").first()
            if command.connector is None:
                return f"EVSE {evse.uid!r} has no connector"
        return ""

    def start_session(self, command: Command) -> BackendReply:
        problem = self._evse(command, choose=True) or self._connector(
            command, required_by_capability=True
        )
        return BackendReply.rejected(problem) if problem else BackendReply.accepted()

    def stop_session(self, command: Command) -> BackendReply:
        session = command.charging_session
        if session is None or session.status != SessionStatus.ACTIVE:
            state = f" (it is {session.status})" if session is not None else ""
            return BackendReply.unknown_session(
                f"no session {command.session_ref!r} is charging{state}"
            )
        return BackendReply.accepted()

    def reserve_now(self, command: Command) -> BackendReply:
        previous = self._reservation(command)
        problem = self._evse(command, choose=True, reservation=previous)
        return BackendReply.rejected(problem) if problem else BackendReply.accepted()

    def cancel_reservation(self, command: Command) -> BackendReply:
        # Whether the reservation exists is the charger's outcome (UNKNOWN_RESERVATION).
        return BackendReply.accepted()

    def unlock_connector(self, command: Command) -> BackendReply:
        if command.evse is None or command.evse.status == EvseStatus.REMOVED:
            return BackendReply.rejected(
                f"unknown EVSE {command.evse_ref!r} at location {command.location_ref!r}"
            )
        if command.connector is None:
            return BackendReply.rejected(
                f"unknown connector {command.connector_ref!r} at EVSE {command.evse_ref!r}"
            )
        return BackendReply.accepted()

    # -- executing -----------------------------------------------------------------------------
    def execute(self, command: Command) -> None:
        handler = {
            CommandType.START_SESSION: self._start,
            CommandType.STOP_SESSION: self._stop,
            CommandType.RESERVE_NOW: self._reserve,
            CommandType.CANCEL_RESERVATION: self._cancel,
            CommandType.UNLOCK_CONNECTOR: self._unlock,
        }[CommandType(command.type)]
        with transaction.atomic():
            handler(command)

    def _result(self, command: Command, result: str, message: str = "") -> None:
        command_result_record(command=command, result=result, message=message, actor=ACTOR)

    def _occupied(self, command: Command, evse: Evse) -> None:
        result = (
            CommandResultType.EVSE_INOPERATIVE
            if evse.status in INOPERATIVE
            else CommandResultType.EVSE_OCCUPIED
        )
        self._result(command, result, _status_reason(evse))

    def _start(self, command: Command) -> None:
        if command.charging_session_id is not None:
            return  # executed already (a task delivered twice)
        evse: Evse = _locked(Evse, command.evse_id)
        if evse.status != EvseStatus.AVAILABLE:
            self._occupied(command, evse)
            return
        connector = command.connector
        location = command.location
        assert location is not None
        assert connector is not None
        assert command.cpo_party is not None
        session = simulator_session_start(
            party=command.cpo_party,
            evse=evse,
            connector=connector,
            token=command.token,
            token_fields={
                "token_country_code": command.token_country_code,
                "token_party_id": command.token_party_id,
                "token_uid": command.token_uid,
                "token_type": command.token_type,
                "token_contract_id": command.token_contract_id,
            },
            authorization_reference=command.authorization_reference,
            at=timezone.now(),
        )
        Command.objects.filter(pk=command.pk).update(charging_session=session)
        command.charging_session = session
        self._result(command, CommandResultType.ACCEPTED, f"session {session.session_id} started")

    def _stop(self, command: Command) -> None:
        session: ChargingSession = _locked(ChargingSession, command.charging_session_id)
        if session.status != SessionStatus.ACTIVE:
            self._result(command, CommandResultType.REJECTED, f"session is {session.status}")
            return
        simulator_session_stop(session=session, at=timezone.now())
        self._result(command, CommandResultType.ACCEPTED, f"session {session.session_id} stopped")

    def _reservation(self, command: Command) -> Command | None:
        if command.emsp_party is None:
            return None
        from apps.partners.models import Party

        return reservation_active(
            emsp_parties=Party.objects.filter(pk=command.emsp_party.pk),
            reservation_ref=command.reservation_ref,
            cpo_party=command.cpo_party,
        )

    def _reserve(self, command: Command) -> None:
        evse: Evse = _locked(Evse, command.evse_id)
        previous = self._reservation(command)
        if previous is not None and previous.pk != command.pk and previous.evse_id != evse.pk:
            old = Evse.objects.select_for_update().filter(pk=previous.evse_id or 0).first()
            if old is not None and old.status == EvseStatus.RESERVED:
                evse_status_set(evse=old, status=EvseStatus.AVAILABLE, changed_at=timezone.now())
        ours = previous is not None and previous.evse_id == evse.pk
        reserved_by_it = ours and evse.status == EvseStatus.RESERVED
        if evse.status != EvseStatus.AVAILABLE and not reserved_by_it:
            self._occupied(command, evse)
            return
        evse_status_set(evse=evse, status=EvseStatus.RESERVED, changed_at=timezone.now())
        expiry = f" until {command.expiry_date:%Y-%m-%d %H:%M}Z" if command.expiry_date else ""
        self._result(command, CommandResultType.ACCEPTED, f"EVSE {evse.uid} reserved{expiry}")

    def _cancel(self, command: Command) -> None:
        reservation = self._reservation(command)
        if reservation is None or reservation.evse_id is None:
            self._result(
                command,
                CommandResultType.UNKNOWN_RESERVATION,
                f"no active reservation {command.reservation_ref!r}",
            )
            return
        evse: Evse = _locked(Evse, reservation.evse_id)
        if evse.status == EvseStatus.RESERVED:
            evse_status_set(evse=evse, status=EvseStatus.AVAILABLE, changed_at=timezone.now())
        self._result(command, CommandResultType.ACCEPTED, f"reservation of EVSE {evse.uid} ended")

    def _unlock(self, command: Command) -> None:
        self._result(command, CommandResultType.ACCEPTED, "connector unlocked")


def simulator_meter_all(*, at: datetime | None = None) -> int:
    """Advance the meter of every session the simulator started and is still charging
    (periodic, so the eMSP sees charging periods during a session, not only at its end)."""
    from apps.commands.backend import charge_point_backend

    if not isinstance(charge_point_backend(), SimulatorBackend):
        return 0
    at = at or timezone.now()
    sessions = ChargingSession.objects.filter(
        status=SessionStatus.ACTIVE,
        commands__type=CommandType.START_SESSION,
        commands__result=CommandResultType.ACCEPTED,
    ).distinct()
    return sum(1 for session in sessions if simulator_meter_advance(session=session, at=at))
