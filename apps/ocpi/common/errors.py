"""Errors raised while handling an OCPI request; rendered in the envelope by the views."""

from __future__ import annotations

from apps.ocpi.common.status import OcpiStatus


class OcpiError(Exception):
    """An OCPI-level failure: HTTP status, OCPI status code and a message for the partner."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = OcpiStatus.CLIENT_ERROR,
        http_status: int = 200,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = int(status_code)
        self.http_status = http_status


class InvalidParameters(OcpiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=OcpiStatus.INVALID_PARAMETERS)


class Unauthorized(OcpiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=OcpiStatus.CLIENT_ERROR, http_status=401)


class NotFound(OcpiError):
    def __init__(self, message: str, *, status_code: int = OcpiStatus.CLIENT_ERROR) -> None:
        super().__init__(message, status_code=status_code, http_status=404)


class MethodNotAllowed(OcpiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=OcpiStatus.CLIENT_ERROR, http_status=405)
