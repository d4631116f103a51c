"""Canonical objects → OCPI 2.2.1 wire dictionaries (numbers as Decimal, times as datetimes;
jsonutil.dumps turns them into JSON numbers and OCPI timestamps)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.cdrs.models import Cdr
from apps.tariffs.models import Tariff, TariffVersion

_DECIMAL_KEYS = {
    "price", "vat", "min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power",
    "percentage", "amount",
}  # fmt: skip
_INT_KEYS = {"step_size", "min_duration", "max_duration"}


def number(value: Decimal | str | int | None) -> Decimal | None:
    """A Decimal without trailing zeros or exponent (``20.0000000000`` → ``20``)."""
    if value is None:
        return None
    normalized = Decimal(value).normalize()
    return Decimal(format(normalized, "f"))


def _numbers(data: Any) -> Any:
    """Canonical JSON (Decimals kept as text) → wire values (Decimals and ints)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key in _DECIMAL_KEYS:
                out[key] = number(value)
            elif key in _INT_KEYS:
                out[key] = int(Decimal(value))
            else:
                out[key] = _numbers(value)
        return out
    if isinstance(data, list):
        return [_numbers(v) for v in data]
    return data


def price(excl: Decimal | None, incl: Decimal | None) -> dict[str, Decimal] | None:
    if excl is None:
        return None
    rendered = {"excl_vat": number(excl)}
    if incl is not None:
        rendered["incl_vat"] = number(incl)
    return rendered  # type: ignore[return-value]


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Leave out optional fields that have no value (the spec's '?' fields)."""
    return {k: v for k, v in data.items() if v not in (None, "", [])}


def render_tariff(tariff: Tariff, version: TariffVersion) -> dict[str, Any]:
    return _compact(
        {
            "country_code": tariff.party.country_code,
            "party_id": tariff.party.party_id,
            "id": tariff.tariff_id,
            "currency": version.currency,
            "type": version.type,
            "tariff_alt_text": version.alt_text,
            "tariff_alt_url": version.alt_url,
            "min_price": price(version.min_price_excl_vat, version.min_price_incl_vat),
            "max_price": price(version.max_price_excl_vat, version.max_price_incl_vat),
            "elements": _numbers(version.elements),
            "start_date_time": version.start_date_time,
            "end_date_time": version.end_date_time,
            "energy_mix": _numbers(version.energy_mix) if version.energy_mix else None,
            "last_updated": version.last_updated,
        }
    )


def render_cdr(cdr: Cdr) -> dict[str, Any]:
    tariffs = []
    if cdr.tariff_version_at_start is not None:
        version = cdr.tariff_version_at_start
        tariffs.append(render_tariff(version.tariff, version))
    periods = [
        _compact(
            {
                "start_date_time": period.start_date_time,
                "dimensions": [
                    {"type": d.type, "volume": number(d.volume)} for d in period.dimensions.all()
                ],
                "tariff_id": period.tariff_ref,
            }
        )
        for period in cdr.charging_periods.order_by("sequence").prefetch_related("dimensions")
    ]
    total = {
        name: price(getattr(cdr, f"{name}_excl_vat"), getattr(cdr, f"{name}_incl_vat"))
        for name in (
            "total_cost",
            "total_fixed_cost",
            "total_energy_cost",
            "total_time_cost",
            "total_parking_cost",
            "total_reservation_cost",
        )
    }
    return _compact(
        {
            "country_code": cdr.party.country_code,
            "party_id": cdr.party.party_id,
            "id": cdr.cdr_id,
            "start_date_time": cdr.start_date_time,
            "end_date_time": cdr.end_date_time,
            "session_id": cdr.session_ref,
            "cdr_token": {
                "country_code": cdr.token_country_code,
                "party_id": cdr.token_party_id,
                "uid": cdr.token_uid,
                "type": cdr.token_type,
                "contract_id": cdr.token_contract_id,
            },
            "auth_method": cdr.auth_method,
            "authorization_reference": cdr.authorization_reference,
            "cdr_location": _compact(
                {
                    "id": cdr.location_ref,
                    "name": cdr.location_name,
                    "address": cdr.location_address,
                    "city": cdr.location_city,
                    "postal_code": cdr.location_postal_code,
                    "state": cdr.location_state,
                    "country": cdr.location_country,
                    "coordinates": {
                        "latitude": str(cdr.location_latitude),
                        "longitude": str(cdr.location_longitude),
                    },
                    "evse_uid": cdr.evse_uid,
                    "evse_id": cdr.evse_id,
                    "connector_id": cdr.connector_ref,
                    "connector_standard": cdr.connector_standard,
                    "connector_format": cdr.connector_format,
                    "connector_power_type": cdr.connector_power_type,
                }
            ),
            "meter_id": cdr.meter_id,
            "currency": cdr.currency,
            "tariffs": tariffs,
            "charging_periods": periods,
            "signed_data": cdr.signed_data,
            **total,
            "total_energy": number(cdr.total_energy),
            "total_time": number(cdr.total_time),
            "total_parking_time": number(cdr.total_parking_time),
            "remark": cdr.remark,
            "invoice_reference_id": cdr.invoice_reference_id,
            "credit": True if cdr.credit else None,
            "credit_reference_id": cdr.credit_reference_id,
            "home_charging_compensation": cdr.home_charging_compensation,
            "last_updated": cdr.last_updated,
        }
    )
