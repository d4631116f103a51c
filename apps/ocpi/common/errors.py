"""Errors raised while handling an OCPI request; rendered in the envelope by the views."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

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


#: Seconds a partner is asked to wait (``Retry-After``) when our database cannot be reached.
UNAVAILABLE_RETRY_AFTER = 10


def failure_of_ours(exc: BaseException) -> tuple[int, str, dict[str, str]]:
    """HTTP status, message and headers for an error that is ours, not the caller's (OCPI 3000).

    Our database unreachable (refused, dropped, locked) is HTTP 503 with ``Retry-After``: the
    partner retries and succeeds as soon as it is back (connections are health-checked per
    request, nothing to reset). Any other crash is HTTP 500. Neither is an HTTP 200: a partner's
    client must see that nothing was stored.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return (
            503,
            "temporarily unavailable (our database cannot be reached): retry later",
            {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        )
    return 500, "internal server error", {}
