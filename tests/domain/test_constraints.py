"""Natural keys are unique (case-insensitively, as OCPI CiStrings compare)."""

from __future__ import annotations

from typing import Any

import factory
import pytest
from django.db import IntegrityError, transaction

from apps.partners.models import Party
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.services import TariffContent, tariff_version_record
from tests.factories import (
    T0,
    CdrFactory,
    ConnectorFactory,
    EvseFactory,
    LocationFactory,
    PartyFactory,
    SessionFactory,
    TariffFactory,
    TokenFactory,
)

pytestmark = pytest.mark.django_db


def rejected(maker: type[factory.django.DjangoModelFactory[Any]], **kwargs: object) -> bool:
    """True when creating the object violates a database constraint."""
    try:
        with transaction.atomic():
            maker.create(**kwargs)
    except IntegrityError:
        return True
    return False


def test_party_country_and_party_id_unique_ignoring_case() -> None:
    PartyFactory.create(country_code="BE", party_id="ABC")
    assert rejected(PartyFactory, country_code="be", party_id="abc")
    assert not rejected(PartyFactory, country_code="BE", party_id="ABD")
    assert Party.objects.get(country_code="BE", party_id="ABC").party_id == "ABC"


def test_location_id_unique_per_party() -> None:
    loc = LocationFactory.create(location_id="LOC-1")
    assert rejected(LocationFactory, party=loc.party, location_id="loc-1")
    assert not rejected(LocationFactory, location_id="LOC-1")  # another party: fine


def test_evse_uid_and_connector_id_unique_within_parent() -> None:
    evse = EvseFactory.create(uid="E1")
    assert rejected(EvseFactory, location=evse.location, uid="e1")
    connector = ConnectorFactory.create(evse=evse, connector_id="1")
    assert rejected(ConnectorFactory, evse=connector.evse, connector_id="1")
    assert not rejected(ConnectorFactory, evse=connector.evse, connector_id="2")


def test_token_uid_and_type_unique_per_party() -> None:
    token = TokenFactory.create(uid="AABBCC", type="RFID")
    assert rejected(TokenFactory, party=token.party, uid="aabbcc", type="RFID")
    assert not rejected(TokenFactory, party=token.party, uid="AABBCC", type="APP_USER")
    assert not rejected(TokenFactory, uid="AABBCC", type="RFID")  # another eMSP


def test_tariff_session_and_cdr_ids_unique_per_party() -> None:
    tariff = TariffFactory.create(tariff_id="T1")
    assert rejected(TariffFactory, party=tariff.party, tariff_id="t1")
    session = SessionFactory.create(session_id="S-1")
    assert rejected(SessionFactory, party=session.party, session_id="s-1")
    cdr = CdrFactory.create(cdr_id="CDR-1")
    assert rejected(CdrFactory, party=cdr.party, cdr_id="cdr-1")
    assert rejected(CdrFactory, idempotency_key=cdr.idempotency_key)
    assert rejected(CdrFactory, billing_reference=cdr.billing_reference)


def test_credit_cdr_needs_a_reference_and_end_follows_start() -> None:
    assert rejected(CdrFactory, credit=True, credit_reference_id="")
    assert not rejected(CdrFactory, credit=True, credit_reference_id="CDR-0")
    assert rejected(CdrFactory, end_date_time=T0.replace(hour=7))


def test_tariff_version_number_unique_per_tariff() -> None:
    tariff = TariffFactory.create()
    content = TariffContent(
        currency="EUR",
        elements=[{"price_components": [{"type": "FLAT", "price": "1.00", "step_size": 1}]}],
        last_updated=T0,
    )
    version, _ = tariff_version_record(
        tariff=tariff, content=content, origin=VersionOrigin.PUBLISHED
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        type(version).objects.create(
            tariff=tariff,
            number=version.number,
            currency="EUR",
            last_updated=T0,
            origin=VersionOrigin.PUBLISHED,
            content_hash="x",
        )
