"""Field types shared by the OCPI 2.2.1 wire serializers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.ocpi.common.timestamps import InvalidTimestamp, parse_ocpi_datetime
from apps.ocpi.common.validation import id_problem


class NumberField(serializers.Field):
    """An OCPI ``number``: a JSON number, kept exact as ``Decimal`` (never a float)."""

    default_error_messages = {
        "invalid": "must be a JSON number",
        "negative": "must not be negative",
    }

    def __init__(self, *, non_negative: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.non_negative = non_negative

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | Decimal):
            self.fail("invalid")
        number = Decimal(data)
        if not number.is_finite():
            self.fail("invalid")
        if self.non_negative and number < 0:
            self.fail("negative")
        return number

    def to_representation(self, value: Decimal) -> Decimal:
        return value


def quantity_field(**kwargs: Any) -> NumberField:
    """An amount of energy or time delivered (``kwh``, ``total_energy``, ``total_time``,
    ``total_parking_time``).

    The one rule for quantities, in sessions and CDRs alike: a negative one is refused (2001),
    never stored with a warning. Charging-period dimensions follow it too, except those the spec
    defines as signed (negative = energy or power back to the grid): ``SIGNED_DIMENSIONS``.
    """
    return NumberField(non_negative=True, **kwargs)


#: CdrDimensionTypes whose volume may be negative (spec 8.7: "negative = EV to grid / net
#: export"); every other volume is a quantity (``quantity_field``).
SIGNED_DIMENSIONS = frozenset({"CURRENT", "ENERGY", "MIN_CURRENT", "MIN_POWER", "POWER"})


class OcpiDateTimeField(serializers.Field):
    """An OCPI DateTime, parsed by the one OCPI timestamp parser."""

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return parse_ocpi_datetime(data)
        except InvalidTimestamp as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: datetime) -> datetime:
        return value


# -- ids -----------------------------------------------------------------------------------------
class OcpiIdField(serializers.CharField):
    """An object id (``CiString(n)`` that is addressable as a URL segment, see ``id_problem``)."""

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(max_length=max_length, **kwargs)
        self.id_max_length = max_length

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("must be a string")
        if data == "" and self.allow_blank:
            return data
        problem = id_problem(data, self.id_max_length)
        if problem:
            raise serializers.ValidationError(problem)
        return data


def ocpi_id(max_length: int, *, required: bool = True) -> OcpiIdField:
    """An object id field; optional ones accept absence, ``null`` and ``""``."""
    return OcpiIdField(
        max_length, required=required, allow_null=not required, allow_blank=not required
    )
