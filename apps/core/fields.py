"""Field factories shared by the canonical models, so precision is decided in one place."""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

# Money and quantities (kWh, hours, A, kW) at full precision: OCPI numbers have 4 decimals but
# computed amounts (volume x price) need more. Rounding happens only through core.money.
AMOUNT_DIGITS = 24
AMOUNT_DECIMALS = 10


def amount_field(verbose_name: str | None = None, **kwargs: Any) -> models.DecimalField:
    kwargs.setdefault("max_digits", AMOUNT_DIGITS)
    kwargs.setdefault("decimal_places", AMOUNT_DECIMALS)
    return models.DecimalField(verbose_name, **kwargs)


def optional_amount_field(verbose_name: str | None = None, **kwargs: Any) -> models.DecimalField:
    return amount_field(verbose_name, null=True, blank=True, **kwargs)


def currency_field(**kwargs: Any) -> models.CharField:
    kwargs.setdefault("max_length", 3)
    kwargs.setdefault("help_text", "ISO 4217 currency code")
    return models.CharField(**kwargs)


def json_field(**kwargs: Any) -> models.JSONField:
    """JSON stored with Decimals as strings, so no float ever touches a price."""
    kwargs.setdefault("encoder", DjangoJSONEncoder)
    kwargs.setdefault("blank", True)
    return models.JSONField(**kwargs)


def latitude_field(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=10, decimal_places=7, **kwargs)


def longitude_field(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=11, decimal_places=7, **kwargs)
