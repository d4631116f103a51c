"""Field types shared by the OCPI 2.2.1 wire serializers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.ocpi.common.timestamps import InvalidTimestamp, parse_ocpi_datetime


class NumberField(serializers.Field):
    """An OCPI ``number``: a JSON number, kept exact as ``Decimal`` (never a float)."""

    default_error_messages = {"invalid": "must be a JSON number"}

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | Decimal):
            self.fail("invalid")
        number = Decimal(data)
        if not number.is_finite():
            self.fail("invalid")
        return number

    def to_representation(self, value: Decimal) -> Decimal:
        return value


class OcpiDateTimeField(serializers.Field):
    """An OCPI DateTime, parsed by the one OCPI timestamp parser."""

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return parse_ocpi_datetime(data)
        except InvalidTimestamp as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: datetime) -> datetime:
        return value
