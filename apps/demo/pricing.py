"""Demo pricer: prices the charging periods of the demo sessions made by ``seed_demo``.

This is a stand-in for the real tariff engine (``apps/tariffs/pricing``, a later issue), small
enough to read in one sitting, and used by nothing but the demo seed. It follows the OCPI
first-match rule per dimension (for ENERGY, TIME and PARKING_TIME each, the first element that
has a component of that dimension and whose restrictions all match wins) with these
simplifications:

* A charging period is priced as a whole by the elements that match at its start, in the
  location's local time. Periods are not split where a restriction starts or stops matching.
* ``min_power``/``max_power`` are checked against the period's MAX_POWER (a period without one
  counts as 0 kW), ``min_kwh``/``max_kwh`` against the energy charged before the period, and
  ``min_duration``/``max_duration`` against the seconds since the session started.
* FLAT is billed once per session: the first element with a FLAT component that matches at the
  start of the session.
* No ``step_size`` rounding and no ``min_price``/``max_price`` clamping: every amount is exactly
  volume x unit price, so the seed must keep its sessions clear of a tariff's price bounds.
* Elements with a ``reservation`` restriction never match (the demo has no reservations);
  ``min_current``/``max_current`` are not supported and raise ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from apps.tariffs.enums import TariffDimensionType

_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_UNSUPPORTED = frozenset({"min_current", "max_current"})
_MIDNIGHT = time(0, 0)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Period:
    """What one charging period measured: energy (kWh), charging and parking time (hours)."""

    start: datetime
    energy_kwh: Decimal = _ZERO
    time_h: Decimal = _ZERO
    parking_h: Decimal = _ZERO
    max_power_kw: Decimal | None = None

    def volume(self, dimension: str) -> Decimal:
        if dimension == TariffDimensionType.ENERGY:
            return self.energy_kwh
        if dimension == TariffDimensionType.TIME:
            return self.time_h
        if dimension == TariffDimensionType.PARKING_TIME:
            return self.parking_h
        raise ValueError(f"no volume for dimension {dimension}")


@dataclass(frozen=True, slots=True)
class Charge:
    """One priced dimension of one period (FLAT: of the session, reported on its first period)."""

    period_index: int
    dimension: TariffDimensionType
    element_index: int
    volume: Decimal
    unit_price: Decimal
    vat_rate: Decimal | None
    restrictions: Mapping[str, Any]

    @property
    def amount_excl_vat(self) -> Decimal:
        return self.volume * self.unit_price

    @property
    def amount_incl_vat(self) -> Decimal:
        if self.vat_rate is None:
            return self.amount_excl_vat
        return self.amount_excl_vat * (1 + self.vat_rate / 100)


def price_periods(
    *,
    elements: Sequence[Mapping[str, Any]],
    periods: Sequence[Period],
    session_start: datetime,
    time_zone: str,
) -> list[Charge]:
    """The charges of a session's periods under ``elements`` (OCPI-shaped tariff elements).

    Numbers in ``elements`` may be Decimals or their string form (as stored in JSON).
    """
    if not periods:
        return []
    zone = ZoneInfo(time_zone)
    charges: list[Charge] = []
    flat = _active(
        elements,
        TariffDimensionType.FLAT,
        local=periods[0].start.astimezone(zone),
        kwh_before=_ZERO,
        elapsed_s=0,
        power_kw=periods[0].max_power_kw or _ZERO,
    )
    if flat is not None:
        index, component, restrictions = flat
        charges.append(
            _charge(0, TariffDimensionType.FLAT, index, Decimal(1), component, restrictions)
        )
    kwh_before = _ZERO
    for period_index, period in enumerate(periods):
        elapsed = int((period.start - session_start).total_seconds())
        for dimension in (
            TariffDimensionType.ENERGY,
            TariffDimensionType.TIME,
            TariffDimensionType.PARKING_TIME,
        ):
            volume = period.volume(dimension)
            if volume == 0:
                continue
            active = _active(
                elements,
                dimension,
                local=period.start.astimezone(zone),
                kwh_before=kwh_before,
                elapsed_s=elapsed,
                power_kw=period.max_power_kw or _ZERO,
            )
            if active is not None:
                index, component, restrictions = active
                charges.append(
                    _charge(period_index, dimension, index, volume, component, restrictions)
                )
        kwh_before += period.energy_kwh
    return charges


_RESTRICTION_ORDER = (
    "start_time", "end_time", "start_date", "end_date", "day_of_week", "min_kwh", "max_kwh",
    "min_power", "max_power", "min_current", "max_current", "min_duration", "max_duration",
    "reservation",
)  # fmt: skip


def describe_restrictions(restrictions: Mapping[str, Any]) -> str:
    """Restrictions in words, in a fixed order, for cost line explanations."""
    if not restrictions:
        return "no restrictions"
    parts: list[str] = []
    order = {key: i for i, key in enumerate(_RESTRICTION_ORDER)}
    for key in sorted(restrictions, key=lambda k: (order.get(k, len(order)), k)):
        value = restrictions[key]
        shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else value
        parts.append(f"{key.replace('_', ' ')} {shown}")
    return "; ".join(parts)


def _charge(
    period_index: int,
    dimension: TariffDimensionType,
    element_index: int,
    volume: Decimal,
    component: Mapping[str, Any],
    restrictions: Mapping[str, Any],
) -> Charge:
    vat = component.get("vat")
    return Charge(
        period_index=period_index,
        dimension=dimension,
        element_index=element_index,
        volume=volume,
        unit_price=_number(component["price"]),
        vat_rate=None if vat is None else _number(vat),
        restrictions=restrictions,
    )


def _active(
    elements: Sequence[Mapping[str, Any]],
    dimension: str,
    *,
    local: datetime,
    kwh_before: Decimal,
    elapsed_s: int,
    power_kw: Decimal,
) -> tuple[int, Mapping[str, Any], Mapping[str, Any]] | None:
    """The first element with a ``dimension`` component whose restrictions match, if any."""
    for index, element in enumerate(elements):
        component = next(
            (c for c in element.get("price_components", []) if c.get("type") == dimension), None
        )
        if component is None:
            continue
        restrictions: Mapping[str, Any] = element.get("restrictions") or {}
        if _matches(
            restrictions, local=local, kwh_before=kwh_before, elapsed_s=elapsed_s, power_kw=power_kw
        ):
            return index, component, restrictions
    return None


def _matches(
    restrictions: Mapping[str, Any],
    *,
    local: datetime,
    kwh_before: Decimal,
    elapsed_s: int,
    power_kw: Decimal,
) -> bool:
    """All set restrictions hold (min bounds inclusive, max bounds exclusive)."""
    unsupported = _UNSUPPORTED & restrictions.keys()
    if unsupported:
        raise ValueError(f"the demo pricer does not support {', '.join(sorted(unsupported))}")
    if "reservation" in restrictions:
        return False
    if not _in_time_window(
        local.time(), restrictions.get("start_time"), restrictions.get("end_time")
    ):
        return False
    today = local.date().isoformat()
    if "start_date" in restrictions and today < restrictions["start_date"]:
        return False
    if "end_date" in restrictions and today >= restrictions["end_date"]:
        return False
    days = restrictions.get("day_of_week")
    if days and _WEEKDAYS[local.weekday()] not in days:
        return False
    measured: dict[str, Decimal] = {
        "kwh": kwh_before,
        "power": power_kw,
        "duration": Decimal(elapsed_s),
    }
    for name, value in measured.items():
        low, high = restrictions.get(f"min_{name}"), restrictions.get(f"max_{name}")
        if low is not None and value < _number(low):
            return False
        if high is not None and value >= _number(high):
            return False
    return True


def _in_time_window(now: time, start: str | None, end: str | None) -> bool:
    """``start`` <= now < ``end`` in local time; ``end`` before ``start`` wraps past midnight
    and an ``end`` of 00:00 means "until the end of the day"."""
    begin = _clock(start) if start else None
    until = _clock(end) if end else None
    if until == _MIDNIGHT:
        until = None
    if begin is None:
        return until is None or now < until
    if until is None:
        return now >= begin
    if begin < until:
        return begin <= now < until
    if begin > until:
        return now >= begin or now < until
    return True


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _number(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError("tariff numbers must be Decimal or str, never float")
    return value if isinstance(value, Decimal) else Decimal(str(value))
