"""Django's error views for the whole site (``config/urls.py``): under ``/ocpi/`` they answer an
OCPI envelope, elsewhere Django's own pages.

The OCPI middleware already turns what Django answers by itself into envelopes; these cover
what happens outside it (an error raised while the middleware itself runs, a middleware in
front of it refusing the request)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from apps.ocpi.common.envelope import envelope_response
from apps.ocpi.common.middleware import OCPI_PREFIX
from apps.ocpi.common.status import OcpiStatus


def _ocpi(request: HttpRequest) -> bool:
    return request.path.startswith(OCPI_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _ocpi(request):
        return envelope_response(
            message="bad request", http_status=400, status_code=OcpiStatus.CLIENT_ERROR
        )
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _ocpi(request):
        return envelope_response(
            message="forbidden", http_status=403, status_code=OcpiStatus.CLIENT_ERROR
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _ocpi(request):
        return envelope_response(
            message=f"no OCPI endpoint at {request.path}",
            http_status=404,
            status_code=OcpiStatus.CLIENT_ERROR,
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _ocpi(request):
        return envelope_response(
            message="internal server error", http_status=500, status_code=OcpiStatus.SERVER_ERROR
        )
    return defaults.server_error(request)
