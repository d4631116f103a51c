"""How the engine writes quantities, prices and moments in its explanations.

These are words for an operator, not amounts: money is never rounded here (the result keeps full
precision and displays round through ``apps.core.money.round_money``).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from apps.tariffs.pricing.model import WEEKDAYS, ComponentType, Dimension, PriceComponentSpec

_SECOND = Decimal(1)
_MICRO = Decimal("0.000001")


def number(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 20, 0.25, 1.973."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def duration(seconds: Decimal) -> str:
    """Seconds as H:MM:SS (fractions of a second kept to the microsecond)."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds).quantize(_MICRO)
    whole = int(seconds)
    fraction = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    if fraction:
        text += number(fraction)[1:]
    return text


def hours(value: Decimal) -> str:
    """Hours as H:MM:SS, with the decimal hours when they are short: "0:45:00 (0.75 h)"."""
    clock = duration(value * 3600)
    plain = number(value)
    if len(plain) <= 8:
        return f"{clock} ({plain} h)"
    return clock


def volume(dimension: Dimension, value: Decimal) -> str:
    if dimension is Dimension.ENERGY:
        return f"{number(value)} kWh"
    if dimension in (Dimension.MIN_CURRENT, Dimension.MAX_CURRENT):
        return f"{number(value)} A"
    if dimension in (Dimension.MIN_POWER, Dimension.MAX_POWER):
        return f"{number(value)} kW"
    return hours(value)


def price(component: PriceComponentSpec, currency: str) -> str:
    amount = f"{format(component.price, 'f')} {currency}"
    per = {
        ComponentType.ENERGY: " per kWh",
        ComponentType.TIME: " per hour",
        ComponentType.PARKING_TIME: " per hour",
        ComponentType.FLAT: " once",
    }[component.type]
    vat = "no VAT" if component.vat is None else f"VAT {number(component.vat)}%"
    return f"{amount}{per}, {vat}"


def clock(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def moment(local: datetime) -> str:
    """A local moment with its weekday and zone: "Monday 2024-01-08 09:30 Europe/Berlin"."""
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
    return f"{WEEKDAYS[local.weekday()].capitalize()} {shown} {local.tzinfo}"
