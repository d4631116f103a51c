"""For every request under /ocpi/: request and correlation ids echoed, an envelope even where
Django itself answers (unknown URL, crash), and one exchange-log row."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.ocpi.common import jsonutil
from apps.ocpi.common.envelope import envelope_response
from apps.ocpi.common.errors import failure_of_ours
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.models import Direction
from apps.ocpi.services.exchange_log import exchange_log_record

logger = logging.getLogger(__name__)

OCPI_PREFIX = "/ocpi/"


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
        body = request.body
        response = self.get_response(request)
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
                url=request.build_absolute_uri(),
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
