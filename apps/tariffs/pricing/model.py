"""The tariff engine's inputs and outputs: frozen dataclasses, ``Decimal`` amounts, aware times.

Pure Python on purpose (no ORM, no settings): the engine prices a tariff as data, so the same
code serves CDR generation, CDR checks, the admin preview, the command line and the benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from apps.core.errors import DomainError

ZERO = Decimal(0)


class Dimension(StrEnum):
    """What a charging period measures (OCPI CdrDimensionType) and what a tariff prices.

    FLAT is a tariff dimension only: it has no volume in a period.
    """

    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"
    RESERVATION_TIME = "RESERVATION_TIME"
    FLAT = "FLAT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_POWER = "MIN_POWER"
    MAX_POWER = "MAX_POWER"


class ComponentType(StrEnum):
    """The ``type`` of a price component (OCPI TariffDimensionType)."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class ReservationKind(StrEnum):
    """The ``reservation`` restriction (OCPI ReservationRestrictionType)."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class CostGroup(StrEnum):
    """Which CDR total a priced line adds to (the same values as the CDRs' cost components)."""

    FIXED = "FIXED"
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING = "PARKING"
    RESERVATION = "RESERVATION"


WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class NoValidTariff(DomainError):
    """No tariff applies to the session (policy j): outside every tariff's validity window."""

    code = "NO_VALID_TARIFF"


class InvalidTariff(DomainError):
    """The tariff content cannot be priced (unknown types, malformed restrictions, floats)."""

    code = "INVALID_TARIFF"


class InvalidSessionInput(DomainError):
    """The session cannot be priced as given (naive times, periods out of order, ...)."""

    code = "INVALID_PRICING_INPUT"


# -- tariff -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PriceComponentSpec:
    """One OCPI PriceComponent: ``price`` per unit excl. VAT (per kWh, per hour, or per session
    for FLAT); ``vat`` a percentage or None (no VAT applicable); ``step_size`` in Wh or s."""

    type: ComponentType
    price: Decimal
    step_size: int
    vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Restrictions:
    """One OCPI TariffRestrictions, parsed. Every field left None (or empty) is not restricted."""

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: Decimal | None = None
    max_duration: Decimal | None = None
    day_of_week: frozenset[str] = frozenset()
    reservation: ReservationKind | None = None

    @property
    def is_empty(self) -> bool:
        return self is NO_RESTRICTIONS or self == NO_RESTRICTIONS


NO_RESTRICTIONS = Restrictions()


@dataclass(frozen=True, slots=True)
class ElementSpec:
    price_components: tuple[PriceComponentSpec, ...]
    restrictions: Restrictions = NO_RESTRICTIONS

    def component(self, kind: ComponentType) -> tuple[int, PriceComponentSpec] | None:
        """The first component of ``kind`` (policy a: within an element the first one wins)."""
        for index, component in enumerate(self.price_components):
            if component.type is kind:
                return index, component
        return None


@dataclass(frozen=True, slots=True)
class TariffSpec:
    """A tariff as the engine prices it. Price bounds apply separately excl. and incl. VAT."""

    currency: str
    elements: tuple[ElementSpec, ...]
    tariff_id: str = ""
    min_price_excl_vat: Decimal | None = None
    min_price_incl_vat: Decimal | None = None
    max_price_excl_vat: Decimal | None = None
    max_price_incl_vat: Decimal | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None


# -- session ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PeriodInput:
    """A charging period: its start (aware) and its dimensions by CdrDimensionType name.

    ENERGY in kWh, TIME / PARKING_TIME / RESERVATION_TIME in hours, currents in A, powers in kW.
    A period ends where the next one starts; the last one at the session's end.
    """

    start: datetime
    dimensions: Mapping[str, Decimal]

    def volume(self, dimension: str) -> Decimal:
        return self.dimensions.get(dimension, ZERO)


@dataclass(frozen=True, slots=True)
class SessionInput:
    """A session to price. ``start`` is the CDR's start (the reservation's, if one came first).

    ``reservation_expired`` None means: inferred, expired when the session has reservation
    time and no period with ENERGY, TIME or PARKING_TIME.
    """

    start: datetime
    end: datetime
    periods: tuple[PeriodInput, ...]
    time_zone: str
    reservation_expired: bool | None = None


# -- result -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Amount:
    excl_vat: Decimal
    incl_vat: Decimal

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)


NO_AMOUNT = Amount(ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One dimension of one period priced by one component.

    ``billed_volume`` is ``volume`` plus the session's step_size surplus on the line that the
    rounding rule (policy f) bills it on; FLAT lines have volume 1.
    """

    period_index: int
    dimension: Dimension
    cost_group: CostGroup
    element_index: int
    component_index: int
    volume: Decimal
    billed_volume: Decimal
    unit_price: Decimal
    vat: Decimal | None
    amount: Amount
    reason: str


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """What the engine decided for one period, dimension by dimension, in words."""

    index: int
    start: datetime
    local_start: datetime
    energy_before: Decimal
    elapsed_seconds: Decimal
    explanations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PricingResult:
    """Totals at full precision (round only for display, through ``round_money``)."""

    currency: str
    tariff_id: str
    total_cost: Amount
    total_fixed_cost: Amount
    total_energy_cost: Amount
    total_time_cost: Amount
    total_parking_cost: Amount
    total_reservation_cost: Amount
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    total_reservation_time: Decimal
    #: The sum of the lines before ``min_price``/``max_price``.
    uncapped_cost: Amount
    lines: tuple[PricedLine, ...] = ()
    periods: tuple[PeriodReport, ...] = ()
    notes: tuple[str, ...] = field(default=())
