"""Turn DRF serializer errors into one OCPI 2001 message that names the offending field."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.core.fields import AMOUNT_DECIMALS, AMOUNT_DIGITS
from apps.ocpi.common.errors import InvalidParameters

#: The largest magnitude of a number we accept anywhere in a body: what the canonical amount
#: columns hold (14 integer digits, 10 decimals) once rounded to their decimals.
NUMBER_MAX = Decimal(10) ** (AMOUNT_DIGITS - AMOUNT_DECIMALS) - Decimal(10) ** -AMOUNT_DECIMALS


#: The longest id the spec allows in each URL segment that carries one (CDR ids 39: a credit
#: CDR's; every other object id 36). ``country_code``/``party_id`` are fixed by the URL patterns.
URL_ID_MAX_LENGTH = {
    "cdr_id": 39,
    "session_id": 36,
    "location_id": 36,
    "evse_uid": 36,
    "connector_id": 36,
    "tariff_id": 36,
    "token_uid": 36,
    "uid": 36,
    "command": 36,
}
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


def id_problem(value: str, max_length: int) -> str | None:
    """Why ``value`` cannot be an object id, or None.

    An id is a CiString (printable ASCII, at most ``max_length`` characters, spec §3.1) that
    is also addressable: the spec puts ids in URL path segments (``…/{party_id}/{id}``), and a
    ``/`` (even as ``%2F``, which servers decode before routing) or a segment of only ``.`` or
    ``..`` (which clients resolve away) would point at another URL. Refusing those before
    anything is stored means every id we accept can be answered in a ``Location`` and fetched.
    """
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters (got {len(value)})"
    if not _PRINTABLE_ASCII.fullmatch(value):
        return "must be printable ASCII (CiString: no control characters, no non-ASCII)"
    if "/" in value:
        return "must not contain '/' (an id is one URL path segment)"
    if value in (".", ".."):
        return "must not be '.' or '..' (an id is one URL path segment)"
    return None


def url_ids_check(kwargs: dict[str, Any]) -> None:
    """The ids in a request's URL (its path segments) follow the same rule as those in bodies:
    one that breaks it is answered 2001 naming the segment, before any lookup."""
    for name, value in kwargs.items():
        limit = URL_ID_MAX_LENGTH.get(name)
        if limit is None or not isinstance(value, str):
            continue
        problem = id_problem(value, limit)
        if problem:
            raise InvalidParameters(f"{name} in the URL: {problem}")


def _shape_problems(data: Any, path: str = "") -> list[str]:
    """What no OCPI object holds, wherever it is: ``null`` as a list element (a list is absent,
    empty or holds values) and numbers larger than we can store. Found before the serializers
    run, so that no codec meets them."""
    problems: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            problems += _shape_problems(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            if value is None:
                problems.append(f"{path}[{index}]: a list element must not be null")
            else:
                problems += _shape_problems(value, f"{path}[{index}]")
    elif isinstance(data, int | Decimal) and not isinstance(data, bool):
        number = Decimal(data)
        if number.is_finite() and abs(number) > NUMBER_MAX:
            problems.append(f"{path}: {data} is out of range (at most {NUMBER_MAX:f} in magnitude)")
    return problems


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
    problems = _shape_problems(data)
    if problems:
        raise InvalidParameters("; ".join(problems[:10]))
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
