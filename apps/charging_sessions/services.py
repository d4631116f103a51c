"""Charging session services."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.charging_sessions.data import (
    SESSION_REQUIRED_KEYS,
    ChargingPreferencesData,
    PeriodData,
    SessionData,
)
from apps.charging_sessions.enums import ChargingPreferencesResponse, SessionStatus
from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
    SessionChargingPreferences,
)
from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.core.services import Actor, audit_log_record
from apps.core.upsert import Outcome, Upserted, is_stale
from apps.locations.enums import Capability, PowerType
from apps.locations.models import Connector, Evse, Location
from apps.partners.models import PartnerConnection, Party
from apps.tariffs.enums import TariffType
from apps.tariffs.models import Tariff
from apps.tokens.enums import ProfileType
from apps.tokens.models import Token


class SessionNotFound(DomainError):
    """A partial update named a session we do not hold (the owner has to send it whole)."""

    code = "SESSION_NOT_FOUND"


class ChargingPreferencesUnsupported(DomainError):
    """The session's EVSE does not take charging preferences."""

    code = "CHARGING_PREFERENCES_UNSUPPORTED"


# Fields whose change means the links to our own copies are looked up again.
_TOKEN_KEYS = frozenset({"token_country_code", "token_party_id", "token_uid", "token_type"})
_PLACE_KEYS = frozenset({"location_ref", "evse_ref", "connector_ref"})


def session_upsert(
    *,
    party: Party,
    session_id: str,
    data: SessionData,
    source_connection: PartnerConnection | None,
    partial: bool = False,
) -> Upserted[ChargingSession]:
    """Create or replace the session ``session_id`` of CPO ``party``, or update part of it.

    Complete data (``partial=False``) creates the session or replaces it whole, charging
    periods included: the periods held are replaced by those given (none given: none kept).
    Partial data changes only the fields it carries and **appends** the charging periods it
    carries; a period starting at the same time as one held is skipped, so a repeated partial
    update does not duplicate periods. Partial data for a session we do not hold raises
    ``SessionNotFound``. Data strictly older (``last_updated``) than what we hold is ignored
    (``Outcome.STALE``); ids are compared case-insensitively.

    The session is linked to our copies of its token, location, EVSE and connector when we
    have them. A session of ours (``source_connection`` None) is announced as a SESSION change
    (the outbox sends it; a completed one gets its CDR); a copy received from a partner is not.
    """
    missing = set() if partial else SESSION_REQUIRED_KEYS - data.keys()
    if missing:
        raise DomainError(
            f"a complete session needs {', '.join(sorted(missing))}", code="SESSION_INCOMPLETE"
        )
    try:
        with transaction.atomic():
            return _session_write(
                party=party,
                session_id=session_id,
                data=data,
                source_connection=source_connection,
                partial=partial,
            )
    except IntegrityError:
        # Two first writes of the same session raced; the other one created it: update it.
        with transaction.atomic():
            return _session_write(
                party=party,
                session_id=session_id,
                data=data,
                source_connection=source_connection,
                partial=partial,
            )


def _session_write(
    *,
    party: Party,
    session_id: str,
    data: SessionData,
    source_connection: PartnerConnection | None,
    partial: bool,
) -> Upserted[ChargingSession]:
    session = (
        ChargingSession.objects.select_for_update()
        .filter(party=party, session_id__iexact=session_id)
        .first()
    )
    created = session is None
    if session is None:
        if partial:
            raise SessionNotFound(
                f"session {party.code}*{session_id} is unknown here; send it whole first"
            )
        session = ChargingSession(party=party, session_id=session_id)
    elif is_stale(data.get("last_updated"), session.last_updated):
        return Upserted(Outcome.STALE, session)
    fields: dict[str, Any] = {k: v for k, v in data.items() if k != "charging_periods"}
    for name, value in fields.items():
        setattr(session, name, value)
    if created or not partial or _TOKEN_KEYS & fields.keys():
        session.token = _our_token(session)
    if created or not partial or _PLACE_KEYS & fields.keys():
        session.location, session.evse, session.connector = _our_place(session)
    if source_connection is not None:
        session.source_connection = source_connection
    session.save()
    periods = data.get("charging_periods") or []
    if partial:
        _periods_append(session, periods)
    else:
        if not created:
            session.charging_periods.all().delete()
        _periods_create(session, periods, first_sequence=1)
    if source_connection is None:
        change_announce(DomainChange(kind=ChangeKind.SESSION, object_id=session.pk))
    return Upserted(Outcome.CREATED if created else Outcome.UPDATED, session)


def _our_token(session: ChargingSession) -> Token | None:
    return (
        Token.objects.filter(
            party__country_code__iexact=session.token_country_code,
            party__party_id__iexact=session.token_party_id,
            uid__iexact=session.token_uid,
            type=session.token_type,
        )
        .order_by("pk")
        .first()
    )


def _our_place(
    session: ChargingSession,
) -> tuple[Location | None, Evse | None, Connector | None]:
    location = (
        Location.objects.filter(party=session.party, location_id__iexact=session.location_ref)
        .order_by("pk")
        .first()
    )
    if location is None:
        return None, None, None
    evse = location.evses.filter(uid__iexact=session.evse_ref).order_by("pk").first()
    if evse is None:  # e.g. "#NA": a reservation without an EVSE yet
        return location, None, None
    connector = (
        evse.connectors.filter(connector_id__iexact=session.connector_ref).order_by("pk").first()
    )
    return location, evse, connector


def _periods_append(session: ChargingSession, periods: list[PeriodData]) -> None:
    held = list(session.charging_periods.values_list("start_date_time", "sequence"))
    seen = {start for start, _ in held}
    new: list[PeriodData] = []
    for period in periods:
        if period.start_date_time not in seen:
            seen.add(period.start_date_time)
            new.append(period)
    _periods_create(session, new, first_sequence=max((seq for _, seq in held), default=0) + 1)


def _periods_create(
    session: ChargingSession, periods: Iterable[PeriodData], *, first_sequence: int
) -> None:
    periods = list(periods)
    if not periods:
        return
    rows = SessionChargingPeriod.objects.bulk_create(
        SessionChargingPeriod(
            session=session,
            sequence=first_sequence + index,
            start_date_time=period.start_date_time,
            tariff_ref=period.tariff_ref,
        )
        for index, period in enumerate(periods)
    )
    SessionChargingDimension.objects.bulk_create(
        SessionChargingDimension(period=row, type=dimension.type, volume=dimension.volume)
        for row, period in zip(rows, periods, strict=True)
        for dimension in period.dimensions
    )


def session_complete(
    *, session: ChargingSession, end_date_time: datetime, actor: Actor = None
) -> ChargingSession:
    """End a session: status COMPLETED with its end time, announced as a SESSION change.

    The listeners of the announcement run in this transaction: for a session at one of our own
    CPO parties, the CDR is generated, validated and (when valid) finalized and queued for the
    eMSP (``apps.cdrs.generation``). This module does not import the CDRs app, which imports
    this one. A CDR that cannot be generated (no valid tariff, ...) does not undo the
    completion: the refusal is in the audit log and the session is listed in the admin as
    completed without a CDR.

    Completing a session again with the same end time changes nothing.
    """
    if timezone.is_naive(end_date_time):
        raise DomainError("end_date_time must be an aware datetime", code="NAIVE_DATETIME")
    with transaction.atomic():
        locked = ChargingSession.objects.select_for_update().get(pk=session.pk)
        if locked.status == SessionStatus.COMPLETED:
            if locked.end_date_time == end_date_time:
                return locked
            raise DomainError(
                f"session {locked.session_id} already ended at {locked.end_date_time}",
                code="SESSION_ALREADY_COMPLETED",
            )
        if locked.status == SessionStatus.INVALID:
            raise DomainError(
                f"session {locked.session_id} was declared invalid", code="SESSION_INVALID"
            )
        last_period = locked.charging_periods.order_by("-start_date_time").first()
        latest_start = last_period.start_date_time if last_period else locked.start_date_time
        if end_date_time < max(latest_start, locked.start_date_time):
            raise DomainError(
                f"session {locked.session_id} cannot end at {end_date_time.isoformat()}, before "
                f"it started or before its last charging period ({latest_start.isoformat()})",
                code="SESSION_END_BEFORE_START",
            )
        previous_end = locked.end_date_time
        before = {
            "status": locked.status,
            "end_date_time": previous_end.isoformat() if previous_end else None,
        }
        locked.status = SessionStatus.COMPLETED
        locked.end_date_time = end_date_time
        locked.last_updated = timezone.now()
        locked.save(update_fields=["status", "end_date_time", "last_updated"])
        audit_log_record(
            actor=actor,
            action="session.completed",
            obj=locked,
            before=before,
            after={"status": locked.status, "end_date_time": end_date_time.isoformat()},
        )
        change_announce(DomainChange(kind=ChangeKind.SESSION, object_id=locked.pk))
    return locked


# -- charging preferences -----------------------------------------------------------------------
_ONGOING = frozenset({SessionStatus.PENDING, SessionStatus.RESERVATION, SessionStatus.ACTIVE})
#: Profiles that shift charging in time: the EVSE needs to know until when and how much.
_SCHEDULED_PROFILES = frozenset({ProfileType.CHEAP, ProfileType.GREEN})
_PROFILE_TARIFF_TYPES = {
    ProfileType.CHEAP: TariffType.PROFILE_CHEAP,
    ProfileType.FAST: TariffType.PROFILE_FAST,
    ProfileType.GREEN: TariffType.PROFILE_GREEN,
}
_PHASES = {
    PowerType.AC_1_PHASE: 1,
    PowerType.AC_2_PHASE: 2,
    PowerType.AC_2_PHASE_SPLIT: 2,
    PowerType.AC_3_PHASE: 3,
    PowerType.DC: 1,
}


def session_charging_preferences_set(
    *,
    session: ChargingSession,
    preferences: ChargingPreferencesData,
    source_connection: PartnerConnection | None = None,
    now: datetime | None = None,
) -> ChargingPreferencesResponse:
    """A driver's charging preferences for an ongoing session of ours: decide, and keep them
    when accepted.

    Raises ``ChargingPreferencesUnsupported`` when the session's EVSE (our copy) is unknown or
    lacks the CHARGING_PREFERENCES_CAPABLE capability. Otherwise the answer is, in this order:

    * NOT_POSSIBLE: the session is over (COMPLETED or INVALID);
    * PROFILE_TYPE_NOT_SUPPORTED: the profile needs a tariff of its type (PROFILE_CHEAP, ...)
      among the connector's tariffs and there is none (REGULAR is always supported: it is what
      the EVSE does without preferences);
    * DEPARTURE_REQUIRED / ENERGY_NEED_REQUIRED: CHEAP and GREEN shift charging in time, which
      needs the departure time and the energy need;
    * NOT_POSSIBLE: the departure time is not in the future, or the energy need cannot be
      delivered by the departure at the connector's maximum power;
    * ACCEPTED: the preferences replace those held for the session.

    Every decision is in the audit log.
    """
    now = now or timezone.now()
    evse, connector = _session_evse(session)
    if evse is None or Capability.CHARGING_PREFERENCES_CAPABLE not in (evse.capabilities or []):
        raise ChargingPreferencesUnsupported(
            f"EVSE {session.evse_ref} of session {session.session_id} does not take charging "
            "preferences (no CHARGING_PREFERENCES_CAPABLE capability)"
        )
    decision = _preferences_decision(session, connector, preferences, now)
    with transaction.atomic():
        if decision == ChargingPreferencesResponse.ACCEPTED:
            SessionChargingPreferences.objects.update_or_create(
                session=session,
                defaults={
                    "profile_type": preferences.profile_type,
                    "departure_time": preferences.departure_time,
                    "energy_need": preferences.energy_need,
                    "discharge_allowed": preferences.discharge_allowed,
                    "source_connection": source_connection,
                },
            )
        audit_log_record(
            actor=str(source_connection) if source_connection else None,
            action="session.charging_preferences",
            obj=session,
            after={
                "profile_type": preferences.profile_type,
                "departure_time": (
                    preferences.departure_time.isoformat() if preferences.departure_time else None
                ),
                "energy_need": (
                    str(preferences.energy_need) if preferences.energy_need is not None else None
                ),
                "discharge_allowed": preferences.discharge_allowed,
                "response": str(decision),
            },
        )
    return decision


def _session_evse(session: ChargingSession) -> tuple[Evse | None, Connector | None]:
    if session.evse_id is not None:
        evse = session.evse
        connector = session.connector
    else:  # not linked (yet): look it up by its ids
        _, evse, connector = _our_place(session)
    return evse, connector


def _preferences_decision(
    session: ChargingSession,
    connector: Connector | None,
    preferences: ChargingPreferencesData,
    now: datetime,
) -> ChargingPreferencesResponse:
    if session.status not in _ONGOING:
        return ChargingPreferencesResponse.NOT_POSSIBLE
    tariff_type = _PROFILE_TARIFF_TYPES.get(ProfileType(preferences.profile_type))
    if tariff_type is not None and not _connector_has_tariff(session, connector, tariff_type):
        return ChargingPreferencesResponse.PROFILE_TYPE_NOT_SUPPORTED
    if preferences.profile_type in _SCHEDULED_PROFILES:
        if preferences.departure_time is None:
            return ChargingPreferencesResponse.DEPARTURE_REQUIRED
        if preferences.energy_need is None:
            return ChargingPreferencesResponse.ENERGY_NEED_REQUIRED
    departure = preferences.departure_time
    if departure is not None and departure <= now:
        return ChargingPreferencesResponse.NOT_POSSIBLE
    power = _max_power_kw(connector)
    if departure is not None and preferences.energy_need is not None and power is not None:
        hours = Decimal((departure - now).total_seconds()) / Decimal(3600)
        if preferences.energy_need > power * hours:
            return ChargingPreferencesResponse.NOT_POSSIBLE
    return ChargingPreferencesResponse.ACCEPTED


def _connector_has_tariff(
    session: ChargingSession, connector: Connector | None, tariff_type: str
) -> bool:
    ids = [str(i).lower() for i in (connector.tariff_ids if connector else []) or []]
    if not ids:
        return False
    return any(
        tariff_id.lower() in ids
        for tariff_id in Tariff.objects.filter(
            party=session.party, type=tariff_type, deleted_at__isnull=True
        ).values_list("tariff_id", flat=True)
    )


def _max_power_kw(connector: Connector | None) -> Decimal | None:
    if connector is None:
        return None
    if connector.max_electric_power:
        return Decimal(connector.max_electric_power) / 1000
    phases = _PHASES.get(PowerType(connector.power_type)) if connector.power_type else None
    if not phases or not connector.max_voltage or not connector.max_amperage:
        return None
    return Decimal(phases * connector.max_voltage * connector.max_amperage) / 1000
