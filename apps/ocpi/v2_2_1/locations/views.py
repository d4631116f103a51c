"""OCPI 2.2.1 Locations (spec §6): the Receiver interface (we are the eMSP holding CPOs' copies)
and the Sender interface (we are the CPO publishing our own sites)."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from apps.locations.models import Connector, Evse, Location
from apps.locations.selectors import (
    connector_find,
    evse_find,
    location_find,
    locations_published,
    locations_with_children,
)
from apps.locations.services import (
    LocationObjectUnknown,
    connector_upsert,
    evse_upsert,
    location_upsert,
)
from apps.ocpi.common.errors import InvalidParameters, NotFound
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.common.validation import identity_check
from apps.ocpi.v2_2_1.views import ModuleView


def _unknown(message: str) -> NotFound:
    return NotFound(message, status_code=OcpiStatus.UNKNOWN_LOCATION)


def _addressed(
    location: Location | None, evse_uid: str | None, connector_id: str | None
) -> Location | Evse | Connector:
    """The object a URL addresses below a found (or not found) Location; 404/2003 if unknown."""
    if location is None:
        raise _unknown("unknown location")
    if evse_uid is None:
        return location
    evse = evse_find(location=location, uid=evse_uid)
    if evse is None:
        raise _unknown(f"unknown EVSE {evse_uid!r} in location {location.location_id!r}")
    if connector_id is None:
        return evse
    connector = connector_find(evse=evse, connector_id=connector_id)
    if connector is None:
        raise _unknown(f"unknown connector {connector_id!r} of EVSE {evse.uid!r}")
    return connector


def _kind(obj: Location | Evse | Connector) -> str:
    return {Location: "location", Evse: "evse", Connector: "connector"}[type(obj)]


class LocationsReceiverRootView(ModuleView):
    """The receiver's base URL: objects live below it, under their owner's ids."""

    module: ClassVar[str] = "locations"


class LocationsReceiverView(ModuleView):
    """``{cc}/{pid}/{location_id}[/{evse_uid}[/{connector_id}]]``: GET, PUT, PATCH (§6.3)."""

    module: ClassVar[str] = "locations"

    def get(
        self,
        request: Request,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> Response:
        party = self.owner_party(country_code, party_id)
        found = location_find(
            locations=Location.objects.filter(party=party), location_id=location_id
        )
        obj = _addressed(found[0] if found else None, evse_uid, connector_id)
        return self.ocpi(self.adapter.render(_kind(obj), obj))

    def put(self, request: Request, **ids: str) -> Response:
        return self._write(request, partial=False, **ids)

    def patch(self, request: Request, **ids: str) -> Response:
        return self._write(request, partial=True, **ids)

    def _write(
        self,
        request: Request,
        *,
        partial: bool,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> Response:
        party = self.owner_party(country_code, party_id)
        common: dict[str, Any] = {
            "party": party,
            "location_id": location_id,
            "source_connection": self.connection,
            "partial": partial,
        }
        try:
            if evse_uid is None:
                identity_check(
                    request.data,
                    {"country_code": country_code, "party_id": party_id, "id": location_id},
                )
                data = self.adapter.parse("location", request.data, partial=partial)
                result: Any = location_upsert(data=data, **common)
            elif connector_id is None:
                identity_check(request.data, {"uid": evse_uid})
                data = self.adapter.parse("evse", request.data, partial=partial)
                result = evse_upsert(uid=evse_uid, data=data, **common)
            else:
                identity_check(request.data, {"id": connector_id})
                data = self.adapter.parse("connector", request.data, partial=partial)
                result = connector_upsert(
                    evse_uid=evse_uid, connector_id=connector_id, data=data, **common
                )
        except LocationObjectUnknown as exc:
            raise _unknown(exc.message) from None
        return self.upserted(result)


class LocationsSenderView(ModuleView):
    """Our own Locations published to the caller's partner, paginated (§6.2)."""

    module: ClassVar[str] = "locations"

    def get(self, request: Request) -> Response:
        locations = locations_with_children(
            locations_published(parties=self.own_parties("CPO"), partner=self.connection.partner)
        )
        return self.paginated(locations, lambda loc: self.adapter.render("location", loc))


class LocationsSenderObjectView(ModuleView):
    """``{location_id}[/{evse_uid}[/{connector_id}]]`` of our own published Locations (§6.2)."""

    module: ClassVar[str] = "locations"

    def get(
        self,
        request: Request,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> Response:
        visible = locations_published(
            parties=self.own_parties("CPO"), partner=self.connection.partner
        )
        found = location_find(locations=visible, location_id=location_id)
        if len(found) > 1:
            raise InvalidParameters(
                f"location {location_id!r} exists for several of our parties: name one with "
                "the OCPI-to-country-code and OCPI-to-party-id headers"
            )
        obj = _addressed(found[0] if found else None, evse_uid, connector_id)
        return self.ocpi(self.adapter.render(_kind(obj), obj))
