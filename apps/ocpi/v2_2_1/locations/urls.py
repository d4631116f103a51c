"""The locations endpoints OCPI 2.2.1 mounts: the Receiver (we are an eMSP holding CPOs'
Locations) and the Sender (we are a CPO publishing ours)."""

from __future__ import annotations

from apps.ocpi.common.mounting import COUNTRY, PARTY, MountedEndpoint, Route, segment
from apps.ocpi.v2_2_1.locations import views
from apps.partners.enums import Role

_LOCATION = segment("location_id")
_EVSE = segment("evse_uid")
_CONNECTOR = segment("connector_id")
_OWNED = f"{COUNTRY}/{PARTY}/{_LOCATION}"

_receiver = views.LocationsReceiverView.as_view()
_sender_object = views.LocationsSenderObjectView.as_view()

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "locations",
        "RECEIVER",
        "emsp/locations",
        views.LocationsReceiverRootView.as_view(),
        "locations_receiver",
        caller_roles=frozenset({Role.CPO}),
        our_roles=frozenset({"EMSP"}),
        routes=(
            Route(_OWNED, _receiver, "locations_receiver_location"),
            Route(f"{_OWNED}/{_EVSE}", _receiver, "locations_receiver_evse"),
            Route(f"{_OWNED}/{_EVSE}/{_CONNECTOR}", _receiver, "locations_receiver_connector"),
        ),
    ),
    MountedEndpoint(
        "locations",
        "SENDER",
        "cpo/locations",
        views.LocationsSenderView.as_view(),
        "locations_sender",
        caller_roles=frozenset({Role.EMSP, Role.NSP, Role.NAP}),
        our_roles=frozenset({"CPO"}),
        routes=(
            Route(_LOCATION, _sender_object, "locations_sender_location"),
            Route(f"{_LOCATION}/{_EVSE}", _sender_object, "locations_sender_evse"),
            Route(
                f"{_LOCATION}/{_EVSE}/{_CONNECTOR}", _sender_object, "locations_sender_connector"
            ),
        ),
    ),
]
