"""Signed meter data: real OCMF signatures (tests/cdrs/ocmf.py) verified, refused, and recorded
as findings on a CDR that itself never changes."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import DatabaseError, connection, transaction

from apps.cdrs.models import Cdr, CdrFinding
from apps.cdrs.services import cdr_check_signed_data, cdr_finalize
from apps.cdrs.signed_data import (
    ENERGY_TOLERANCE_KWH,
    SignedValueOutcome,
    signed_data_verify,
)
from apps.core.errors import ImmutableRecordError
from apps.core.models import AuditLogEntry
from tests.cdrs.ocmf import BEGIN_TIME, END_TIME, Meter, reading
from tests.factories import CdrFactory

pytestmark = pytest.mark.django_db

OUTCOME = SignedValueOutcome


def cdr_with(signed_data: Any, **fields: Any) -> Cdr:
    return CdrFactory.create(signed_data=signed_data, **fields)


def outcomes(cdr: Cdr) -> list[SignedValueOutcome]:
    return [v.outcome for v in signed_data_verify(cdr=cdr).values]


@pytest.mark.parametrize(
    ("curve", "public_key", "encoding"),
    [
        (ec.SECP256R1(), "hex", "hex"),
        (ec.SECP384R1(), "base64", "base64"),
        (ec.BrainpoolP256R1(), "hex", "base64"),
    ],
    ids=["secp256r1", "secp384r1-base64", "brainpoolP256r1"],
)
def test_verified_values_prove_the_readings_and_the_energy(
    curve: ec.EllipticCurve, public_key: str, encoding: str
) -> None:
    meter = Meter(curve=curve)
    cdr = cdr_with(meter.session(public_key=public_key, encoding=encoding))

    report = signed_data_verify(cdr=cdr)

    assert report.present
    assert report.encoding_method == "OCMF"
    assert [v.outcome for v in report.values] == [OUTCOME.VERIFIED, OUTCOME.VERIFIED]
    assert [v.nature for v in report.values] == ["Start", "End"]
    start, end = report.values
    assert start.signature_algorithm == f"ECDSA-{curve.name}-SHA256"
    assert start.meter_serial == "MS-0042"
    assert start.plain_data_matches is True
    assert start.spec_warnings == ()
    [begin_reading] = start.readings
    assert begin_reading.type == "B"
    assert begin_reading.value == Decimal("1000.000")
    assert begin_reading.unit == "kWh"
    assert begin_reading.status == "G"
    assert begin_reading.time.isoformat() == "2026-10-01T10:00:00+02:00"
    assert begin_reading.time_status == "S"
    assert end.readings[0].value == Decimal("1030.000")
    assert report.signed_energy is not None
    assert report.signed_energy.kwh == Decimal("30.000")
    assert report.energy_difference == Decimal(0)
    assert report.energy_matches is True


def test_ocmf_record_base64_encoded_in_signed_data_as_ocpi_says() -> None:
    meter = Meter()
    data = meter.session()
    for value in data["signed_values"]:
        value["signed_data"] = base64.b64encode(value["signed_data"].encode()).decode()
        value["plain_data"] = ""
    assert outcomes(cdr_with(data)) == [OUTCOME.VERIFIED, OUTCOME.VERIFIED]


def test_tampered_payload_is_refused_and_proves_no_energy() -> None:
    meter = Meter()
    data = meter.session()
    end = data["signed_values"][1]
    # 25 kWh more than the meter measured, signature left as it was.
    end["signed_data"] = end["signed_data"].replace('"RV":1030.000', '"RV":1055.000')
    assert '"RV":1055.000' in end["signed_data"]
    cdr = cdr_with(data)

    report = signed_data_verify(cdr=cdr)

    assert [v.outcome for v in report.values] == [OUTCOME.VERIFIED, OUTCOME.INVALID_SIGNATURE]
    assert "altered" in report.values[1].message
    assert report.values[1].readings[0].value == Decimal("1055.000")  # claimed, shown
    assert report.values[1].plain_data_matches is False  # plain_data still has the truth
    assert report.signed_energy is None


def test_signature_of_another_key_is_refused() -> None:
    data = Meter().session()
    data["public_key"] = Meter().public_key_hex()  # same curve, another meter
    assert outcomes(cdr_with(data)) == [OUTCOME.INVALID_SIGNATURE] * 2


def test_key_on_another_curve_is_refused() -> None:
    data = Meter().session()
    data["public_key"] = Meter(curve=ec.SECP384R1()).public_key_hex()
    report = signed_data_verify(cdr=cdr_with(data))
    assert [v.outcome for v in report.values] == [OUTCOME.INVALID_SIGNATURE] * 2
    assert "secp384r1" in report.values[0].message


def test_without_public_key_the_readings_are_shown_but_not_proven() -> None:
    cdr = cdr_with(Meter().session(public_key=None))
    report = signed_data_verify(cdr=cdr)
    assert not report.has_public_key
    assert [v.outcome for v in report.values] == [OUTCOME.NO_PUBLIC_KEY] * 2
    assert report.values[0].readings[0].value == Decimal("1000.000")
    assert report.signed_energy is None
    assert report.energy_matches is None


def test_public_key_in_pem_armour_is_read() -> None:
    meter = Meter()
    data = meter.session(public_key=None)
    body = meter.public_key_base64()
    data["public_key"] = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"
    assert outcomes(cdr_with(data)) == [OUTCOME.VERIFIED] * 2


def test_other_encodings_are_unsupported() -> None:
    data = Meter().session()
    data["encoding_method"] = "Alfen Eichrecht"
    report = signed_data_verify(cdr=cdr_with(data))
    assert [v.outcome for v in report.values] == [OUTCOME.UNSUPPORTED_ENCODING] * 2
    assert "Alfen Eichrecht" in report.values[0].message
    # The encoding method is a case-insensitive string.
    data["encoding_method"] = "ocmf"
    assert outcomes(cdr_with(data)) == [OUTCOME.VERIFIED] * 2


def test_signature_algorithm_ocmf_does_not_define_is_unsupported() -> None:
    meter = Meter()
    record = meter.record(
        [reading("B", "1000.000", time=BEGIN_TIME)], algorithm="ECDSA-secp256r1-SHA3"
    )
    data = {
        "encoding_method": "OCMF",
        "public_key": meter.public_key_hex(),
        "signed_values": [{"nature": "Start", "plain_data": "", "signed_data": record}],
    }
    [value] = signed_data_verify(cdr=cdr_with(data)).values
    assert value.outcome == OUTCOME.UNSUPPORTED_ENCODING
    assert value.spec_warnings  # pyocmf's report of the unknown SA is kept


def test_unreadable_records_and_documents_are_malformed() -> None:
    meter = Meter()
    good = meter.session()["signed_values"][0]["signed_data"]
    data = {
        "encoding_method": "OCMF",
        "public_key": meter.public_key_hex(),
        "signed_values": [
            {"nature": "Start", "plain_data": "", "signed_data": "not an OCMF record"},
            {"nature": "End", "plain_data": "", "signed_data": "OCMF|{not json|{}"},
            {"nature": "End", "plain_data": "", "signed_data": good.replace('"SD":"', '"SD":"zz')},
            "not an object",
        ],
    }
    report = signed_data_verify(cdr=cdr_with(data))
    assert [v.outcome for v in report.values] == [OUTCOME.MALFORMED] * 4

    data = meter.session()
    data["public_key"] = "bm90IGEga2V5"  # Base64, but not a key
    report = signed_data_verify(cdr=cdr_with(data))
    assert [v.outcome for v in report.values] == [OUTCOME.MALFORMED] * 2
    assert "public key" in report.values[0].message

    for document in (["a list"], {"encoding_method": "OCMF", "signed_values": []}):
        report = signed_data_verify(cdr=cdr_with(document))
        assert report.problem
        assert report.values == ()

    assert not signed_data_verify(cdr=cdr_with(None)).present


def test_energy_mismatch_and_tolerance() -> None:
    data = Meter().session()
    within = signed_data_verify(
        cdr=cdr_with(data, total_energy=Decimal("30") - ENERGY_TOLERANCE_KWH)
    )
    assert within.energy_matches is True
    beyond = signed_data_verify(cdr=cdr_with(data, total_energy=Decimal("29.9985")))
    assert beyond.energy_matches is False
    assert beyond.energy_difference == Decimal("0.0015")


def test_one_record_with_both_readings_in_wh_prefers_the_loss_compensated_register() -> None:
    meter = Meter()
    readings = [
        reading("B", "5000000", time=BEGIN_TIME, register="01-00:B2.08.00", unit="Wh"),
        reading("B", "0", time=BEGIN_TIME, register="01-00:B3.08.00", unit="Wh"),
        reading("E", "5030500", time=END_TIME, register="01-00:B2.08.00", unit="Wh"),
        reading("E", "30000", time=END_TIME, register="01-00:B3.08.00", unit="Wh"),
    ]
    data = {
        "encoding_method": "OCMF",
        "public_key": meter.public_key_hex(),
        "signed_values": [
            {"nature": "End", "plain_data": "", "signed_data": meter.record(readings)}
        ],
    }
    report = signed_data_verify(cdr=cdr_with(data))
    assert [v.outcome for v in report.values] == [OUTCOME.VERIFIED]
    assert report.signed_energy is not None
    # B3 (energy at the car, cable losses compensated) counts, not B2 (at the meter).
    assert report.signed_energy.begin.register == "01-00:B3.08.00"
    assert report.signed_energy.kwh == Decimal("30")
    assert report.energy_matches is True


# -- findings ------------------------------------------------------------------------------------
def _row(cdr: Cdr) -> dict[str, object]:
    return dict(Cdr.objects.filter(pk=cdr.pk).values().get())


def _codes(findings: list[CdrFinding]) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in findings]


def test_findings_are_recorded_and_the_final_cdr_stays_untouched() -> None:
    cdr = cdr_finalize(cdr=cdr_with(Meter().session(end="1031.250")))  # 31.25 kWh signed
    before = _row(cdr)

    findings = cdr_check_signed_data(cdr=cdr, actor="ops")

    assert _codes(findings) == [
        ("SIGNED_VALUE_VERIFIED", "INFO"),
        ("SIGNED_VALUE_VERIFIED", "INFO"),
        ("SIGNED_ENERGY_MISMATCH", "ERROR"),
    ]
    mismatch = findings[-1]
    assert "31.25 kWh differs from total_energy 30 kWh by 1.25 kWh" in mismatch.message
    assert mismatch.details["difference_kwh"] == "1.25"
    assert mismatch.details["begin"]["value"] == "1000.000"
    assert mismatch.source == CdrFinding.Source.SIGNED_DATA
    assert len({f.created_at for f in findings}) == 1  # one check, one moment
    assert _row(cdr) == before
    assert list(cdr.findings.order_by("pk")) == findings
    entry = AuditLogEntry.objects.get(action="cdr.signed_data_checked")
    assert entry.actor_label == "ops"
    assert entry.object_id == str(cdr.pk)

    # A second check appends; nothing recorded before changes.
    again = cdr_check_signed_data(cdr=cdr)
    assert cdr.findings.count() == 6
    assert {f.pk for f in again}.isdisjoint({f.pk for f in findings})
    assert _row(cdr) == before


def test_outcomes_become_findings_of_matching_severity() -> None:
    data = Meter().session(public_key=None)
    assert _codes(cdr_check_signed_data(cdr=cdr_with(data))) == [
        ("SIGNED_VALUE_NO_PUBLIC_KEY", "WARNING"),
        ("SIGNED_VALUE_NO_PUBLIC_KEY", "WARNING"),
    ]
    data = Meter().session()
    data["signed_values"][0]["plain_data"] = data["signed_values"][1]["plain_data"]
    assert _codes(cdr_check_signed_data(cdr=cdr_with(data))) == [
        ("SIGNED_VALUE_VERIFIED", "INFO"),
        ("SIGNED_PLAIN_DATA_MISMATCH", "WARNING"),
        ("SIGNED_VALUE_VERIFIED", "INFO"),
        ("SIGNED_ENERGY_MATCHES", "INFO"),
    ]
    data = Meter().session()
    data["encoding_method"] = "EDL40 E-Mobility Extension"
    assert _codes(cdr_check_signed_data(cdr=cdr_with(data))) == [
        ("SIGNED_VALUE_UNSUPPORTED_ENCODING", "WARNING"),
        ("SIGNED_VALUE_UNSUPPORTED_ENCODING", "WARNING"),
    ]
    data = Meter().session()
    data["public_key"] = Meter().public_key_hex()
    assert _codes(cdr_check_signed_data(cdr=cdr_with(data))) == [
        ("SIGNED_VALUE_INVALID_SIGNATURE", "ERROR"),
        ("SIGNED_VALUE_INVALID_SIGNATURE", "ERROR"),
    ]
    assert _codes(cdr_check_signed_data(cdr=cdr_with(None))) == [("SIGNED_DATA_ABSENT", "INFO")]
    assert _codes(cdr_check_signed_data(cdr=cdr_with({"signed_values": "x"}))) == [
        ("SIGNED_DATA_MALFORMED", "ERROR")
    ]


def test_findings_are_append_only() -> None:
    [finding] = cdr_check_signed_data(cdr=cdr_with(None))
    finding.message = "edited"
    with pytest.raises(ImmutableRecordError):
        finding.save()
    with pytest.raises(ImmutableRecordError):
        finding.delete()
    with pytest.raises(ImmutableRecordError):
        CdrFinding.objects.filter(pk=finding.pk).update(message="edited")
    table = CdrFinding._meta.db_table
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET message = %s WHERE id = %s", ["x", finding.pk])  # noqa: S608
    if connection.vendor == "postgresql":  # SQLite's triggers guard UPDATE only (flush)
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [finding.pk])  # noqa: S608
    assert CdrFinding.objects.get(pk=finding.pk).message != "edited"
