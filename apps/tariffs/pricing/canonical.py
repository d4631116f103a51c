"""Canonical tariff content (plain data) → :class:`TariffSpec`.

The input is what ``TariffVersion.elements`` holds (OCPI-shaped elements, numbers as decimal
strings) or what ``TariffContent`` carries (numbers as ``Decimal``). Floats are refused: a price
must never have been binary floating point.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from apps.tariffs.pricing.model import (
    NO_RESTRICTIONS,
    WEEKDAYS,
    ComponentType,
    ElementSpec,
    InvalidTariff,
    PriceComponentSpec,
    ReservationKind,
    Restrictions,
    TariffSpec,
)

_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_NUMBER_RESTRICTIONS = (
    "min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power",
    "min_duration", "max_duration",
)  # fmt: skip
_KNOWN_RESTRICTIONS = frozenset(
    {"start_time", "end_time", "start_date", "end_date", "day_of_week", "reservation"}
    | set(_NUMBER_RESTRICTIONS)
)


class TariffContentLike(Protocol):
    """What a canonical tariff content offers (``apps.tariffs.services.TariffContent`` does)."""

    @property
    def currency(self) -> str: ...
    @property
    def elements(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def min_price_excl_vat(self) -> Decimal | None: ...
    @property
    def min_price_incl_vat(self) -> Decimal | None: ...
    @property
    def max_price_excl_vat(self) -> Decimal | None: ...
    @property
    def max_price_incl_vat(self) -> Decimal | None: ...
    @property
    def start_date_time(self) -> datetime | None: ...
    @property
    def end_date_time(self) -> datetime | None: ...


def tariff_spec(
    *,
    currency: str,
    elements: Sequence[Mapping[str, Any]],
    tariff_id: str = "",
    min_price_excl_vat: Decimal | str | None = None,
    min_price_incl_vat: Decimal | str | None = None,
    max_price_excl_vat: Decimal | str | None = None,
    max_price_incl_vat: Decimal | str | None = None,
    start_date_time: datetime | None = None,
    end_date_time: datetime | None = None,
) -> TariffSpec:
    """Parse canonical tariff content into a :class:`TariffSpec`; raise ``InvalidTariff``."""
    for name, moment in (("start_date_time", start_date_time), ("end_date_time", end_date_time)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidTariff(f"{name} must be an aware datetime")
    if not isinstance(elements, Sequence) or isinstance(elements, str | bytes):
        raise InvalidTariff("elements must be a list")
    return TariffSpec(
        currency=currency,
        elements=tuple(_element(e, f"elements[{i}]") for i, e in enumerate(elements)),
        tariff_id=tariff_id,
        min_price_excl_vat=_optional_number(min_price_excl_vat, "min_price_excl_vat"),
        min_price_incl_vat=_optional_number(min_price_incl_vat, "min_price_incl_vat"),
        max_price_excl_vat=_optional_number(max_price_excl_vat, "max_price_excl_vat"),
        max_price_incl_vat=_optional_number(max_price_incl_vat, "max_price_incl_vat"),
        start_date_time=start_date_time,
        end_date_time=end_date_time,
    )


def tariff_spec_from_content(content: TariffContentLike, *, tariff_id: str = "") -> TariffSpec:
    """:func:`tariff_spec` for an object holding canonical content (e.g. ``TariffContent``)."""
    return tariff_spec(
        currency=content.currency,
        elements=content.elements,
        tariff_id=tariff_id,
        min_price_excl_vat=content.min_price_excl_vat,
        min_price_incl_vat=content.min_price_incl_vat,
        max_price_excl_vat=content.max_price_excl_vat,
        max_price_incl_vat=content.max_price_incl_vat,
        start_date_time=content.start_date_time,
        end_date_time=content.end_date_time,
    )


def _element(data: Any, where: str) -> ElementSpec:
    if not isinstance(data, Mapping):
        raise InvalidTariff(f"{where}: expected an object")
    components = data.get("price_components")
    if not isinstance(components, Sequence) or isinstance(components, str) or not components:
        raise InvalidTariff(f"{where}.price_components: expected a non-empty list")
    restrictions = data.get("restrictions")
    return ElementSpec(
        price_components=tuple(
            _component(c, f"{where}.price_components[{i}]") for i, c in enumerate(components)
        ),
        restrictions=NO_RESTRICTIONS
        if restrictions is None
        else _restrictions(restrictions, f"{where}.restrictions"),
    )


def _component(data: Any, where: str) -> PriceComponentSpec:
    if not isinstance(data, Mapping):
        raise InvalidTariff(f"{where}: expected an object")
    try:
        kind = ComponentType(str(data.get("type")))
    except ValueError:
        raise InvalidTariff(
            f"{where}.type: {data.get('type')!r} is not a price component type"
        ) from None
    price = _number(data.get("price"), f"{where}.price")
    if price < 0:
        raise InvalidTariff(f"{where}.price: must not be negative")
    vat = _optional_number(data.get("vat"), f"{where}.vat")
    if vat is not None and vat < 0:
        raise InvalidTariff(f"{where}.vat: must not be negative")
    step = _number(data.get("step_size"), f"{where}.step_size")
    if step != step.to_integral_value() or step < 0:
        raise InvalidTariff(f"{where}.step_size: must be a whole number ≥ 0")
    return PriceComponentSpec(type=kind, price=price, vat=vat, step_size=int(step))


def _restrictions(data: Any, where: str) -> Restrictions:
    if not isinstance(data, Mapping):
        raise InvalidTariff(f"{where}: expected an object")
    # OCPI allows null for absent optional fields.
    given = {key: value for key, value in data.items() if value is not None}
    unknown = sorted(set(given) - _KNOWN_RESTRICTIONS)
    if unknown:
        # Ignoring a restriction we do not understand would misprice silently.
        raise InvalidTariff(f"{where}: unknown restriction(s) {', '.join(unknown)}")
    numbers = {
        name: _number(given[name], f"{where}.{name}")
        for name in _NUMBER_RESTRICTIONS
        if name in given
    }
    days = given.get("day_of_week", [])
    if isinstance(days, str) or not isinstance(days, Sequence):
        raise InvalidTariff(f"{where}.day_of_week: expected a list of day names")
    for day in days:
        if day not in WEEKDAYS:
            raise InvalidTariff(f"{where}.day_of_week: {day!r} is not a day of the week")
    reservation = given.get("reservation")
    if reservation is not None:
        try:
            reservation = ReservationKind(reservation)
        except ValueError:
            raise InvalidTariff(
                f"{where}.reservation: {reservation!r} is not RESERVATION or RESERVATION_EXPIRES"
            ) from None
    parsed = Restrictions(
        start_time=_clock(given.get("start_time"), f"{where}.start_time"),
        end_time=_clock(given.get("end_time"), f"{where}.end_time"),
        start_date=_day(given.get("start_date"), f"{where}.start_date"),
        end_date=_day(given.get("end_date"), f"{where}.end_date"),
        day_of_week=frozenset(days),
        reservation=reservation,
        **numbers,
    )
    return NO_RESTRICTIONS if parsed == NO_RESTRICTIONS else parsed


def _clock(value: Any, where: str) -> time | None:
    if value is None:
        return None
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise InvalidTariff(f"{where}: {value!r} is not a time of day HH:MM")
    return time(int(match[1]), int(match[2]))


def _day(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidTariff(f"{where}: {value!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidTariff(f"{where}: {value!r} is not a valid date") from None


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        kind = "missing" if value is None else f"a {type(value).__name__}"
        raise InvalidTariff(f"{where}: expected a decimal number (str or Decimal), got {kind}")
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise InvalidTariff(f"{where}: {value!r} is not a number") from None
    else:
        raise InvalidTariff(f"{where}: expected a decimal number, got {type(value).__name__}")
    if not number.is_finite():
        raise InvalidTariff(f"{where}: {value!r} is not a finite number")
    return number


def _optional_number(value: Any, where: str) -> Decimal | None:
    return None if value is None else _number(value, where)
