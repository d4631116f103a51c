"""Errors raised by domain services. The contract layer maps them to its own responses."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused an operation. ``code`` is stable and machine-readable."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ImmutableRecordError(DomainError):
    """Someone tried to change or delete a record that is append-only or final."""

    code = "IMMUTABLE_RECORD"
