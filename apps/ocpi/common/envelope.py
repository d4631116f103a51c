"""The OCPI response envelope, and its rendering with Decimal-exact JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import BaseRenderer

from apps.ocpi.common import jsonutil
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.common.timestamps import format_ocpi_datetime

NO_DATA = object()  # marks a response whose envelope has no `data` (the spec defines none)


def envelope(
    data: Any = NO_DATA, *, status_code: int = OcpiStatus.SUCCESS, message: str = ""
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not NO_DATA:
        body["data"] = data
    body["status_code"] = int(status_code)
    if message:
        body["status_message"] = message
    body["timestamp"] = format_ocpi_datetime(timezone.now())
    return body


def envelope_response(
    data: Any = NO_DATA,
    *,
    status_code: int = OcpiStatus.SUCCESS,
    message: str = "",
    http_status: int = 200,
) -> HttpResponse:
    """A plain Django response carrying an envelope (for errors raised outside DRF views)."""
    return HttpResponse(
        jsonutil.dumps(envelope(data, status_code=status_code, message=message)),
        status=http_status,
        content_type="application/json",
    )


class OcpiJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        return jsonutil.dumps(data)
