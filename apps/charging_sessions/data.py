"""Canonical session data, as protocol adapters hand it to the services (version-agnostic).

``SessionData`` uses the model's field names. A complete object (a create or a replacement)
carries every key; a partial update carries only the keys it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypedDict


@dataclass(frozen=True)
class DimensionData:
    type: str  # DimensionType
    volume: Decimal


@dataclass(frozen=True)
class PeriodData:
    """A charging period: it starts at ``start_date_time`` and ends where the next one starts."""

    start_date_time: datetime
    dimensions: tuple[DimensionData, ...]
    tariff_ref: str = ""


class SessionData(TypedDict, total=False):
    start_date_time: datetime
    end_date_time: datetime | None
    kwh: Decimal
    token_country_code: str
    token_party_id: str
    token_uid: str
    token_type: str
    token_contract_id: str
    auth_method: str
    authorization_reference: str
    location_ref: str
    evse_ref: str
    connector_ref: str
    meter_id: str
    currency: str
    total_cost_excl_vat: Decimal | None
    total_cost_incl_vat: Decimal | None
    status: str
    last_updated: datetime
    #: Complete data: the session's periods (replacing those held). Partial: periods to append.
    charging_periods: list[PeriodData]


#: The keys a complete ``SessionData`` must carry.
SESSION_REQUIRED_KEYS = frozenset(
    {
        "start_date_time",
        "kwh",
        "token_country_code",
        "token_party_id",
        "token_uid",
        "token_type",
        "token_contract_id",
        "auth_method",
        "location_ref",
        "evse_ref",
        "connector_ref",
        "currency",
        "status",
        "last_updated",
    }
)


@dataclass(frozen=True)
class ChargingPreferencesData:
    """What a driver asks of an ongoing session (through their eMSP)."""

    profile_type: str  # apps.tokens.enums.ProfileType
    departure_time: datetime | None = None
    energy_need: Decimal | None = None  # kWh
    discharge_allowed: bool = False
