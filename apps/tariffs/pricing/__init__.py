"""The tariff engine: pure Python and ``Decimal``, no ORM, no settings.

``price_session(tariff, session)`` prices a session's charging periods under a tariff following
our pricing policy (docs/pricing-policy.md) and explains every decision in words.
"""

from apps.tariffs.pricing.canonical import tariff_spec, tariff_spec_from_content
from apps.tariffs.pricing.engine import price_session, select_tariff
from apps.tariffs.pricing.model import (
    Amount,
    ComponentType,
    CostGroup,
    Dimension,
    ElementSpec,
    InvalidSessionInput,
    InvalidTariff,
    NoValidTariff,
    PeriodInput,
    PeriodReport,
    PriceComponentSpec,
    PricedLine,
    PricingResult,
    ReservationKind,
    Restrictions,
    SessionInput,
    TariffSpec,
)
from apps.tariffs.pricing.render import result_data, rounded_totals
from apps.tariffs.pricing.sketch import PeriodSketch, sketch_session

__all__ = [
    "Amount",
    "ComponentType",
    "CostGroup",
    "Dimension",
    "ElementSpec",
    "InvalidSessionInput",
    "InvalidTariff",
    "NoValidTariff",
    "PeriodInput",
    "PeriodReport",
    "PeriodSketch",
    "PriceComponentSpec",
    "PricedLine",
    "PricingResult",
    "ReservationKind",
    "Restrictions",
    "SessionInput",
    "TariffSpec",
    "price_session",
    "result_data",
    "rounded_totals",
    "select_tariff",
    "sketch_session",
    "tariff_spec",
    "tariff_spec_from_content",
]
