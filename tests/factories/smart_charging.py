"""Factories and values for smart charging (charging profiles)."""

from __future__ import annotations

from decimal import Decimal

import factory

from apps.smart_charging.enums import (
    ChargingRateUnit,
    ProfileOperation,
    RequestDirection,
    RequestStatus,
)
from apps.smart_charging.models import ChargingProfileRequest, SessionChargingProfile
from apps.smart_charging.profiles import ChargingProfile, ChargingProfilePeriod
from tests.factories import ConnectionFactory, PartyFactory, SessionFactory


def charging_profile(
    *limits: tuple[int, str],
    unit: ChargingRateUnit = ChargingRateUnit.AMPERES,
    **options: object,
) -> ChargingProfile:
    """A profile from ``(start_period, limit)`` pairs (default: 16 A from the start)."""
    periods = tuple(ChargingProfilePeriod(s, Decimal(limit)) for s, limit in limits or [(0, "16")])
    return ChargingProfile(charging_rate_unit=unit, periods=periods, **options)  # type: ignore[arg-type]


class ChargingProfileRequestFactory(factory.django.DjangoModelFactory[ChargingProfileRequest]):
    class Meta:
        model = ChargingProfileRequest

    direction = RequestDirection.RECEIVED
    operation = ProfileOperation.SET
    status = RequestStatus.PENDING
    connection = factory.SubFactory(ConnectionFactory)
    session = factory.SubFactory(SessionFactory)
    session_ref = factory.LazyAttribute(lambda o: o.session.session_id if o.session else "S0")
    charging_profile = factory.LazyFunction(lambda: charging_profile().to_json())
    response_url = "https://emsp.example/ocpi/chargingprofiles/results/1"


class SessionChargingProfileFactory(factory.django.DjangoModelFactory[SessionChargingProfile]):
    class Meta:
        model = SessionChargingProfile

    session = factory.SubFactory(SessionFactory)
    owner = factory.SubFactory(PartyFactory, roles=["EMSP"])
    charging_profile = factory.LazyFunction(lambda: charging_profile().to_json())
