"""Helpers shared by the OCPI 2.2.1 codecs to render canonical values as wire values (numbers as
Decimal, times as datetimes; ``jsonutil.dumps`` turns them into JSON numbers and OCPI
timestamps). Each object's renderer lives in its module's codec."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

#: Keys whose values are OCPI numbers wherever they appear in canonical JSON (tariff elements,
#: energy mixes): stored as decimal text, rendered as JSON numbers.
_DECIMAL_KEYS = {
    "price", "vat", "min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power",
    "percentage", "amount",
}  # fmt: skip
_INT_KEYS = {"step_size", "min_duration", "max_duration"}


def number(value: Decimal | str | int | None) -> Decimal | None:
    """A Decimal without trailing zeros or exponent (``20.0000000000`` → ``20``)."""
    if value is None:
        return None
    normalized = Decimal(value).normalize()
    return Decimal(format(normalized, "f"))


def numbers(data: Any) -> Any:
    """Canonical JSON (Decimals kept as text) → wire values (Decimals and ints); ``None``
    values are left out."""
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key in _DECIMAL_KEYS:
                out[key] = number(value)
            elif key in _INT_KEYS:
                out[key] = int(Decimal(value))
            else:
                out[key] = numbers(value)
        return out
    if isinstance(data, list | tuple):
        return [numbers(v) for v in data]
    return data


def price(excl: Decimal | str | None, incl: Decimal | str | None) -> dict[str, Decimal] | None:
    """An OCPI ``Price`` (``incl_vat`` left out when unknown), or None without an amount."""
    if excl is None:
        return None
    rendered: dict[str, Any] = {"excl_vat": number(excl)}
    if incl is not None:
        rendered["incl_vat"] = number(incl)
    return rendered


def coordinate(value: Decimal) -> str:
    """A GeoLocation coordinate: decimal text with 5 to 7 decimals (the spec's pattern)."""
    text = format(Decimal(value).quantize(Decimal("0.0000001")), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(5, '0')}"


def moment(value: datetime | str | None) -> datetime | None:
    """A datetime from canonical JSON (stored as ISO text) or as it is."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"{value!r} is not a date and time")
    return parsed


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """Leave out optional fields that have no value (the spec's '?' and '*' fields)."""
    return {k: v for k, v in data.items() if v not in (None, "", [])}
