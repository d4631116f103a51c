"""Locations with their EVSEs and connectors, in one call (tests only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.locations.models import Location
from apps.partners.enums import PublishScope
from apps.partners.models import Partner, Party
from tests.factories import T0, ConnectorFactory, EvseFactory, LocationFactory


def location_with_evses(
    *,
    party: Party,
    evses: int = 2,
    connectors: int = 2,
    publish_scope: str = PublishScope.ALL,
    publish_partners: list[Partner] | None = None,
    last_updated: datetime = T0,
    **fields: Any,
) -> Location:
    """A Location of ``party`` with ``evses`` EVSEs of ``connectors`` connectors each."""
    location = LocationFactory.create(
        party=party, publish_scope=publish_scope, last_updated=last_updated, **fields
    )
    if publish_partners:
        location.publish_partners.set(publish_partners)
    for _ in range(evses):
        evse = EvseFactory.create(location=location, last_updated=last_updated)
        for number in range(1, connectors + 1):
            ConnectorFactory.create(
                evse=evse, connector_id=str(number), tariff_ids=["T1"], last_updated=last_updated
            )
    return location
