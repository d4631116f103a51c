"""For every request under /ocpi/: request and correlation ids echoed, an envelope even where
Django itself answers (unknown URL, crash, a Host not allowed, a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE``), and one exchange-log row.

URLs longer than ``MAX_URL_LENGTH`` and header values longer than ``MAX_HEADER_LENGTH`` are
answered here (414/431 with an envelope). The HTTP server in front must let such requests
through to Django to allow that: its own limits have to be higher (gunicorn's defaults, a
4094-byte request line and 8190-byte header fields, are), or it answers them itself."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from apps.ocpi.common import jsonutil
from apps.ocpi.common.envelope import envelope_response
from apps.ocpi.common.errors import failure_of_ours
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.models import Direction
from apps.ocpi.services.exchange_log import exchange_log_record

logger = logging.getLogger(__name__)

OCPI_PREFIX = "/ocpi/"
#: Longest path + query we serve (our longest OCPI URLs, a Link with both date filters, are far
#: shorter) and longest header value (a Token header is under 100 characters).
MAX_URL_LENGTH = 2048
MAX_HEADER_LENGTH = 4096


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """The envelope for a request we refuse before routing it, or None."""
    try:
        request.get_host()
    except DisallowedHost:
        return envelope_response(
            message="this Host is not one we serve", http_status=400,
            status_code=OcpiStatus.CLIENT_ERROR,
        )  # fmt: skip
    if len(request.get_full_path()) > MAX_URL_LENGTH:
        return envelope_response(
            message=f"the URL is longer than {MAX_URL_LENGTH} characters", http_status=414,
            status_code=OcpiStatus.CLIENT_ERROR,
        )  # fmt: skip
    for name, value in request.headers.items():
        if len(value) > MAX_HEADER_LENGTH:
            return envelope_response(
                message=f"header {name} is longer than {MAX_HEADER_LENGTH} characters",
                http_status=431, status_code=OcpiStatus.CLIENT_ERROR,
            )  # fmt: skip
    try:
        request.body  # noqa: B018 (read here so that a body over the cap is answered here)
    except RequestDataTooBig:
        return envelope_response(
            message=f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
            http_status=413, status_code=OcpiStatus.CLIENT_ERROR,
        )  # fmt: skip
    return None


def _url(request: HttpRequest) -> str:
    try:
        return request.build_absolute_uri()
    except DisallowedHost:
        return request.get_full_path()


def _ocpi_status(response: HttpResponse) -> int | None:
    # OCPI views answer with a DRF Response that still holds the envelope: no re-parsing.
    body = getattr(response, "data", None)
    if body is None:
        if "json" not in response.get("Content-Type", "") or getattr(response, "streaming", False):
            return None
        try:
            body = jsonutil.loads(response.content)
        except ValueError:
            return None
    code = body.get("status_code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


class OcpiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(OCPI_PREFIX):
            return self.get_response(request)
        request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        correlation_id = request.headers.get("X-Correlation-ID") or str(uuid.uuid4())
        started = time.monotonic()
        refused = _refusal(request)
        body = b"" if refused is not None else request.body
        response = refused if refused is not None else self.get_response(request)
        if "json" not in response.get("Content-Type", ""):
            # Django answered by itself (unknown URL, method, crash): keep the envelope promise.
            status = response.status_code
            if status == 404:
                response = envelope_response(
                    message=f"no OCPI endpoint at {request.path}", http_status=404,
                    status_code=OcpiStatus.CLIENT_ERROR,
                )  # fmt: skip
            elif status == 405:
                response = envelope_response(
                    message=f"{request.method} is not allowed here", http_status=405,
                    status_code=OcpiStatus.CLIENT_ERROR,
                )  # fmt: skip
            elif 400 <= status < 500:
                response = envelope_response(
                    message=f"{status} {response.reason_phrase}", http_status=status,
                    status_code=OcpiStatus.CLIENT_ERROR,
                )  # fmt: skip
            elif status >= 500:
                response = envelope_response(
                    message="internal server error", http_status=500,
                    status_code=OcpiStatus.SERVER_ERROR,
                )  # fmt: skip
        response["X-Request-ID"] = request_id
        response["X-Correlation-ID"] = correlation_id
        try:
            exchange_log_record(
                direction=Direction.INBOUND,
                connection=getattr(request, "ocpi_connection", None),
                method=request.method or "",
                url=_url(request),
                module=getattr(request, "ocpi_module", ""),
                http_status=response.status_code,
                ocpi_status=_ocpi_status(response),
                duration_ms=int((time.monotonic() - started) * 1000),
                request_id=request_id,
                correlation_id=correlation_id,
                request_body=body,
                response_body=None if getattr(response, "streaming", False) else response.content,
            )
        except Exception:  # the log must never break the answer to a partner
            logger.exception("could not write the exchange log")
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(OCPI_PREFIX):
            return None
        http_status, message, headers = failure_of_ours(exception)
        logger.error("unhandled error on %s", request.path, exc_info=exception)
        response = envelope_response(
            message=message, http_status=http_status, status_code=OcpiStatus.SERVER_ERROR
        )
        for name, value in headers.items():
            response[name] = value
        return response
