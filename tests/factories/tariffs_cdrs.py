"""Factories for our own tariffs (with a published version) and our own final CDRs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from apps.cdrs.models import Cdr, CdrChargingDimension, CdrChargingPeriod
from apps.cdrs.services import cdr_finalize
from apps.partners.enums import PublishScope
from apps.partners.models import Partner, Party
from apps.tariffs.models import Tariff
from apps.tariffs.services import TariffContent, tariff_publish_version
from tests.factories import T0, CdrFactory, TariffFactory


def energy_content(price: str = "0.25", *, updated: datetime = T0) -> TariffContent:
    """One ENERGY price component with 19 % VAT, in EUR."""
    return TariffContent(
        currency="EUR",
        last_updated=updated,
        elements=[
            {
                "price_components": [
                    {"type": "ENERGY", "price": Decimal(price), "vat": Decimal(19), "step_size": 1}
                ]
            }
        ],
    )


def published_tariff(
    party: Party,
    *,
    tariff_id: str | None = None,
    content: TariffContent | None = None,
    scope: str = PublishScope.ALL,
    partners: list[Partner] | None = None,
) -> Tariff:
    """One of our tariffs with one published version, shared per ``scope``."""
    content = content or energy_content()
    kwargs: dict[str, Any] = {"party": party, "publish_scope": scope}
    if tariff_id is not None:
        kwargs["tariff_id"] = tariff_id
    tariff = TariffFactory.create(last_updated=content.last_updated, **kwargs)
    if partners:
        tariff.publish_partners.set(partners)
    tariff_publish_version(tariff=tariff, content=content)
    tariff.refresh_from_db()
    return tariff


def final_cdr(
    party: Party,
    *,
    token_party: Party | None = None,
    last_updated: datetime = T0,
    **kwargs: Any,
) -> Cdr:
    """One of our generated CDRs, final, with one 1.5 h period of 30 kWh, for a driver of
    ``token_party`` (default DE*XYZ)."""
    if token_party is not None:
        kwargs["token_country_code"] = token_party.country_code
        kwargs["token_party_id"] = token_party.party_id
    cdr = CdrFactory.create(party=party, last_updated=last_updated, **kwargs)
    period = CdrChargingPeriod.objects.create(
        cdr=cdr, sequence=1, start_date_time=cdr.start_date_time
    )
    CdrChargingDimension.objects.create(period=period, type="ENERGY", volume=Decimal(30))
    CdrChargingDimension.objects.create(period=period, type="TIME", volume=Decimal("1.5"))
    return cdr_finalize(cdr=cdr)
