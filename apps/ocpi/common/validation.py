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


def validated(serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
    """Validate wire data; on failure raise ``InvalidParameters`` (OCPI 2001) naming fields."""
    if not isinstance(data, dict):
        raise InvalidParameters("the request body must be a JSON object")
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise InvalidParameters("; ".join(_flatten(serializer.errors)))
    return serializer.validated_data
