"""A charging profile backend without chargers: for demos, tests and platforms that do not yet
drive chargers. It behaves like a charger that applies whatever it is sent at once.

* set: ``ACCEPTED`` for an ACTIVE session of ours, then the result ``ACCEPTED`` (the profile is
  in force for the requester); ``REJECTED`` for a session that is not active;
  ``UNKNOWN_SESSION`` for a session that is not ours.
* get active: the same answers; the result carries the active profile for the duration asked,
  computed from the profile in force (the most recently set one) and the connector's capacity.
* clear: the same answers; the result is ``ACCEPTED`` when the requester had a profile in force
  (now removed), ``UNKNOWN`` when it had none.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from apps.charging_sessions.enums import SessionStatus
from apps.charging_sessions.models import ChargingSession
from apps.locations.models import Connector
from apps.smart_charging.enums import ChargingRateUnit, ProfileResponseType, ProfileResultType
from apps.smart_charging.models import ChargingProfileRequest, SessionChargingProfile
from apps.smart_charging.profiles import ChargingProfile, active_profile_compute
from apps.smart_charging.services import charging_profile_result_report, session_profile_in_force

#: When the session's connector is not known: a 22 kW, 32 A three-phase charger.
DEFAULT_CAPACITY = {ChargingRateUnit.WATTS: Decimal(22000), ChargingRateUnit.AMPERES: Decimal(32)}
_PHASES = {"AC_1_PHASE": 1, "AC_2_PHASE": 2, "AC_2_PHASE_SPLIT": 2, "AC_3_PHASE": 3, "DC": 1}


def connector_capacity(connector: Connector | None, unit: ChargingRateUnit) -> Decimal:
    """The most a connector can deliver, in W (total) or A (per phase)."""
    if connector is None:
        return DEFAULT_CAPACITY[unit]
    if unit == ChargingRateUnit.AMPERES:
        return Decimal(connector.max_amperage)
    if connector.max_electric_power:
        return Decimal(connector.max_electric_power)
    phases = _PHASES.get(connector.power_type, 1)
    return Decimal(connector.max_voltage * connector.max_amperage * phases)


class SimulatedChargingProfileBackend:
    """See the module docstring. Reports its results at once, through the canonical service."""

    def _session(self, request: ChargingProfileRequest) -> tuple[str, ChargingSession | None]:
        session = request.session
        if session is None or not session.party.is_own:
            return ProfileResponseType.UNKNOWN_SESSION, None
        session.refresh_from_db(fields=["status"])
        if session.status != SessionStatus.ACTIVE:
            return ProfileResponseType.REJECTED, None
        return ProfileResponseType.ACCEPTED, session

    def set_profile(self, *, request: ChargingProfileRequest, profile: ChargingProfile) -> str:
        answer, session = self._session(request)
        if session is not None:
            charging_profile_result_report(request_id=request.pk, result=ProfileResultType.ACCEPTED)
        return answer

    def get_active_profile(self, *, request: ChargingProfileRequest, duration: int) -> str:
        answer, session = self._session(request)
        if session is None:
            return answer
        in_force = session_profile_in_force(session=session)
        profile = in_force.profile if in_force else None
        unit = profile.charging_rate_unit if profile else ChargingRateUnit.WATTS
        active = active_profile_compute(
            profile=profile,
            charging_started=session.start_date_time,
            now=timezone.now().replace(microsecond=0),
            duration=duration,
            capacity=connector_capacity(session.connector, unit),
            unit=unit,
        )
        charging_profile_result_report(
            request_id=request.pk, result=ProfileResultType.ACCEPTED, active_profile=active
        )
        return answer

    def clear_profile(self, *, request: ChargingProfileRequest) -> str:
        answer, session = self._session(request)
        if session is None:
            return answer
        had_one = SessionChargingProfile.objects.filter(
            session=session, owner_id=request.from_party_id
        ).exists()
        charging_profile_result_report(
            request_id=request.pk,
            result=ProfileResultType.ACCEPTED if had_one else ProfileResultType.UNKNOWN,
        )
        return answer
