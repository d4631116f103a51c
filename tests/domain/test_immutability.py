"""A final CDR, a tariff version and the audit log cannot be changed: not by the ORM and not
by SQL sent past it (a database trigger refuses it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from apps.cdrs.enums import CdrOrigin, CdrStatus, CostComponent
from apps.cdrs.models import Cdr, CdrChargingDimension, CdrChargingPeriod, CdrCostLine
from apps.cdrs.services import cdr_cost_mismatches, cdr_finalize, cdr_issue_credit
from apps.core.errors import DomainError, ImmutableRecordError
from apps.core.models import AuditLogEntry
from apps.core.services import audit_log_record
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.models import TariffVersion
from apps.tariffs.services import TariffContent, tariff_version_in_effect, tariff_version_record
from tests.factories import T0, CdrFactory, PartyFactory, TariffFactory

pytestmark = pytest.mark.django_db


def raw_sql_refused(sql: str, params: list[Any]) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return True
    return False


def final_cdr() -> Cdr:
    """A final CDR of one of our own parties (only the issuing party credits a CDR)."""
    cdr = CdrFactory.create(
        party=PartyFactory.create(partner=None),
        total_cost_excl_vat=Decimal("3.50"),
        total_cost_incl_vat=Decimal("4.235"),
        total_energy_cost_excl_vat=Decimal("3.50"),
        total_energy_cost_incl_vat=Decimal("4.235"),
    )
    period = CdrChargingPeriod.objects.create(cdr=cdr, sequence=1, start_date_time=T0)
    CdrChargingDimension.objects.create(period=period, type="ENERGY", volume=Decimal("10"))
    CdrCostLine.objects.create(
        cdr=cdr,
        period=period,
        component=CostComponent.ENERGY,
        dimension="ENERGY",
        volume=Decimal("10"),
        unit_price=Decimal("0.35"),
        vat_rate=Decimal("21"),
        currency="EUR",
        amount_excl_vat=Decimal("3.50"),
        amount_incl_vat=Decimal("4.235"),
    )
    return cdr_finalize(cdr=cdr)


def test_draft_cdr_can_change_final_cannot() -> None:
    cdr = CdrFactory.create()
    cdr.remark = "still a draft"
    cdr.save()
    final = final_cdr()
    assert final.status == CdrStatus.FINAL
    assert final.finalized_at is not None

    reloaded = Cdr.objects.get(pk=final.pk)
    reloaded.remark = "edited"
    with pytest.raises(ImmutableRecordError):
        reloaded.save()
    with pytest.raises(ImmutableRecordError):
        reloaded.delete()
    with pytest.raises(ImmutableRecordError):
        Cdr.objects.filter(pk=final.pk).update(remark="edited")
    with pytest.raises(ImmutableRecordError):
        Cdr.objects.filter(pk=final.pk).delete()
    # Its parts are sealed too.
    with pytest.raises(ImmutableRecordError):
        CdrChargingPeriod.objects.create(cdr=final, sequence=2, start_date_time=T0)
    with pytest.raises(ImmutableRecordError):
        CdrCostLine.objects.filter(cdr=final).update(amount_excl_vat=Decimal("0"))
    with pytest.raises(ImmutableRecordError):
        CdrChargingDimension.objects.filter(period__cdr=final).update(volume=Decimal("0"))
    # Past the ORM, the database itself refuses.
    table = Cdr._meta.db_table
    assert raw_sql_refused(f"UPDATE {table} SET remark = %s WHERE id = %s", ["x", final.pk])  # noqa: S608
    if connection.vendor == "postgresql":  # SQLite's triggers guard UPDATE only (flush)
        assert raw_sql_refused(f"DELETE FROM {table} WHERE id = %s", [final.pk])  # noqa: S608
    assert not raw_sql_refused(f"UPDATE {table} SET remark = %s WHERE id = %s", ["y", cdr.pk])  # noqa: S608
    assert Cdr.objects.get(pk=final.pk).remark == ""


def test_finalize_refuses_totals_that_do_not_add_up() -> None:
    cdr = CdrFactory.create(total_cost_excl_vat=Decimal("9.99"))
    CdrCostLine.objects.create(
        cdr=cdr,
        component=CostComponent.FIXED,
        dimension="FLAT",
        volume=Decimal("1"),
        unit_price=Decimal("1.00"),
        currency="EUR",
        amount_excl_vat=Decimal("1.00"),
        amount_incl_vat=Decimal("1.00"),
    )
    assert cdr_cost_mismatches(cdr=cdr)
    with pytest.raises(DomainError) as excinfo:
        cdr_finalize(cdr=cdr)
    assert excinfo.value.code == "CDR_TOTALS_MISMATCH"
    assert Cdr.objects.get(pk=cdr.pk).status == CdrStatus.DRAFT
    # Read back as stored (10 decimals), the figures are written without the trailing zeros.
    assert "total_cost excl. VAT is 9.99, lines add up to 1;" in excinfo.value.message
    assert "0000" not in excinfo.value.message


def test_credit_cdr_negates_costs_and_leaves_the_original_alone() -> None:
    original = final_cdr()
    credit = cdr_issue_credit(original=original, remark="wrong tariff")
    assert credit.is_final
    assert credit.credit
    assert credit.cdr_id == f"{original.cdr_id}-C"
    assert credit.credit_reference_id == original.cdr_id
    assert credit.credited_cdr_id == original.pk
    assert credit.total_cost_excl_vat == -original.total_cost_excl_vat
    assert credit.total_energy_cost_incl_vat == -Decimal("4.235")
    assert credit.total_energy == original.total_energy  # volumes are not negated
    assert cdr_cost_mismatches(cdr=credit) == []
    assert credit.charging_periods.count() == 1
    assert Cdr.objects.get(pk=original.pk).total_cost_excl_vat == Decimal("3.50")
    with pytest.raises(DomainError):
        cdr_issue_credit(original=original)
    with pytest.raises(DomainError):
        cdr_issue_credit(original=credit)


def test_only_the_issuing_party_credits_a_cdr() -> None:
    received = cdr_finalize(cdr=CdrFactory.create(origin=CdrOrigin.RECEIVED))
    assert not received.party.is_own  # the factories' default party is a partner's
    with pytest.raises(DomainError) as excinfo:
        cdr_issue_credit(original=received, remark="wrong tariff")
    assert excinfo.value.code == "CDR_CREDIT_NOT_OWN"
    assert "open a dispute" in excinfo.value.message
    assert not Cdr.objects.filter(credit=True).exists()
    assert not received.credit_cdrs.exists()


def _content(price: str, when: object = T0) -> TariffContent:
    return TariffContent(
        currency="EUR",
        elements=[
            {"price_components": [{"type": "ENERGY", "price": Decimal(price), "step_size": 1}]}
        ],
        last_updated=when,  # type: ignore[arg-type]
    )


def test_tariff_change_makes_a_new_version_and_versions_never_change() -> None:
    tariff = TariffFactory.create()
    v1, created = tariff_version_record(
        tariff=tariff, content=_content("0.30"), origin=VersionOrigin.PUBLISHED
    )
    assert created
    assert v1.number == 1
    # Same prices re-sent with a later timestamp: not a new version.
    same, created = tariff_version_record(
        tariff=tariff,
        content=replace(_content("0.30"), last_updated=T0 + timedelta(hours=1)),
        origin=VersionOrigin.PUBLISHED,
    )
    assert not created
    assert same.pk == v1.pk
    v2, created = tariff_version_record(
        tariff=tariff,
        content=_content("0.35", T0 + timedelta(days=1)),
        origin=VersionOrigin.PUBLISHED,
    )
    assert created
    assert v2.number == 2
    stored = TariffVersion.objects.get(pk=v2.pk).elements
    assert stored[0]["price_components"][0]["price"] == "0.35"  # exact, as text
    tariff.refresh_from_db()
    assert tariff.last_updated == T0 + timedelta(days=1)
    assert tariff_version_in_effect(tariff=tariff, at=T0 + timedelta(hours=5)) == v1
    assert tariff_version_in_effect(tariff=tariff, at=T0 + timedelta(days=2)) == v2

    v1.alt_url = "https://example.com/changed"
    with pytest.raises(ImmutableRecordError):
        v1.save()
    with pytest.raises(ImmutableRecordError):
        v1.delete()
    with pytest.raises(ImmutableRecordError):
        TariffVersion.objects.filter(pk=v1.pk).update(alt_url="x")
    table = TariffVersion._meta.db_table
    assert raw_sql_refused(f"UPDATE {table} SET alt_url = %s WHERE id = %s", ["x", v1.pk])  # noqa: S608
    if connection.vendor == "postgresql":
        assert raw_sql_refused(f"DELETE FROM {table} WHERE id = %s", [v1.pk])  # noqa: S608


def test_audit_log_is_append_only() -> None:
    entry = audit_log_record(actor="system", action="test.done", before={"a": 1}, after={"a": 2})
    assert entry.actor_label == "system"
    with pytest.raises(ImmutableRecordError):
        entry.save()
    with pytest.raises(ImmutableRecordError):
        AuditLogEntry.objects.all().delete()
    table = AuditLogEntry._meta.db_table
    assert raw_sql_refused(f"UPDATE {table} SET action = %s WHERE id = %s", ["x", entry.pk])  # noqa: S608
