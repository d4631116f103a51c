"""factory-boy factories for the canonical models (tests only)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from apps.cdrs.enums import CdrOrigin
from apps.cdrs.models import Cdr
from apps.charging_sessions.models import ChargingSession
from apps.locations.models import Connector, Evse, Location
from apps.partners.models import Partner, PartnerConnection, Party
from apps.tariffs.models import Tariff
from apps.tokens.models import Token

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


class PartnerFactory(factory.django.DjangoModelFactory[Partner]):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")


class PartyFactory(factory.django.DjangoModelFactory[Party]):
    class Meta:
        model = Party

    partner = factory.SubFactory(PartnerFactory)
    country_code = "DE"
    party_id = factory.Sequence(lambda n: f"{n:03d}"[-3:])
    roles = factory.LazyFunction(lambda: ["CPO"])
    name = factory.Sequence(lambda n: f"Party {n}")


class ConnectionFactory(factory.django.DjangoModelFactory[PartnerConnection]):
    class Meta:
        model = PartnerConnection

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"conn-{n}")
    versions_url = "https://partner.example/ocpi/versions"


class LocationFactory(factory.django.DjangoModelFactory[Location]):
    class Meta:
        model = Location

    party = factory.SubFactory(PartyFactory)
    location_id = factory.Sequence(lambda n: f"LOC{n}")
    address = "Stationsplein 1"
    city = "Utrecht"
    country = "NLD"
    latitude = Decimal("52.0894440")
    longitude = Decimal("5.1100000")
    time_zone = "Europe/Amsterdam"
    last_updated = T0


class EvseFactory(factory.django.DjangoModelFactory[Evse]):
    class Meta:
        model = Evse

    location = factory.SubFactory(LocationFactory)
    uid = factory.Sequence(lambda n: f"EVSE{n}")
    evse_id = factory.Sequence(lambda n: f"NL*RDK*E{n}")
    status = "AVAILABLE"
    last_updated = T0


class ConnectorFactory(factory.django.DjangoModelFactory[Connector]):
    class Meta:
        model = Connector

    evse = factory.SubFactory(EvseFactory)
    connector_id = "1"
    standard = "IEC_62196_T2"
    format = "SOCKET"
    power_type = "AC_3_PHASE"
    max_voltage = 230
    max_amperage = 32
    last_updated = T0


class TariffFactory(factory.django.DjangoModelFactory[Tariff]):
    class Meta:
        model = Tariff

    party = factory.SubFactory(PartyFactory)
    tariff_id = factory.Sequence(lambda n: f"TARIFF{n}")
    currency = "EUR"
    last_updated = T0


class TokenFactory(factory.django.DjangoModelFactory[Token]):
    class Meta:
        model = Token

    party = factory.SubFactory(PartyFactory, roles=["EMSP"])
    uid = factory.Sequence(lambda n: f"{n:08X}")
    type = "RFID"
    contract_id = factory.Sequence(lambda n: f"DE-XYZ-C{n:08d}")
    issuer = "Demo issuer"
    whitelist = "ALLOWED"
    last_updated = T0


class SessionFactory(factory.django.DjangoModelFactory[ChargingSession]):
    class Meta:
        model = ChargingSession

    party = factory.SubFactory(PartyFactory)
    session_id = factory.Sequence(lambda n: f"S{n}")
    start_date_time = T0
    kwh = Decimal("0")
    token_country_code = "DE"
    token_party_id = "XYZ"
    token_uid = "0102030405"
    token_type = "RFID"
    token_contract_id = "DE-XYZ-C00000001"
    auth_method = "WHITELIST"
    location_ref = "LOC1"
    evse_ref = "EVSE1"
    connector_ref = "1"
    currency = "EUR"
    status = "ACTIVE"
    last_updated = T0


class CdrFactory(factory.django.DjangoModelFactory[Cdr]):
    """A draft CDR; finalize it with apps.cdrs.services.cdr_finalize."""

    class Meta:
        model = Cdr

    party = factory.SubFactory(PartyFactory)
    cdr_id = factory.Sequence(lambda n: f"CDR{n}")
    start_date_time = T0
    end_date_time = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    token_country_code = "DE"
    token_party_id = "XYZ"
    token_uid = "0102030405"
    token_type = "RFID"
    token_contract_id = "DE-XYZ-C00000001"
    auth_method = "WHITELIST"
    location_ref = "LOC1"
    location_address = "Stationsplein 1"
    location_city = "Utrecht"
    location_country = "NLD"
    location_latitude = Decimal("52.0894440")
    location_longitude = Decimal("5.1100000")
    evse_uid = "EVSE1"
    evse_id = "NL*RDK*E1"
    connector_ref = "1"
    connector_standard = "IEC_62196_T2"
    connector_format = "SOCKET"
    connector_power_type = "AC_3_PHASE"
    currency = "EUR"
    total_cost_excl_vat = Decimal("10.5000")
    total_cost_incl_vat = Decimal("12.7050")
    total_energy = Decimal("30.000")
    total_time = Decimal("1.5")
    last_updated = T0
    origin = CdrOrigin.GENERATED
    session_key = factory.LazyAttribute(lambda o: f"DE*XYZ*{o.cdr_id}")
    idempotency_key = factory.Sequence(lambda n: f"idem-{n}")
    billing_reference = factory.Sequence(lambda n: f"TEST-{n:06d}")
