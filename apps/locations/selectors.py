"""Reads of charging sites, shaped for rendering whole Locations without a query per row."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.locations.models import Connector, Evse, Location
from apps.partners.models import Partner, Party


def locations_with_children(queryset: QuerySet[Location] | None = None) -> QuerySet[Location]:
    """Locations with their party, EVSEs and connectors loaded in three queries in all."""
    queryset = Location.objects.all() if queryset is None else queryset
    return queryset.select_related("party").prefetch_related(
        Prefetch(
            "evses",
            queryset=Evse.objects.order_by("uid").prefetch_related(
                Prefetch("connectors", queryset=Connector.objects.order_by("connector_id"))
            ),
        )
    )


def locations_published(*, parties: QuerySet[Party], partner: Partner) -> QuerySet[Location]:
    """The Locations of ``parties`` (ours) that ``partner`` may see."""
    return Location.objects.filter(party__in=parties).filter(Location.published_to_q(partner))


def location_find(*, locations: QuerySet[Location], location_id: str) -> list[Location]:
    """The Locations with id ``location_id`` (case-insensitive) among ``locations`` (a plain
    queryset), ready to render. Several parties may use one id: at most two are returned, so
    the caller can tell an ambiguous id."""
    return list(locations_with_children(locations.filter(location_id__iexact=location_id))[:2])


def evse_find(*, location: Location, uid: str) -> Evse | None:
    """The EVSE ``uid`` (case-insensitive) of ``location``, from its prefetched EVSEs."""
    key = uid.casefold()
    return next((e for e in location.evses.all() if e.uid.casefold() == key), None)


def connector_find(*, evse: Evse, connector_id: str) -> Connector | None:
    key = connector_id.casefold()
    return next((c for c in evse.connectors.all() if c.connector_id.casefold() == key), None)
