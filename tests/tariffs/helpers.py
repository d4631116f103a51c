"""Shared pieces of the tariff engine tests: the spec's example tariffs and session sketches."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apps.core.money import round_money
from apps.ocpi.common import jsonutil
from apps.ocpi.v2_2_1.pricing_input import parse_tariff_spec
from apps.tariffs.pricing import (
    Amount,
    PeriodSketch,
    SessionInput,
    TariffSpec,
    sketch_session,
    tariff_spec,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "2.2.1"
BERLIN = "Europe/Berlin"


def example_tariff(name: str) -> TariffSpec:
    """One of the spec's example tariffs (tests/fixtures, unmodified), through the 2.2.1
    adapter."""
    return parse_tariff_spec(jsonutil.loads((FIXTURES / "tariffs" / name).read_bytes()))


def local(text: str, zone: str = BERLIN) -> datetime:
    """An aware datetime from local wall-clock text "YYYY-MM-DD HH:MM"."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone))


def minutes(value: float | int | str) -> timedelta:
    return timedelta(seconds=float(Decimal(str(value)) * 60))


def period(
    offset_min: float | int | str,
    *,
    kwh: str | int = 0,
    parking_min: float | int | str = 0,
    **measured: str | int,
) -> PeriodSketch:
    extra = {key: Decimal(value) for key, value in measured.items()}
    return PeriodSketch(
        offset=minutes(offset_min),
        energy_kwh=Decimal(kwh),
        parking=minutes(parking_min),
        **extra,
    )


def session(
    start: str,
    duration_min: float | int | str,
    *periods: PeriodSketch,
    zone: str = BERLIN,
    reservation_min: float | int = 0,
    expired: bool = False,
) -> SessionInput:
    return sketch_session(
        start=local(start, zone),
        duration=minutes(duration_min),
        periods=periods or (period(0),),
        time_zone=zone,
        reservation=minutes(reservation_min),
        reservation_expired=expired,
    )


def component(kind: str, price: str, step: int = 1, vat: str | None = None) -> dict[str, Any]:
    """A price component in canonical form (numbers as decimal strings, as stored)."""
    data: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        data["vat"] = vat
    return data


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def tariff(*elements: dict[str, Any], currency: str = "EUR", **content: Any) -> TariffSpec:
    """A tariff from canonical content, through the engine's own parser."""
    return tariff_spec(currency=currency, elements=elements, **content)


def rounded(amount: Amount, currency: str = "EUR") -> tuple[str, str]:
    return (
        str(round_money(amount.excl_vat, currency)),
        str(round_money(amount.incl_vat, currency)),
    )


def close(value: Decimal, expected: str, tolerance: str = "1e-20") -> bool:
    """Equal up to the last digits of a 28-digit context (a third of an hour is not exact)."""
    return abs(value - Decimal(expected)) < Decimal(tolerance)
