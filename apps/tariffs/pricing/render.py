"""A :class:`PricingResult` as plain data (Decimals, datetimes) for JSON and templates.

Full precision everywhere except under ``"rounded"``, which holds the same totals rounded to
the currency's minor units through the project's one rounding helper.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.core.money import round_money
from apps.tariffs.pricing.model import Amount, PricedLine, PricingResult

COST_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
QUANTITY_FIELDS = ("total_energy", "total_time", "total_parking_time", "total_reservation_time")


def amount_data(amount: Amount) -> dict[str, Decimal]:
    return {"excl_vat": amount.excl_vat, "incl_vat": amount.incl_vat}


def rounded_amount(amount: Amount, currency: str) -> Amount:
    return Amount(round_money(amount.excl_vat, currency), round_money(amount.incl_vat, currency))


def rounded_totals(result: PricingResult) -> dict[str, Amount]:
    """The cost totals rounded for display (each on its own: they need not add up)."""
    return {name: rounded_amount(getattr(result, name), result.currency) for name in COST_FIELDS}


def line_data(line: PricedLine) -> dict[str, Any]:
    return {
        "period_index": line.period_index,
        "dimension": line.dimension.value,
        "cost_group": line.cost_group.value,
        "element_index": line.element_index,
        "component_index": line.component_index,
        "volume": line.volume,
        "billed_volume": line.billed_volume,
        "unit_price": line.unit_price,
        "vat": line.vat,
        "cost": amount_data(line.amount),
        "reason": line.reason,
    }


def result_data(result: PricingResult, *, explain: bool = False) -> dict[str, Any]:
    """The totals (full precision and rounded); with ``explain`` the lines, the per-period
    reasoning and the session notes."""
    data: dict[str, Any] = {"currency": result.currency, "tariff_id": result.tariff_id}
    data.update({name: amount_data(getattr(result, name)) for name in COST_FIELDS})
    data.update({name: getattr(result, name) for name in QUANTITY_FIELDS})
    data["uncapped_cost"] = amount_data(result.uncapped_cost)
    data["rounded"] = {name: amount_data(amount) for name, amount in rounded_totals(result).items()}
    if explain:
        data["lines"] = [line_data(line) for line in result.lines]
        data["periods"] = [
            {
                "index": report.index,
                "start_date_time": report.start,
                "local_start": report.local_start.isoformat(),
                "energy_before": report.energy_before,
                "seconds_since_session_start": report.elapsed_seconds,
                "explanations": list(report.explanations),
            }
            for report in result.periods
        ]
        data["notes"] = list(result.notes)
    return data
