"""Turn DRF serializer errors into one OCPI 2001 message that names the offending field."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.ocpi.common.errors import InvalidParameters


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    if isinstance(errors, dict):
        out: list[str] = []
        for key, value in errors.items():
            if key == "non_field_errors":
                name = prefix
            elif isinstance(key, int):
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out += _flatten(value, name)
        return out
    if isinstance(errors, list):
        if all(isinstance(e, str | serializers.ErrorDetail) for e in errors):
            return [f"{prefix}: {e}" if prefix else str(e) for e in errors]
        out = []
        for index, value in enumerate(errors):
            if value:
                out += _flatten(value, f"{prefix}[{index}]")
        return out
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def validated(
    serializer_class: type[serializers.Serializer[Any]], data: Any, *, partial: bool = False
) -> Any:
    """Validate wire data; on failure raise ``InvalidParameters`` (OCPI 2001) naming fields.

    ``partial``: a PATCH body (required fields may be absent; ``last_updated`` is checked by
    :func:`require_last_updated`).
    """
    if not isinstance(data, dict):
        raise InvalidParameters("the request body must be a JSON object")
    serializer = serializer_class(data=data, partial=partial)
    if not serializer.is_valid():
        raise InvalidParameters("; ".join(_flatten(serializer.errors)))
    return serializer.validated_data


def require_last_updated(data: Any) -> None:
    """Every PATCH in Locations, Sessions and Tokens carries ``last_updated`` (spec 2.8)."""
    if isinstance(data, dict) and data.get("last_updated") in (None, ""):
        raise InvalidParameters("last_updated: required in a PATCH")


def identity_check(data: Any, expected: dict[str, str]) -> None:
    """The ids in a pushed body must equal those in the URL (case-insensitively; spec 2.9).

    Fields absent from the body are not checked here (a PATCH may leave them out; a PUT's
    serializer requires them).
    """
    if not isinstance(data, dict):
        return
    for field, value in expected.items():
        given = data.get(field)
        if given is None:
            continue
        if not isinstance(given, str) or given.casefold() != value.casefold():
            raise InvalidParameters(
                f"{field}: {given!r} in the body does not match {value!r} in the URL"
            )
