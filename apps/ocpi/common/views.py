"""Base of every OCPI endpoint: authentication, Decimal JSON in and out, the envelope on every
answer (errors included), and the bookkeeping the exchange log needs."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from django.db import connection as db_connection
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.upsert import Upserted
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common.auth import authenticate
from apps.ocpi.common.envelope import NO_DATA, OcpiJSONRenderer, envelope
from apps.ocpi.common.errors import NotFound, OcpiError, failure_of_ours
from apps.ocpi.common.pagination import paginate
from apps.ocpi.common.parsers import OcpiJSONParser
from apps.ocpi.common.routing import (
    FROM_COUNTRY,
    FROM_PARTY,
    TO_COUNTRY,
    TO_PARTY,
    InboundRouting,
    routing_check,
)
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.common.validation import url_ids_check
from apps.partners.enums import Role
from apps.partners.models import PartnerConnection, Party

logger = logging.getLogger(__name__)


def ocpi_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every failure becomes an envelope with the HTTP status the spec prescribes."""
    headers: dict[str, str] = {}
    if isinstance(exc, OcpiError):
        http_status, code, message = exc.http_status, exc.status_code, exc.message
    elif isinstance(exc, exceptions.ParseError):
        http_status, code, message = 400, OcpiStatus.INVALID_PARAMETERS, str(exc.detail)
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        http_status, code, message = 401, OcpiStatus.CLIENT_ERROR, str(exc.detail)
    elif isinstance(exc, exceptions.MethodNotAllowed):
        http_status, code, message = 405, OcpiStatus.CLIENT_ERROR, str(exc.detail)
    elif isinstance(exc, exceptions.NotFound | Http404):
        http_status, code, message = 404, OcpiStatus.CLIENT_ERROR, str(exc) or "not found"
    elif isinstance(exc, exceptions.APIException):
        http_status, code, message = 200, OcpiStatus.CLIENT_ERROR, str(exc.detail)
    else:
        http_status, message, headers = failure_of_ours(exc)
        code = OcpiStatus.SERVER_ERROR
        if http_status == 503:
            logger.warning("OCPI %s: database unavailable: %s", context.get("view"), exc)
        else:
            logger.exception("unexpected error in an OCPI view")
    if http_status >= 400 or not OcpiStatus.is_success(code):
        logger.info("OCPI %s answered %s/%s: %s", context.get("view"), http_status, code, message)
    return Response(
        envelope(status_code=code, message=message), status=http_status, headers=headers
    )


class OcpiView(APIView):
    """Subclasses set ``module``; configuration modules set ``allow_registration_token`` and
    ``uses_routing_headers = False``. ``self.connection`` is the authenticated caller and
    ``self.routing`` the parties a functional request is from and to."""

    module: ClassVar[str] = ""
    version: str = ""
    allow_registration_token: ClassVar[bool] = False
    uses_routing_headers: ClassVar[bool] = True
    parser_classes = [OcpiJSONParser]
    renderer_classes = [OcpiJSONRenderer]
    authentication_classes = []  # authentication is OCPI's own, done in initial()
    permission_classes = []

    connection: PartnerConnection
    token: str
    routing: InboundRouting | None = None
    #: Set per route by ``MountedEndpoint`` (its ``caller_roles``/``interface_role``).
    caller_roles: frozenset[str] | None = None
    interface_role: str = ""

    def get_exception_handler(self) -> Any:
        return ocpi_exception_handler

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        request._request.ocpi_module = self.module  # type: ignore[attr-defined]
        self.connection, self.token = authenticate(
            request._request,
            version=self.version,
            allow_registration_token=self.allow_registration_token,
        )
        request._request.ocpi_connection = self.connection  # type: ignore[attr-defined]
        url_ids_check(kwargs)
        if self.uses_routing_headers:
            self.routing = routing_check(
                request._request,
                connection=self.connection,
                required=self.adapter.requires_routing_headers,
            )

    @property
    def adapter(self) -> Any:
        return get_adapter(self.connection.adapter_profile, self.version)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.routing is not None:  # the answer goes back: from and to swap
            response[TO_COUNTRY] = self.routing.sender.country_code
            response[TO_PARTY] = self.routing.sender.party_id
            if self.routing.receiver is not None:
                response[FROM_COUNTRY] = self.routing.receiver.country_code
                response[FROM_PARTY] = self.routing.receiver.party_id
        return response

    def paginated(self, queryset: Any, render: Any, **options: Any) -> Response:
        """A page of ``queryset`` rendered object by object, with the pagination headers."""
        page = paginate(queryset, self.request._request, **options)
        return self.ocpi([render(obj) for obj in page.objects], headers=page.headers())

    def ocpi(
        self,
        data: Any = NO_DATA,
        *,
        status_code: int = OcpiStatus.SUCCESS,
        message: str = "",
        http_status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return Response(
            envelope(data, status_code=status_code, message=message),
            status=http_status,
            headers=headers,
        )


class FunctionalView(OcpiView):
    """Base of the functional modules (Locations, Tariffs, Tokens, Sessions, CDRs, Commands ...).

    Every request first passes the role check (``caller_role_check``). Receiver side: objects
    are addressed by their owner (``country_code``/``party_id`` in the URL), and a caller may
    only touch the parties its connection represents. Sender side: what a caller sees is what
    our own parties in the module's role publish to its partner.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.caller_role_check()

    def caller_role_check(self) -> None:
        """The calling party must play a role this interface is for (the route's
        ``caller_roles``), else HTTP 403 / OCPI 2000 before anything is read or written.

        The calling party is the routing headers' from-party (one the connection represents);
        without routing headers (hubclientinfo) any party of the connection. A connection that
        represents a HUB party relays for all the parties it represents, whatever their roles
        (spec 2.11: the hub forwards their requests). A route that declares no roles refuses
        everyone: forgetting the declaration cannot open an interface.
        """
        roles = self.caller_roles
        if roles is None:
            logger.error("OCPI route %s declares no caller roles", self.request.path)
            raise OcpiError("this interface is not open to partners", http_status=403)
        callers = (
            [self.routing.sender]
            if self.routing is not None
            else list(self.connection.represented_parties.all())
        )
        if any(p.has_role(r) for p in callers for r in roles):
            return
        if any(p.has_role(Role.HUB) for p in self.connection.represented_parties.all()):
            return
        interface = " ".join(x for x in (self.module, self.interface_role) if x)
        played = ", ".join(sorted({r for p in callers for r in (p.roles or [])})) or "no role"
        who = ", ".join(p.code for p in callers) or "no party"
        raise OcpiError(
            f"the {interface} interface is for {' or '.join(sorted(roles))} (or a hub); "
            f"{who} plays {played}",
            http_status=403,
        )

    def owner_party(self, country_code: str, party_id: str) -> Party:
        """The party an object URL names, if this connection may speak for it; else 404."""
        party = (
            self.connection.represented_parties.filter(
                country_code__iexact=country_code, party_id__iexact=party_id
            ).first()
            if country_code and party_id
            else None
        )
        if party is None:
            raise NotFound(
                f"party {country_code.upper()}*{party_id.upper()} is not one this connection "
                "represents"
            )
        return party

    def own_parties(self, role: str) -> QuerySet[Party]:
        """Our parties playing ``role``; only the addressed one when the request names one."""
        parties = Party.objects.own().filter(roles__contains=role) if _json_contains() else None
        if parties is None:  # SQLite has no JSON containment: filter in Python
            ids = [p.pk for p in Party.objects.own() if p.has_role(role)]
            parties = Party.objects.filter(pk__in=ids)
        if self.routing is not None and self.routing.receiver is not None:
            parties = parties.filter(pk=self.routing.receiver.pk)
        return parties

    def upserted(self, result: Upserted[Any], *, data: Any = NO_DATA) -> Response:
        """The answer to a PUT: 201 for a new object, 200 for a replaced (or stale) one."""
        if result.stale:
            return self.ocpi(data, message="ignored: older than the version we hold (last_updated)")
        return self.ocpi(data, http_status=201 if result.created else 200)


def _json_contains() -> bool:
    return db_connection.features.supports_json_field_contains
