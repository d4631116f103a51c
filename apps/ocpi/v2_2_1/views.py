"""OCPI 2.2.1 configuration modules: version details and credentials."""

from __future__ import annotations

from typing import ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from apps.ocpi.common.views import FunctionalView, OcpiView
from apps.ocpi.services.handshake import (
    credentials_accept,
    credentials_check_state,
    credentials_delete,
    our_credentials,
)
from apps.ocpi.versions import VersionNumber


class VersionedView(OcpiView):
    version = VersionNumber.V2_2_1


class ModuleView(FunctionalView):
    """Base of the 2.2.1 functional module views (see ``FunctionalView``)."""

    version = VersionNumber.V2_2_1


class VersionDetailsView(VersionedView):
    module: ClassVar[str] = "versions"
    allow_registration_token: ClassVar[bool] = True
    uses_routing_headers: ClassVar[bool] = False

    def get(self, request: Request) -> Response:
        from apps.ocpi.v2_2_1.urls import published_endpoints

        return self.ocpi(
            {
                "version": self.version.value,
                "endpoints": [self.adapter.render_endpoint(e) for e in published_endpoints()],
            }
        )


class CredentialsView(VersionedView):
    module: ClassVar[str] = "credentials"
    allow_registration_token: ClassVar[bool] = True
    uses_routing_headers: ClassVar[bool] = False

    def get(self, request: Request) -> Response:
        # The token the caller uses to reach us is the one it just presented.
        return self.ocpi(self.adapter.render_credentials(our_credentials(self.token)))

    def post(self, request: Request) -> Response:
        return self._accept(request, update=False)

    def put(self, request: Request) -> Response:
        return self._accept(request, update=True)

    def delete(self, request: Request) -> Response:
        credentials_delete(connection=self.connection)
        return self.ocpi()

    def _accept(self, request: Request, *, update: bool) -> Response:
        credentials_check_state(connection=self.connection, update=update)
        adapter = self.adapter
        theirs = adapter.parse_credentials(request.data)
        token = credentials_accept(
            connection=self.connection, credentials=theirs, version=self.version, update=update
        )
        return self.ocpi(adapter.render_credentials(our_credentials(token)))
