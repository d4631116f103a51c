"""The cdrs endpoints OCPI 2.2.1 mounts."""

from __future__ import annotations

from apps.ocpi.common.mounting import COUNTRY, PARTY, MountedEndpoint, Route, segment
from apps.ocpi.v2_2_1.cdrs import views
from apps.partners.enums import Role

ENDPOINTS: list[MountedEndpoint] = [
    MountedEndpoint(
        "cdrs",
        "RECEIVER",
        "emsp/cdrs",
        views.CdrsReceiverView.as_view(),
        "cdrs_receiver",
        caller_roles=frozenset({Role.CPO}),
        our_roles=frozenset({"EMSP"}),
        routes=(
            # The URL we answer in the Location header of a POST (spec 8.5: ours to define).
            Route(
                f"{COUNTRY}/{PARTY}/{segment('cdr_id')}",
                views.CdrReceiverView.as_view(),
                "cdrs_receiver_cdr",
            ),
        ),
    ),
    MountedEndpoint(
        "cdrs",
        "SENDER",
        "cpo/cdrs",
        views.CdrsSenderView.as_view(),
        "cdrs_sender",
        caller_roles=frozenset({Role.EMSP}),
        our_roles=frozenset({"CPO"}),
    ),
]
