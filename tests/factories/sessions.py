"""Factories of charging sessions' periods and dimensions (``SessionFactory`` is in
``tests.factories``)."""

from __future__ import annotations

from decimal import Decimal

import factory

from apps.charging_sessions.models import SessionChargingDimension, SessionChargingPeriod
from tests.factories import T0, SessionFactory


class SessionChargingPeriodFactory(factory.django.DjangoModelFactory[SessionChargingPeriod]):
    class Meta:
        model = SessionChargingPeriod

    session = factory.SubFactory(SessionFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    start_date_time = T0


class SessionChargingDimensionFactory(factory.django.DjangoModelFactory[SessionChargingDimension]):
    class Meta:
        model = SessionChargingDimension

    period = factory.SubFactory(SessionChargingPeriodFactory)
    type = "ENERGY"
    volume = Decimal("1.5")
