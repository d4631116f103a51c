"""The demo dataset: ``seed_demo()`` creates it, and running it again changes nothing.

What it builds: our two own parties (the default one from settings plus roamdesk Finland), three
partners (an eMSP, a CPO and a hub) with their parties and connections, six tariffs with two
versions each, 50 locations with 150 EVSEs in the Netherlands, the United Kingdom and Finland,
the EVSEs' status history, 500 tokens, 300 charging sessions and a final CDR for every completed
session, one of them credited.

How a second run stays a no-op:

* Everything random comes from one ``random.Random(SEED)`` that draws the whole plan *before*
  the database is looked at, so the plan never depends on what is already stored. All times are
  fixed (the demo's "now" is ``DEMO_NOW``), never ``timezone.now()``.
* Rows are looked up by their natural key (party + id) and only created when missing; existing
  rows are never saved again (that would move ``updated_at``).
* History goes through the services that refuse repeats: ``tariff_version_record`` is only
  called for contents the tariff does not hold yet, ``evse_status_set`` ignores reports older
  than the EVSE's ``last_updated`` or equal to its status, a CDR is created (and finalized) only
  when its id is unknown, and the credit is issued only when the CDR has none.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps as django_apps
from django.conf import settings
from django.db import transaction

from apps.cdrs.enums import CdrOrigin, CdrStatus, CostComponent, ValidationStatus
from apps.cdrs.models import Cdr, CdrChargingDimension, CdrChargingPeriod, CdrCostLine
from apps.cdrs.services import (
    COMPONENT_TOTAL_FIELDS,
    cdr_finalize,
    cdr_idempotency_key,
    cdr_issue_credit,
    cdr_location_snapshot,
    cdr_session_key,
)
from apps.charging_sessions.enums import AuthMethod, DimensionType, SessionStatus
from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
)
from apps.demo.pricing import Charge, Period, describe_restrictions, price_periods
from apps.locations.enums import (
    Capability,
    ConnectorFormat,
    ConnectorStandard,
    EvseStatus,
    Facility,
    ParkingRestriction,
    ParkingType,
    PowerType,
)
from apps.locations.models import Connector, Evse, Location
from apps.locations.services import evse_status_set
from apps.ocpi.versions import STANDARD_PROFILE, VersionNumber
from apps.partners.enums import ConnectionStatus, PublishScope, Role
from apps.partners.models import Partner, PartnerConnection, Party
from apps.partners.services import party_ensure_own_default
from apps.tariffs.enums import TariffDimensionType, TariffType, VersionOrigin
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.services import (
    TariffContent,
    tariff_version_in_effect,
    tariff_version_record,
    tariff_version_snapshot,
)
from apps.tokens.enums import ProfileType, TokenType, WhitelistType
from apps.tokens.models import Token

SEED = 20261121
ACTOR = "seed_demo"
#: Sessions happen in this window; the demo's "now" is its end (ACTIVE sessions run until then).
WINDOW_START = datetime(2026, 9, 1, tzinfo=UTC)
DEMO_NOW = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
PARTIES_CREATED_AT = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)

SESSION_COUNT = 300
PARTNER_CPO_SESSIONS = 60
STATUS_MIX = {
    SessionStatus.COMPLETED: 272,
    SessionStatus.ACTIVE: 15,
    SessionStatus.INVALID: 8,
    SessionStatus.PENDING: 5,
}
EVSE_COUNT = 150
MIN_SESSION_KWH = Decimal(4)
MAX_SESSION_KWH = Decimal(70)

_HOUR = Decimal(3600)
_KWH = Decimal("0.001")
_KW = Decimal("0.1")
_STORED = Decimal("1e-10")  # amount fields keep 10 decimals
_WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
_WEEKEND = ["SATURDAY", "SUNDAY"]

# Party keys used by the plan; the database rows are looked up once the parties exist.
OWN = "own"  # the default own party from settings (NL*RDK)
OWN_FI = "own-fi"
EMSP = "emsp"
CPO = "cpo"
HUB = "hub"


# -- reference data: parties and partners -------------------------------------------------------
@dataclass(frozen=True)
class PartySpec:
    country_code: str
    party_id: str
    name: str
    roles: tuple[Role, ...]
    website: str


@dataclass(frozen=True)
class PartnerSpec:
    key: str
    name: str
    domain: str
    notes: str
    version: VersionNumber
    parties: tuple[PartySpec, ...]
    modules: tuple[tuple[str, str], ...]  # (module identifier, interface role)
    handshake_at: datetime

    @property
    def base_url(self) -> str:
        return f"https://ocpi.{self.domain}.example"


OWN_FI_PARTY = PartySpec(
    "FI", "RDK", "roamdesk Finland", (Role.CPO, Role.EMSP), "https://fi.roamdesk.example"
)
_BOTH = ("SENDER", "RECEIVER")
PARTNERS: tuple[PartnerSpec, ...] = (
    PartnerSpec(
        key=EMSP,
        name="Chargewise Mobility",
        domain="chargewise",
        notes="Demo eMSP: sends us its tokens, receives our locations, tariffs, sessions, CDRs.",
        version=VersionNumber.V2_2_1,
        parties=(
            PartySpec(
                "DE", "CWM", "Chargewise Mobility GmbH", (Role.EMSP,), "https://chargewise.example"
            ),
        ),
        modules=(
            ("credentials", "SENDER"),
            ("locations", "RECEIVER"),
            ("tariffs", "RECEIVER"),
            ("sessions", "RECEIVER"),
            ("cdrs", "RECEIVER"),
            ("tokens", "SENDER"),
            ("commands", "SENDER"),
        ),
        handshake_at=datetime(2026, 8, 18, 9, 30, tzinfo=UTC),
    ),
    PartnerSpec(
        key=CPO,
        name="Voltway Charging",
        domain="voltway",
        notes="Demo CPO in the UK, still on the older protocol version; our drivers charge there.",
        version=VersionNumber.V2_1_1,
        parties=(
            PartySpec("GB", "VLT", "Voltway Charging Ltd", (Role.CPO,), "https://voltway.example"),
        ),
        modules=(
            ("credentials", "SENDER"),
            ("locations", "SENDER"),
            ("tariffs", "SENDER"),
            ("sessions", "SENDER"),
            ("cdrs", "SENDER"),
            ("tokens", "RECEIVER"),
            ("commands", "RECEIVER"),
        ),
        handshake_at=datetime(2026, 8, 19, 14, 5, tzinfo=UTC),
    ),
    PartnerSpec(
        key=HUB,
        name="Nordic Roaming Hub",
        domain="nordhub",
        notes="Demo roaming hub: one connection speaking for several Nordic parties.",
        version=VersionNumber.V2_2_1,
        parties=(
            PartySpec("NO", "NRH", "Nordic Roaming Hub AS", (Role.HUB,), "https://nordhub.example"),
            PartySpec("SE", "EVX", "EVX Laddning AB", (Role.CPO,), "https://evx.example"),
            PartySpec(
                "DK", "PLG", "Plugit Danmark ApS", (Role.CPO, Role.EMSP), "https://plugit.example"
            ),
            PartySpec("NO", "ELB", "Elbil Mobil AS", (Role.EMSP,), "https://elbilmobil.example"),
        ),
        modules=(
            ("credentials", "SENDER"),
            *((m, r) for m in ("locations", "tariffs", "sessions", "cdrs") for r in _BOTH),
            *((m, r) for m in ("tokens", "commands") for r in _BOTH),
            ("hubclientinfo", "SENDER"),
        ),
        handshake_at=datetime(2026, 8, 20, 7, 45, tzinfo=UTC),
    ),
)
_PARTNER_BY_KEY = {spec.key: spec for spec in PARTNERS}


# -- reference data: tariffs ----------------------------------------------------------------------
def _component(kind: str, price: str, vat: str | None, step_size: int = 1) -> dict[str, Any]:
    component: dict[str, Any] = {"type": kind, "price": Decimal(price)}
    if vat is not None:
        component["vat"] = Decimal(vat)
    component["step_size"] = step_size
    return component


def _element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        element["restrictions"] = restrictions
    return element


_E, _T, _P, _F = (
    TariffDimensionType.ENERGY.value,
    TariffDimensionType.TIME.value,
    TariffDimensionType.PARKING_TIME.value,
    TariffDimensionType.FLAT.value,
)
_REGULAR = TariffType.REGULAR.value


def _nl_ac(day: str, night: str, parking: str, updated: datetime) -> TariffContent:
    return TariffContent(
        currency="EUR",
        type=_REGULAR,
        last_updated=updated,
        alt_text=[
            {
                "language": "en",
                "text": "Day and night energy prices. On weekdays from 09:00 to "
                "19:00 a parking fee applies once charging has finished.",
            },
            {
                "language": "nl",
                "text": "Dag- en nachtprijs voor energie. Op werkdagen van 09:00 "
                "tot 19:00 geldt een parkeertarief zodra het laden klaar is.",
            },
        ],
        alt_url="https://roamdesk.example/tariffs/nl-ac-std",
        elements=[
            _element(_component(_E, day, "21.0"), start_time="07:00", end_time="23:00"),
            _element(_component(_E, night, "21.0"), start_time="23:00", end_time="07:00"),
            _element(
                _component(_P, parking, "21.0", 60),
                start_time="09:00",
                end_time="19:00",
                day_of_week=_WEEKDAYS,
            ),
        ],
    )


def _nl_dc(hpc: str, fast: str, updated: datetime) -> TariffContent:
    return TariffContent(
        currency="EUR",
        type=_REGULAR,
        last_updated=updated,
        alt_text=[
            {
                "language": "en",
                "text": "Fast charging. After 45 minutes an occupancy fee "
                "applies per minute, charging or not.",
            },
        ],
        elements=[
            _element(_component(_F, "0.45", "21.0")),
            _element(_component(_E, hpc, "21.0"), min_power=Decimal(100)),
            _element(_component(_E, fast, "21.0")),
            _element(
                _component(_T, "9.00", "21.0", 60),
                _component(_P, "9.00", "21.0", 60),
                min_duration=2700,
            ),
        ],
    )


def _uk_own(weekend: str, standard: str, bulk: str, updated: datetime) -> TariffContent:
    return TariffContent(
        currency="GBP",
        type=_REGULAR,
        last_updated=updated,
        alt_text=[
            {"language": "en", "text": "Cheaper at weekends and beyond 40 kWh in one session."}
        ],
        min_price_excl_vat=Decimal("2.00"),
        min_price_incl_vat=Decimal("2.40"),
        max_price_excl_vat=Decimal("60.00"),
        max_price_incl_vat=Decimal("72.00"),
        elements=[
            _element(_component(_F, "1.00", "20.0")),
            _element(_component(_E, weekend, "20.0"), day_of_week=_WEEKEND),
            _element(_component(_E, standard, "20.0"), max_kwh=Decimal(40)),
            _element(_component(_E, bulk, "20.0"), min_kwh=Decimal(40)),
        ],
    )


def _fi_ac(occupancy: str, energy: str, updated: datetime) -> TariffContent:
    return TariffContent(
        currency="EUR",
        type=_REGULAR,
        last_updated=updated,
        alt_text=[
            {"language": "fi", "text": "Arkipäivisin klo 8-20 latausajasta peritään aikamaksu."},
            {"language": "en", "text": "On weekdays from 08:00 to 20:00 charging time is billed."},
        ],
        elements=[
            _element(
                _component(_T, occupancy, "25.5", 60),
                day_of_week=_WEEKDAYS,
                start_time="08:00",
                end_time="20:00",
            ),
            _element(_component(_E, energy, "25.5")),
        ],
    )


_FI_GREEN_MIX: dict[str, Any] = {
    "is_green_energy": True,
    "energy_sources": [
        {"source": "WIND", "percentage": 55},
        {"source": "WATER", "percentage": 30},
        {"source": "SOLAR", "percentage": 15},
    ],
    "supplier_name": "Tuulivoima Sähkö Oy",
    "energy_product_name": "Tuuli 100",
}


def _fi_dc(low: str, high: str, updated: datetime) -> TariffContent:
    return TariffContent(
        currency="EUR",
        type=_REGULAR,
        last_updated=updated,
        energy_mix=_FI_GREEN_MIX,
        elements=[
            _element(_component(_E, low, "25.5"), max_power=Decimal(60)),
            _element(_component(_E, high, "25.5"), min_power=Decimal(60)),
            _element(_component(_P, "12.00", "25.5", 60)),
        ],
    )


def _partner_cpo(
    offpeak: str, rapid: str, standard: str, parking: str, updated: datetime
) -> TariffContent:
    # Received over the older protocol version: no VAT in the price components, no type.
    return TariffContent(
        currency="GBP",
        last_updated=updated,
        elements=[
            _element(_component(_F, "0.30", None)),
            _element(_component(_E, rapid, None), min_power=Decimal(50)),
            _element(_component(_E, offpeak, None), start_time="00:00", end_time="07:00"),
            _element(_component(_E, standard, None)),
            _element(_component(_P, parking, None, 60), start_time="08:00", end_time="20:00"),
        ],
    )


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class TariffSpec:
    owner: str
    tariff_id: str
    versions: tuple[TariffContent, ...]
    publish_scope: PublishScope = PublishScope.ALL
    publish_to: tuple[str, ...] = ()


TARIFFS: tuple[TariffSpec, ...] = (
    TariffSpec(
        OWN,
        "NL-AC-STD",
        (
            _nl_ac("0.34", "0.27", "2.00", _at(2026, 5, 1, 8, 0)),
            _nl_ac("0.36", "0.29", "2.40", _at(2026, 10, 1, 0, 0)),
        ),
    ),
    TariffSpec(
        OWN,
        "NL-DC-FAST",
        (
            _nl_dc("0.69", "0.59", _at(2026, 5, 1, 8, 0)),
            _nl_dc("0.74", "0.62", _at(2026, 10, 15, 0, 0)),
        ),
    ),
    TariffSpec(
        OWN,
        "UK-STD",
        (
            _uk_own("0.42", "0.52", "0.46", _at(2026, 6, 15, 9, 0)),
            _uk_own("0.44", "0.55", "0.48", _at(2026, 9, 20, 0, 0)),
        ),
        PublishScope.SELECTED,
        (EMSP, HUB),
    ),
    TariffSpec(
        OWN_FI,
        "FI-AC",
        (
            _fi_ac("1.20", "0.29", _at(2026, 4, 20, 7, 0)),
            _fi_ac("1.50", "0.31", _at(2026, 10, 1, 0, 0)),
        ),
    ),
    TariffSpec(
        OWN_FI,
        "FI-DC",
        (
            _fi_dc("0.49", "0.59", _at(2026, 4, 20, 7, 0)),
            _fi_dc("0.52", "0.64", _at(2026, 10, 10, 0, 0)),
        ),
        PublishScope.SELECTED,
        (HUB,),
    ),
    TariffSpec(
        CPO,
        "VLT-STD",
        (
            _partner_cpo("0.35", "0.69", "0.49", "3.00", _at(2026, 3, 10, 12, 0)),
            _partner_cpo("0.38", "0.72", "0.52", "3.60", _at(2026, 9, 25, 0, 0)),
        ),
        PublishScope.NONE,
    ),
)
_TARIFF_BY_ID = {spec.tariff_id: spec for spec in TARIFFS}


def _tariff_for(owner: str, country: str, dc: bool) -> str:
    if owner == CPO:
        return "VLT-STD"
    if country == "GBR":
        return "UK-STD"
    if owner == OWN_FI:
        return "FI-DC" if dc else "FI-AC"
    return "NL-DC-FAST" if dc else "NL-AC-STD"


# -- reference data: sites -----------------------------------------------------------------------
@dataclass(frozen=True)
class City:
    code: str
    name: str
    country: str  # ISO 3166-1 alpha-3
    time_zone: str
    latitude: Decimal
    longitude: Decimal
    streets: tuple[str, ...]
    postal_codes: tuple[str, ...]  # paired with the streets by index

    @property
    def house_number_first(self) -> bool:
        return self.country == "GBR"


CITIES: dict[str, City] = {
    c.code: c
    for c in (
        City("AMS", "Amsterdam", "NLD", "Europe/Amsterdam", Decimal("52.3675734"),
             Decimal("4.9041389"),
             ("Prinsengracht", "Overtoom", "Van Baerlestraat", "Gustav Mahlerlaan", "Javastraat",
              "Wibautstraat", "Kinkerstraat", "De Boelelaan", "Buikslotermeerplein"),
             ("1016 GV", "1054 HT", "1071 AN", "1082 MK", "1094 HD", "1091 GH", "1053 EG",
              "1081 HV", "1025 XL")),
        City("RTM", "Rotterdam", "NLD", "Europe/Amsterdam", Decimal("51.9244201"),
             Decimal("4.4777326"),
             ("Coolsingel", "Weena", "Kruiskade", "Blaak", "Wilhelminakade", "Zuidplein",
              "Schiedamseweg"),
             ("3011 AD", "3013 AL", "3012 EH", "3011 TA", "3072 AP", "3083 CW", "3025 AB")),
        City("UTR", "Utrecht", "NLD", "Europe/Amsterdam", Decimal("52.0907374"),
             Decimal("5.1214201"),
             ("Croeselaan", "Biltstraat", "Vredenburg", "Jaarbeursplein",
              "Amsterdamsestraatweg", "Kanaalweg"),
             ("3521 CA", "3572 AN", "3511 BA", "3521 AL", "3551 CA", "3526 KL")),
        City("HAG", "Den Haag", "NLD", "Europe/Amsterdam", Decimal("52.0704978"),
             Decimal("4.3006999"),
             ("Laan van Nieuw Oost-Indië", "Koningin Julianaplein", "Fruitweg",
              "Scheveningseweg", "Zuiderparklaan"),
             ("2593 BM", "2595 AA", "2525 KH", "2584 AA", "2533 CH")),
        City("EHV", "Eindhoven", "NLD", "Europe/Amsterdam", Decimal("51.4416420"),
             Decimal("5.4697225"),
             ("Stationsplein", "Kennedylaan", "High Tech Campus", "Boschdijk",
              "Karel de Grotelaan"),
             ("5611 AB", "5612 AB", "5656 AE", "5622 AA", "5654 NA")),
        City("LON", "London", "GBR", "Europe/London", Decimal("51.5072178"),
             Decimal("-0.1275862"),
             ("Euston Road", "Old Street", "Borough High Street", "Cromwell Road",
              "Canada Square", "Kingsland Road", "Fulham Palace Road", "Stratford Broadway"),
             ("NW1 2RT", "EC1V 9LT", "SE1 1LB", "SW7 4XE", "E14 5AB", "E8 4AA", "W6 9PH",
              "E15 4BQ")),
        City("MAN", "Manchester", "GBR", "Europe/London", Decimal("53.4807593"),
             Decimal("-2.2426305"),
             ("Deansgate", "Oxford Road", "Great Ancoats Street", "Wilmslow Road",
              "Chester Road"),
             ("M3 4LQ", "M1 7ED", "M4 6DE", "M14 5TQ", "M15 4PS")),
        City("BRS", "Bristol", "GBR", "Europe/London", Decimal("51.4545168"),
             Decimal("-2.5879100"),
             ("Temple Gate", "Bond Street", "Whiteladies Road", "Gloucester Road",
              "Cumberland Road"),
             ("BS1 6QA", "BS1 3BE", "BS8 2PH", "BS7 8AE", "BS1 6XN")),
        City("HEL", "Helsinki", "FIN", "Europe/Helsinki", Decimal("60.1698557"),
             Decimal("24.9383790"),
             ("Mannerheimintie", "Hämeentie", "Itämerenkatu", "Tyynenmerenkatu",
              "Mechelininkatu", "Sörnäisten rantatie", "Kalasatamankatu"),
             ("00100", "00530", "00180", "00220", "00250", "00580", "00540")),
        City("ESP", "Espoo", "FIN", "Europe/Helsinki", Decimal("60.2054911"),
             Decimal("24.6559000"),
             ("Tapiontori", "Keilaranta", "Otaniementie", "Leppävaarankatu"),
             ("02100", "02150", "02150", "02600")),
        City("TMP", "Tampere", "FIN", "Europe/Helsinki", Decimal("61.4977524"),
             Decimal("23.7609535"),
             ("Hämeenkatu", "Itsenäisyydenkatu", "Kalevantie", "Ratapihankatu"),
             ("33100", "33100", "33540", "33100")),
    )
}  # fmt: skip

#: (owner, city, number of locations): 39 of ours, 11 of the partner CPO.
LOCATION_GROUPS: tuple[tuple[str, str, int], ...] = (
    (OWN, "AMS", 7),
    (OWN, "RTM", 5),
    (OWN, "UTR", 4),
    (OWN, "HAG", 3),
    (OWN, "EHV", 3),
    (OWN, "LON", 5),
    (OWN_FI, "HEL", 6),
    (OWN_FI, "ESP", 3),
    (OWN_FI, "TMP", 3),
    (CPO, "LON", 4),
    (CPO, "MAN", 4),
    (CPO, "BRS", 3),
)
#: A site still being built: its EVSEs stay PLANNED and see no sessions.
PLANNED_LOCATION = (OWN, "EHV003")


@dataclass(frozen=True)
class ConnectorSpec:
    standard: ConnectorStandard
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int

    @property
    def kw(self) -> Decimal:
        return Decimal(self.max_electric_power) / 1000

    @property
    def dc(self) -> bool:
        return self.power_type == PowerType.DC


_T2_22 = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 32, 22000
)
_T2_11 = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 16, 11000
)
_T2_7 = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_1_PHASE, 230, 32, 7360
)
_SCHUKO = ConnectorSpec(
    ConnectorStandard.DOMESTIC_F, ConnectorFormat.SOCKET, PowerType.AC_1_PHASE, 230, 16, 3680
)
_UK_PLUG = ConnectorSpec(
    ConnectorStandard.DOMESTIC_G, ConnectorFormat.SOCKET, PowerType.AC_1_PHASE, 230, 13, 2990
)
_CCS_50 = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2_COMBO, ConnectorFormat.CABLE, PowerType.DC, 500, 125, 50000
)
_CHADEMO = ConnectorSpec(
    ConnectorStandard.CHADEMO, ConnectorFormat.CABLE, PowerType.DC, 500, 125, 50000
)
_CCS_150 = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2_COMBO, ConnectorFormat.CABLE, PowerType.DC, 920, 200, 150000
)
_CCS_300 = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2_COMBO, ConnectorFormat.CABLE, PowerType.DC, 920, 500, 300000
)
CHARGERS: dict[str, tuple[ConnectorSpec, ...]] = {
    "AC22": (_T2_22,),
    "AC11": (_T2_11,),
    "AC11+F": (_T2_11, _SCHUKO),
    "AC7": (_T2_7,),
    "AC7+G": (_T2_7, _UK_PLUG),
    "DC50": (_CCS_50, _CHADEMO),
    "DC150": (_CCS_150,),
    "DC300": (_CCS_300,),
}
_UK_AC = {"AC22": "AC7", "AC11": "AC7", "AC11+F": "AC7+G"}


@dataclass(frozen=True)
class SiteKind:
    key: str
    label: str
    parking_type: ParkingType
    facilities: tuple[Facility, ...]
    evses: int
    chargers: tuple[str, ...]  # cycled over the EVSEs
    hours: str  # "24/7", "garage" or "shop"
    weight: int  # how busy
    start_hours: tuple[int, ...]  # local hours sessions start at (repeats weigh more)
    ac_kwh: tuple[int, int]
    parking_percent: int
    parking_minutes: tuple[int, int]
    parking_restrictions: tuple[ParkingRestriction, ...] = (ParkingRestriction.EV_ONLY,)


_DAY_HOURS = tuple(range(6, 23))
KINDS: dict[str, SiteKind] = {
    k.key: k
    for k in (
        SiteKind("street", "Street charging", ParkingType.ON_STREET, (), 2, ("AC22",), "24/7",
                 2, (7, 8, 9, 12, 16, 17, 17, 18, 18, 19, 19, 20, 21), (6, 40), 60, (60, 600)),
        SiteKind("car_park", "Car park", ParkingType.PARKING_GARAGE, (Facility.PARKING_LOT,), 4,
                 ("AC11", "AC11+F"), "garage", 3,
                 (7, 8, 8, 9, 10, 11, 13, 14, 15, 17, 18, 19), (6, 30), 50, (20, 300)),
        SiteKind("supermarket", "Supermarket", ParkingType.PARKING_LOT,
                 (Facility.SUPERMARKET, Facility.PARKING_LOT), 3, ("DC50", "AC11", "AC11"),
                 "shop", 4, tuple(range(8, 19)), (6, 20), 10, (5, 30),
                 (ParkingRestriction.EV_ONLY, ParkingRestriction.CUSTOMERS)),
        SiteKind("fast_hub", "Fast charging hub", ParkingType.PARKING_LOT,
                 (Facility.CAFE, Facility.WIFI), 4, ("DC300", "DC300", "DC150", "DC50"), "24/7",
                 6, (0, 5, *_DAY_HOURS, 23), (6, 20), 8, (3, 20)),
        SiteKind("motorway", "Motorway services", ParkingType.ALONG_MOTORWAY,
                 (Facility.RESTAURANT, Facility.FUEL_STATION, Facility.WIFI), 4,
                 ("DC150", "DC150", "DC50"), "24/7", 6, (1, 4, *_DAY_HOURS), (6, 20), 8, (3, 20)),
        SiteKind("hotel", "Hotel", ParkingType.PARKING_LOT, (Facility.HOTEL, Facility.RESTAURANT),
                 2, ("AC11",), "24/7", 2, (15, 16, 17, 18, 19, 20, 21, 22), (10, 60), 80,
                 (240, 660), (ParkingRestriction.EV_ONLY, ParkingRestriction.CUSTOMERS)),
        SiteKind("park_ride", "Park and ride", ParkingType.PARKING_LOT,
                 (Facility.CARPOOL_PARKING, Facility.TRAM_STOP), 4, ("AC22", "AC22", "AC11+F"),
                 "24/7", 2, (6, 7, 7, 8, 8, 9, 10), (8, 45), 80, (180, 540)),
    )
}  # fmt: skip
_KIND_WEIGHTS = {
    "NLD": {"street": 4, "car_park": 2, "supermarket": 2, "hotel": 1, "park_ride": 1,
            "fast_hub": 1, "motorway": 1},
    "GBR": {"street": 3, "car_park": 2, "supermarket": 2, "hotel": 1, "fast_hub": 1,
            "motorway": 1},
    "FIN": {"street": 1, "car_park": 2, "supermarket": 3, "hotel": 1, "fast_hub": 1,
            "motorway": 1},
}  # fmt: skip
#: Every group starts with a site that has DC, so every DC tariff sees sessions.
_FIRST_KINDS = ("fast_hub", "motorway", "supermarket")


def _opening_times(hours: str) -> tuple[dict[str, Any], bool | None]:
    if hours == "garage":
        regular = [
            {"weekday": d, "period_begin": "06:00", "period_end": "23:00"} for d in range(1, 8)
        ]
        return {"twentyfourseven": False, "regular_hours": regular}, True
    if hours == "shop":
        regular = [
            {"weekday": d, "period_begin": "08:00", "period_end": "22:00"} for d in range(1, 7)
        ]
        regular.append({"weekday": 7, "period_begin": "10:00", "period_end": "20:00"})
        return {"twentyfourseven": False, "regular_hours": regular}, False
    return {"twentyfourseven": True}, None


_NL_WIND_MIX: dict[str, Any] = {
    "is_green_energy": True,
    "energy_sources": [{"source": "WIND", "percentage": 70}, {"source": "SOLAR", "percentage": 30}],
    "supplier_name": "Windkracht Energie",
    "energy_product_name": "Hollandse Wind",
}
_UK_GRID_MIX: dict[str, Any] = {
    "is_green_energy": False,
    "energy_sources": [
        {"source": "GAS", "percentage": 34},
        {"source": "WIND", "percentage": 30},
        {"source": "NUCLEAR", "percentage": 14},
        {"source": "GENERAL_GREEN", "percentage": 22},
    ],
    "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 162}],
    "supplier_name": "Albion Power",
}


# -- the plan -------------------------------------------------------------------------------------
@dataclass
class EvsePlan:
    uid: str
    evse_id: str
    physical_reference: str
    floor_level: str
    capabilities: list[str]
    parking_restrictions: list[str]
    connectors: list[tuple[str, ConnectorSpec, str]]  # (connector id, spec, tariff id)
    meter_id: str
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    transitions: list[tuple[datetime, EvseStatus]] = field(default_factory=list)

    def free(self, start: datetime, end: datetime) -> bool:
        return all(end <= b_start or start >= b_end for b_start, b_end in self.busy)


@dataclass
class LocationPlan:
    owner: str
    location_id: str
    city: City
    kind: SiteKind
    name: str
    address: str
    postal_code: str
    latitude: Decimal
    longitude: Decimal
    installed_at: datetime
    planned: bool
    publish_scope: PublishScope
    publish_to: tuple[str, ...]
    visible_to_public: bool
    visible_to_tokens: list[dict[str, str]]
    images: list[dict[str, Any]]
    energy_mix: dict[str, Any] | None
    evses: list[EvsePlan] = field(default_factory=list)

    @property
    def welcomes_partner_drivers(self) -> bool:
        return self.publish_scope == PublishScope.ALL or EMSP in self.publish_to

    @property
    def last_updated(self) -> datetime:
        """The latest change of the location or any of its EVSEs (OCPI propagates it up)."""
        return max([self.installed_at, *(t for e in self.evses for t, _ in e.transitions)])


@dataclass(frozen=True)
class TokenPlan:
    owner: str
    uid: str
    type: TokenType
    contract_id: str
    visual_number: str
    issuer: str
    group_id: str
    valid: bool
    whitelist: WhitelistType
    language: str
    default_profile_type: str
    energy_supplier_name: str
    energy_contract_id: str
    last_updated: datetime


@dataclass(frozen=True)
class PeriodPlan:
    start: datetime
    seconds: int
    energy_kwh: Decimal
    max_power_kw: Decimal | None  # None: a parking period

    @property
    def hours(self) -> Decimal:
        return Decimal(self.seconds) / _HOUR

    @property
    def parking(self) -> bool:
        return self.max_power_kw is None

    def dimensions(self) -> list[tuple[DimensionType, Decimal]]:
        if self.max_power_kw is None:  # parking
            return [(DimensionType.PARKING_TIME, self.hours)]
        return [
            (DimensionType.ENERGY, self.energy_kwh),
            (DimensionType.TIME, self.hours),
            (DimensionType.MAX_POWER, self.max_power_kw),
        ]

    def usage(self) -> Period:
        if self.max_power_kw is None:  # parking
            return Period(start=self.start, parking_h=self.hours)
        return Period(
            start=self.start,
            energy_kwh=self.energy_kwh,
            time_h=self.hours,
            max_power_kw=self.max_power_kw,
        )


@dataclass
class SessionPlan:
    location: LocationPlan
    evse: EvsePlan
    connector_id: str
    connector: ConnectorSpec
    tariff_id: str
    session_id: str
    status: SessionStatus
    token: TokenPlan
    auth_method: AuthMethod
    authorization_reference: str
    start: datetime
    end: datetime | None
    periods: list[PeriodPlan]
    cdr_id: str = ""
    billing_reference: str = ""
    cdr_created_at: datetime | None = None
    remark: str = ""

    @property
    def kwh(self) -> Decimal:
        return sum((p.energy_kwh for p in self.periods), Decimal(0))

    @property
    def last_updated(self) -> datetime:
        return self.end or (DEMO_NOW if self.periods else self.start)


@dataclass
class Plan:
    locations: list[LocationPlan]
    tokens: list[TokenPlan]
    sessions: list[SessionPlan]
    credited_cdr: SessionPlan


# Party codes (country_code, party_id) by plan key, read from the database before planning.
Codes = dict[str, tuple[str, str]]


def _nine(seconds: Decimal | int) -> int:
    """Seconds rounded up to a multiple of 9: such a duration in hours has at most 4 decimals
    (3600 = 9 x 400), so time volumes are exact and stored without rounding."""
    return max(9, math.ceil(math.ceil(seconds) / 9) * 9)


def _offset(rng: random.Random, spread: int) -> Decimal:
    return Decimal(rng.randint(-spread, spread)).scaleb(-7)


def _plan_locations(rng: random.Random, codes: Codes) -> list[LocationPlan]:
    locations: list[LocationPlan] = []
    for group_no, (owner, city_code, count) in enumerate(LOCATION_GROUPS):
        city = CITIES[city_code]
        weights = _KIND_WEIGHTS[city.country]
        for n in range(1, count + 1):
            if n == 1:
                kind = KINDS[_FIRST_KINDS[group_no % len(_FIRST_KINDS)]]
            else:
                kind = KINDS[rng.choices(list(weights), weights=list(weights.values()))[0]]
            street_no = rng.randrange(len(city.streets))
            street, number = city.streets[street_no], rng.randint(1, 240)
            address = f"{number} {street}" if city.house_number_first else f"{street} {number}"
            location_id = f"{city.code}{n:03d}"
            installed = datetime(2026, 2, 1, 6, tzinfo=UTC) + timedelta(
                days=rng.randrange(190), minutes=rng.randrange(600)
            )
            publish_to: tuple[str, ...] = ()
            if owner == CPO:
                scope = PublishScope.NONE
            else:
                roll = rng.randrange(100)
                if roll < 72:
                    scope = PublishScope.ALL
                elif roll < 90:
                    scope = PublishScope.SELECTED
                    publish_to = rng.choice(((EMSP,), (HUB,), (EMSP, HUB)))
                else:
                    scope = PublishScope.NONE
            private = scope == PublishScope.NONE and owner != CPO
            image_host = "voltway.example" if owner == CPO else "roamdesk.example"
            images = (
                [
                    {
                        "url": f"https://img.{image_host}/locations/{location_id}.jpg",
                        "thumbnail": f"https://img.{image_host}/locations/{location_id}-thumb.jpg",
                        "category": "LOCATION",
                        "type": "jpeg",
                        "width": 1024,
                        "height": 768,
                    }
                ]
                if rng.randrange(100) < 35
                else []
            )
            mix = None
            if rng.randrange(100) < 40:
                mix = {"NLD": _NL_WIND_MIX, "GBR": _UK_GRID_MIX, "FIN": _FI_GREEN_MIX}[city.country]
            location = LocationPlan(
                owner=owner,
                location_id=location_id,
                city=city,
                kind=kind,
                name=f"{kind.label} {street}",
                address=address,
                postal_code=city.postal_codes[street_no],
                latitude=city.latitude + _offset(rng, 300_000),
                longitude=city.longitude + _offset(rng, 500_000),
                installed_at=installed,
                planned=(owner, location_id) == PLANNED_LOCATION,
                publish_scope=scope,
                publish_to=publish_to,
                visible_to_public=not private,
                visible_to_tokens=([{"group_id": f"{codes[OWN][1]}-FLEET-01"}] if private else []),
                images=images,
                energy_mix=mix,
            )
            locations.append(location)
    _plan_evses(rng, locations, codes)
    return locations


def _plan_evses(rng: random.Random, locations: list[LocationPlan], codes: Codes) -> None:
    counts = [loc.kind.evses for loc in locations]
    while sum(counts) != EVSE_COUNT:
        i = rng.randrange(len(counts))
        if sum(counts) > EVSE_COUNT and counts[i] > 1:
            counts[i] -= 1
        elif sum(counts) < EVSE_COUNT and counts[i] < 8:
            counts[i] += 1
    for location, count in zip(locations, counts, strict=True):
        country_code, party_id = codes[location.owner]
        garage = location.kind.parking_type == ParkingType.PARKING_GARAGE
        for k in range(1, count + 1):
            charger = location.kind.chargers[(k - 1) % len(location.kind.chargers)]
            if location.city.country == "GBR":
                charger = _UK_AC.get(charger, charger)
            specs = CHARGERS[charger]
            dc = specs[0].dc
            capabilities = [Capability.RFID_READER, Capability.REMOTE_START_STOP_CAPABLE]
            if dc:
                capabilities += [
                    Capability.CONTACTLESS_CARD_SUPPORT,
                    Capability.CREDIT_CARD_PAYABLE,
                    Capability.DEBIT_CARD_PAYABLE,
                ]
                if len(specs) > 1:
                    capabilities.append(Capability.START_SESSION_CONNECTOR_REQUIRED)
            else:
                capabilities.append(Capability.UNLOCK_CAPABLE)
                if location.kind.key == "hotel":
                    capabilities.append(Capability.RESERVABLE)
            if rng.randrange(100) < 50:
                capabilities.append(Capability.CHARGING_PROFILE_CAPABLE)
            tariff_id = _tariff_for(location.owner, location.city.country, dc)
            evse = EvsePlan(
                uid=f"{location.location_id}-E{k}",
                evse_id=f"{country_code}*{party_id}*E{location.location_id}{k:02d}",
                physical_reference=f"{'ABCD'[(k - 1) // 4 % 4]}{k}",
                floor_level=rng.choice(("-1", "-2", "0")) if garage else "",
                capabilities=[str(c) for c in capabilities],
                parking_restrictions=[str(r) for r in location.kind.parking_restrictions],
                connectors=[(str(n), spec, tariff_id) for n, spec in enumerate(specs, start=1)],
                meter_id=f"EM{rng.getrandbits(40):010X}" if dc else "",
            )
            if dc:
                evse.latitude = location.latitude + Decimal(k * 20).scaleb(-7)
                evse.longitude = location.longitude + Decimal(k * 35).scaleb(-7)
            location.evses.append(evse)


_CHECK_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def _plan_tokens(rng: random.Random, codes: Codes) -> list[TokenPlan]:
    tokens: list[TokenPlan] = []
    seen: set[tuple[str, str]] = set()
    contracts: set[str] = set()
    # owner, RFID count, app count, issuer, languages
    batches = (
        (OWN, 355, 65, "roamdesk", ("nl",) * 11 + ("en",) * 5 + ("fi",) * 3 + ("de",)),
        (EMSP, 66, 14, "Chargewise Mobility", ("de",) * 7 + ("en",) * 3),
    )
    for owner, rfid_count, app_count, issuer, languages in batches:
        country_code, party_id = codes[owner]
        rfid_contracts: list[str] = []
        fleet_left = 12 if owner == OWN else 0
        for n in range(rfid_count + app_count):
            rfid = n < rfid_count
            while True:
                if rfid:
                    uid = (
                        f"04{rng.getrandbits(48):012X}"
                        if rng.randrange(100) < 80
                        else f"{rng.getrandbits(32):08X}"
                    )
                else:
                    uid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                if (owner, uid) not in seen:
                    seen.add((owner, uid))
                    break
            shared = not rfid and bool(rfid_contracts) and rng.randrange(100) < 40
            if shared:
                contract_id = rng.choice(rfid_contracts)
            else:
                while True:
                    digits = rng.randint(10_000_000, 99_999_999)
                    check = rng.choice(_CHECK_CHARS)
                    contract_id = f"{country_code}-{party_id}-C{digits}-{check}"
                    if contract_id not in contracts:
                        contracts.add(contract_id)
                        break
                if rfid:
                    rfid_contracts.append(contract_id)
            group_id = ""
            if rfid and fleet_left and rng.randrange(100) < 10:
                group_id, fleet_left = f"{party_id}-FLEET-01", fleet_left - 1
            elif shared:
                group_id = f"G{contract_id.replace('-', '')[5:14]}"
            if rfid:
                whitelist = rng.choices(
                    (
                        WhitelistType.ALLOWED,
                        WhitelistType.ALWAYS,
                        WhitelistType.ALLOWED_OFFLINE,
                        WhitelistType.NEVER,
                    ),
                    weights=(70, 10, 15, 5),
                )[0]
            else:
                whitelist = WhitelistType.NEVER
            supplier, supplier_contract = "", ""
            if owner == OWN and rng.randrange(100) < 8:
                supplier = "Windkracht Energie"
                supplier_contract = f"WKE-{rng.randint(100_000, 999_999)}"
            profile = ""
            if rng.randrange(100) < 15:
                profile = str(rng.choice(list(ProfileType)))
            tokens.append(
                TokenPlan(
                    owner=owner,
                    uid=uid,
                    type=TokenType.RFID if rfid else TokenType.APP_USER,
                    contract_id=contract_id,
                    visual_number=(contract_id if rfid and rng.randrange(100) < 60 else ""),
                    issuer=issuer,
                    group_id=group_id,
                    valid=rng.randrange(100) >= 4,
                    whitelist=whitelist,
                    language=rng.choice(languages),
                    default_profile_type=profile,
                    energy_supplier_name=supplier,
                    energy_contract_id=supplier_contract,
                    last_updated=WINDOW_START
                    - timedelta(days=rng.randint(2, 240), seconds=rng.randrange(86_400)),
                )
            )
    return tokens


Shape = list[tuple[int, Decimal, Decimal | None]]  # (seconds, kWh, max kW) per period


def _session_shape(
    rng: random.Random, kind: SiteKind, connector: ConnectorSpec, *, ongoing: bool
) -> Shape:
    """(seconds, kWh, max kW) per period; max kW None for the closing parking period."""
    if connector.dc:
        car_kw = Decimal(rng.choices((50, 100, 150, 250), weights=(2, 4, 3, 1))[0])
        peak = min(connector.kw, car_kw)
        average = (peak * rng.randint(62, 80) / 100).quantize(_KW)
        energy = Decimal(rng.randint(12, 65))
        parking_percent, parking_minutes = 8, (3, 20)
    else:
        car_kw = Decimal(rng.choices(("3.7", "7.4", "11", "22"), weights=(1, 5, 11, 3))[0])
        peak = min(connector.kw, car_kw)
        average = (peak * rng.randint(88, 97) / 100).quantize(_KW)
        energy = min(Decimal(rng.randint(*kind.ac_kwh)), average * 12)
        parking_percent, parking_minutes = kind.parking_percent, kind.parking_minutes
    if ongoing:
        energy = energy * rng.randint(25, 70) / 100
    parking = not ongoing and rng.randrange(100) < parking_percent
    charging = _nine(energy / average * _HOUR)
    count = rng.randint(1, 3) if parking else rng.randint(2, 4)
    if charging < 1200:
        count = min(count, 2)
    weights = [rng.randint(2, 6) for _ in range(count)]
    units = charging // 9
    parts = [units * w // sum(weights) for w in weights[:-1]]
    parts.append(units - sum(parts))
    shape: Shape = []
    for index, part in enumerate(parts):
        seconds = max(part, 1) * 9
        if connector.dc:
            factor = Decimal("1.15") - Decimal("0.2") * index
        elif index == count - 1 and count > 1:
            factor = Decimal(rng.randint(50, 100)) / 100
        else:
            factor = Decimal(1)
        power = average * factor
        kwh = max((power * seconds / _HOUR).quantize(_KWH), _KWH)
        max_kw = min(peak, (power * rng.randint(103, 110) / 100).quantize(_KW))
        shape.append((seconds, kwh, max_kw))
    if parking:
        low, high = parking_minutes
        shape.append((_nine(rng.randint(low * 60, high * 60)), Decimal(0), None))
    return shape


def _lay_out(start: datetime, shape: Shape) -> list[PeriodPlan]:
    periods: list[PeriodPlan] = []
    at = start
    for seconds, kwh, max_kw in shape:
        periods.append(PeriodPlan(start=at, seconds=seconds, energy_kwh=kwh, max_power_kw=max_kw))
        at += timedelta(seconds=seconds)
    return periods


def _local_start(rng: random.Random, location: LocationPlan) -> datetime:
    day = WINDOW_START.date() + timedelta(days=rng.randrange(61))
    hours = location.kind.start_hours
    if location.kind.hours == "shop" and day.isoweekday() == 7:
        hours = tuple(h for h in hours if 10 <= h <= 17)
    local = datetime(
        day.year,
        day.month,
        day.day,
        rng.choice(hours),
        rng.randrange(60),
        rng.randrange(60),
        tzinfo=ZoneInfo(location.city.time_zone),
    )
    return local.astimezone(UTC)


_BUFFER = timedelta(minutes=10)


def _plan_sessions(
    rng: random.Random, locations: list[LocationPlan], tokens: list[TokenPlan], codes: Codes
) -> list[SessionPlan]:
    statuses = [status for status, count in STATUS_MIX.items() for _ in range(count)]
    rng.shuffle(statuses)
    sides = [CPO] * PARTNER_CPO_SESSIONS + [OWN] * (SESSION_COUNT - PARTNER_CPO_SESSIONS)
    rng.shuffle(sides)
    usable = [loc for loc in locations if not loc.planned]
    by_side = {
        CPO: [loc for loc in usable if loc.owner == CPO],
        OWN: [loc for loc in usable if loc.owner != CPO],
    }
    valid_tokens = {
        owner: [t for t in tokens if t.owner == owner and t.valid] for owner in (OWN, EMSP)
    }
    invalid_tokens = {
        side: [t for t in tokens if not t.valid and (side == OWN or t.owner == OWN)]
        for side in (OWN, CPO)
    }
    session_ids: set[str] = set()
    sessions: list[SessionPlan] = []
    for status, side in zip(statuses, sides, strict=True):
        candidates = by_side[side]
        for _attempt in range(1000):
            location = rng.choices(candidates, weights=[c.kind.weight for c in candidates])[0]
            evse = rng.choice(location.evses)
            connector_id, connector, tariff_id = rng.choice(evse.connectors)
            ongoing = status in (SessionStatus.ACTIVE, SessionStatus.PENDING)
            if status == SessionStatus.PENDING:  # waiting to start: no charging periods yet
                start = DEMO_NOW - timedelta(seconds=rng.randint(60, 900))
                periods: list[PeriodPlan] = []
            else:
                shape = _session_shape(rng, location.kind, connector, ongoing=ongoing)
                if ongoing:
                    start = DEMO_NOW - timedelta(seconds=sum(s for s, _, _ in shape))
                else:
                    start = _local_start(rng, location)
                periods = _lay_out(start, shape)
            end = None if ongoing else periods[-1].start + timedelta(seconds=periods[-1].seconds)
            kwh = sum((p.energy_kwh for p in periods), Decimal(0))
            if end is not None and end > DEMO_NOW - timedelta(minutes=30):
                continue
            if periods and not MIN_SESSION_KWH <= kwh <= MAX_SESSION_KWH and not ongoing:
                continue
            if not evse.free(start - _BUFFER, (end or DEMO_NOW) + _BUFFER):
                continue
            break
        else:
            raise RuntimeError("could not place a demo session; the plan is too dense")
        evse.busy.append((start - _BUFFER, (end or DEMO_NOW) + _BUFFER))

        if status == SessionStatus.INVALID and rng.randrange(100) < 50:
            token = rng.choice(invalid_tokens[side])
        elif side == OWN and location.welcomes_partner_drivers and rng.randrange(100) < 30:
            token = rng.choice(valid_tokens[EMSP])
        else:
            token = rng.choice(valid_tokens[OWN])
        if token.type == TokenType.APP_USER:
            auth = AuthMethod.COMMAND
        elif not token.valid or token.whitelist in (
            WhitelistType.NEVER,
            WhitelistType.ALLOWED_OFFLINE,
        ):
            auth = AuthMethod.AUTH_REQUEST
        elif token.whitelist == WhitelistType.ALWAYS:
            auth = AuthMethod.WHITELIST
        else:
            auth = rng.choice((AuthMethod.WHITELIST, AuthMethod.AUTH_REQUEST))
        reference = f"{rng.getrandbits(80):020X}" if auth != AuthMethod.WHITELIST else ""
        while True:
            if location.owner == CPO:
                session_id = str(rng.randint(1_000_000_000, 9_999_999_999))
            else:
                session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            if session_id not in session_ids:
                session_ids.add(session_id)
                break
        sessions.append(
            SessionPlan(
                location=location,
                evse=evse,
                connector_id=connector_id,
                connector=connector,
                tariff_id=tariff_id,
                session_id=session_id,
                status=status,
                token=token,
                auth_method=auth,
                authorization_reference=reference,
                start=start,
                end=end,
                periods=periods,
            )
        )
    sessions.sort(key=lambda s: (s.start, s.session_id))
    _plan_cdr_ids(rng, sessions, codes)
    return sessions


_REMARKS = (
    "Stopped by the driver with the card",
    "Stopped remotely from the app",
    "EV disconnected",
    "Charging complete: the EV stopped requesting power",
)


def _plan_cdr_ids(rng: random.Random, sessions: list[SessionPlan], codes: Codes) -> None:
    finished = [s for s in sessions if s.status == SessionStatus.COMPLETED]
    finished.sort(key=lambda s: (s.end or DEMO_NOW, s.session_id))
    per_party: dict[str, int] = {}
    for number, session in enumerate(finished, start=1):
        assert session.end is not None
        owner = session.location.owner
        per_party[owner] = per_party.get(owner, 0) + 1
        country_code, party_id = codes[owner]
        session.cdr_id = f"CDR-{country_code}{party_id}-{per_party[owner]:06d}"
        session.billing_reference = f"{codes[OWN][1]}-{session.end.year}-{number:06d}"
        session.cdr_created_at = session.end + timedelta(seconds=rng.randint(60, 900))
        if rng.randrange(100) < 25:
            session.remark = rng.choice(_REMARKS)


def _plan_status_history(rng: random.Random, locations: list[LocationPlan]) -> None:
    """Sessions occupy their EVSE (CHARGING → AVAILABLE); faults and blockages fill some gaps;
    a few EVSEs end out of order and one is removed."""
    evses = [e for loc in locations if not loc.planned for e in loc.evses]
    for evse in evses:
        evse.busy.sort()
    idle_at_end = [e for e in evses if not e.busy or e.busy[-1][1] < DEMO_NOW - timedelta(days=2)]
    final = rng.sample(idle_at_end, 4)
    for n, evse in enumerate(final):
        after = evse.busy[-1][1] if evse.busy else WINDOW_START
        span = int((DEMO_NOW - timedelta(hours=2) - after).total_seconds())
        at = after + timedelta(seconds=rng.randrange(3600, max(span, 3601)))
        status = EvseStatus.REMOVED if n == 0 else EvseStatus.OUTOFORDER
        evse.transitions.append((at, status))
        evse.busy.append((at - _BUFFER, DEMO_NOW))
    durations = {
        EvseStatus.OUTOFORDER: (4 * 3600, 72 * 3600),
        EvseStatus.INOPERATIVE: (3600, 12 * 3600),
        EvseStatus.BLOCKED: (20 * 60, 3 * 3600),
    }
    for evse in rng.sample(evses, 40):
        for _ in range(rng.randint(1, 2)):
            status = rng.choices(list(durations), weights=(5, 3, 2))[0]
            length = timedelta(seconds=rng.randint(*durations[status]))
            edges = [WINDOW_START, *(t for b in sorted(evse.busy) for t in b), DEMO_NOW]
            gaps = [
                (edges[i], edges[i + 1])
                for i in range(0, len(edges) - 1, 2)
                if edges[i + 1] - edges[i] > length + 2 * _BUFFER
            ]
            if not gaps:
                continue
            gap_start, gap_end = rng.choice(gaps)
            room = int((gap_end - gap_start - length - 2 * _BUFFER).total_seconds())
            at = gap_start + _BUFFER + timedelta(seconds=rng.randrange(room))
            evse.transitions += [(at, status), (at + length, EvseStatus.AVAILABLE)]
            evse.busy.append((at - _BUFFER, at + length + _BUFFER))
    for evse in evses:
        evse.transitions.sort()
        previous_at, previous = WINDOW_START, EvseStatus.AVAILABLE
        for at, status in evse.transitions:
            if at <= previous_at or status == previous:
                raise RuntimeError(f"demo status history of {evse.uid} is inconsistent")
            previous_at, previous = at, status


def _session_transitions(sessions: Iterable[SessionPlan]) -> None:
    for session in sessions:
        if session.status == SessionStatus.PENDING:
            continue
        session.evse.transitions.append((session.start, EvseStatus.CHARGING))
        if session.end is not None:
            session.evse.transitions.append((session.end, EvseStatus.AVAILABLE))


def build_plan(codes: Codes) -> Plan:
    """The whole demo dataset as plain objects, drawn from one seeded random generator.

    It depends only on ``codes`` (the parties' country codes and ids), never on stored rows.
    """
    rng = random.Random(SEED)
    locations = _plan_locations(rng, codes)
    tokens = _plan_tokens(rng, codes)
    sessions = _plan_sessions(rng, locations, tokens, codes)
    _session_transitions(sessions)
    _plan_status_history(rng, locations)
    disputed = [
        s
        for s in sessions
        if s.cdr_id and s.location.owner == OWN and s.token.owner == EMSP and s.start.month == 10
    ]
    disputed = disputed or [s for s in sessions if s.cdr_id]
    return Plan(locations, tokens, sessions, credited_cdr=disputed[len(disputed) // 2])


# -- writing it -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelCount:
    label: str
    total: int
    created: int


DOMAIN_APPS = ("core", "partners", "locations", "tariffs", "tokens", "charging_sessions", "cdrs")


def demo_model_counts() -> dict[str, int]:
    """Row counts of every model (and many-to-many table) of the domain apps."""
    counts: dict[str, int] = {}
    for label in DOMAIN_APPS:
        for model in django_apps.get_app_config(label).get_models(include_auto_created=True):
            counts[model._meta.label] = model._default_manager.count()
    return counts


def seed_demo() -> list[ModelCount]:
    """Create whatever part of the demo dataset is missing; returns the counts per model."""
    before = demo_model_counts()
    with transaction.atomic():
        parties, connections = _ensure_parties_and_partners()
        codes = {key: (party.country_code, party.party_id) for key, party in parties.items()}
        plan = build_plan(codes)
        tariffs = _ensure_tariffs(parties, connections)
        evses = _ensure_locations(plan, parties, connections)
        _ensure_status_history(plan, evses, connections)
        tokens = _ensure_tokens(plan, parties, connections)
        pricing = _Pricing(tariffs)
        sessions = _ensure_sessions(plan, parties, connections, evses, tokens, pricing)
        _ensure_cdrs(plan, parties, connections, sessions, pricing)
        _ensure_credit(plan, parties)
    after = demo_model_counts()
    return [
        ModelCount(label, total, total - before.get(label, 0)) for label, total in after.items()
    ]


def _demo_secret(*parts: str) -> str:
    """A stable stand-in for a credentials token (demo connections never reach anyone)."""
    return hashlib.sha256(":".join(("roamdesk-demo", *parts)).encode()).hexdigest()[:43]


def _ensure_party(spec: PartySpec, partner: Partner | None) -> Party:
    party, _ = Party.objects.get_or_create(
        country_code=spec.country_code,
        party_id=spec.party_id,
        defaults={
            "partner": partner,
            "roles": [str(r) for r in spec.roles],
            "name": spec.name,
            "website": spec.website,
            "created_at": PARTIES_CREATED_AT,
        },
    )
    return party


def _ensure_parties_and_partners() -> tuple[dict[str, Party], dict[str, PartnerConnection]]:
    party_ensure_own_default()
    own = Party.objects.own().filter(
        country_code=settings.OCPI_COUNTRY_CODE, party_id=settings.OCPI_PARTY_ID
    )
    default = own.first()
    if default is None:
        raise RuntimeError(
            f"the own party {settings.OCPI_COUNTRY_CODE}*{settings.OCPI_PARTY_ID} from settings "
            "does not exist, but another own party does; the demo builds on the configured one"
        )
    parties = {OWN: default, OWN_FI: _ensure_party(OWN_FI_PARTY, None)}
    connections: dict[str, PartnerConnection] = {}
    for spec in PARTNERS:
        partner, _ = Partner.objects.get_or_create(
            name=spec.name,
            defaults={
                "contact_email": f"roaming@{spec.domain}.example",
                "notes": spec.notes,
                "created_at": PARTIES_CREATED_AT,
            },
        )
        represented = [_ensure_party(p, partner) for p in spec.parties]
        parties[spec.key] = represented[0]
        connection = PartnerConnection.objects.filter(partner=partner, name="production").first()
        if connection is None:
            connection = PartnerConnection(
                partner=partner,
                name="production",
                status=ConnectionStatus.CONNECTED,
                # Demo partners are fictional: our pushes to them wait in the outbox backlog.
                outbound_paused=True,
                versions_url=f"{spec.base_url}/versions",
                version=spec.version,
                endpoints=[
                    {
                        "identifier": identifier,
                        "role": role,
                        "url": f"{spec.base_url}/{spec.version}/{role.lower()}/{identifier}",
                    }
                    for identifier, role in spec.modules
                ],
                adapter_profile=STANDARD_PROFILE,
                last_handshake_at=spec.handshake_at,
                created_at=spec.handshake_at - timedelta(days=3),
            )
            connection.set_send_token(_demo_secret(spec.key, "send"))
            connection.set_issued_token(_demo_secret(spec.key, "issued"), registration=False)
            connection.issued_token_created_at = spec.handshake_at
            connection.save()
            connection.represented_parties.set(represented)
        connections[spec.key] = connection
    return parties, connections


def _ensure_tariffs(
    parties: dict[str, Party], connections: dict[str, PartnerConnection]
) -> dict[str, Tariff]:
    partners = {key: c.partner for key, c in connections.items()}
    tariffs: dict[str, Tariff] = {}
    for spec in TARIFFS:
        received = spec.owner in connections
        source = connections[spec.owner] if received else None
        first = spec.versions[0]
        tariff, created = Tariff.objects.get_or_create(
            party=parties[spec.owner],
            tariff_id=spec.tariff_id,
            defaults={
                "currency": first.currency,
                "type": first.type,
                "last_updated": first.last_updated,
                "publish_scope": spec.publish_scope,
                "source_connection": source,
                "created_at": first.last_updated,
            },
        )
        if created and spec.publish_to:
            tariff.publish_partners.set([partners[k] for k in spec.publish_to])
        known = set(tariff.versions.values_list("content_hash", flat=True))
        for content in spec.versions:
            if content.content_hash() in known:
                continue
            tariff_version_record(
                tariff=tariff,
                content=content,
                origin=VersionOrigin.RECEIVED if received else VersionOrigin.PUBLISHED,
                source_connection=source,
                actor=ACTOR,
            )
        tariffs[spec.tariff_id] = tariff
    return tariffs


EvseKey = tuple[str, str, str]  # (owner, location id, EVSE uid)


def _evse_key(location: LocationPlan, evse: EvsePlan) -> EvseKey:
    return (location.owner, location.location_id, evse.uid)


def _ensure_locations(
    plan: Plan, parties: dict[str, Party], connections: dict[str, PartnerConnection]
) -> dict[EvseKey, Evse]:
    partners = {key: c.partner for key, c in connections.items()}
    owners = {party.pk: key for key, party in parties.items()}
    stored = {
        (owners.get(loc.party_id, ""), loc.location_id.lower()): loc
        for loc in Location.objects.filter(party__in=list(parties.values()))
    }
    locations: dict[tuple[str, str], Location] = {}
    for lp in plan.locations:
        location = stored.get((lp.owner, lp.location_id.lower()))
        if location is None:
            party = parties[lp.owner]
            opening_times, when_closed = _opening_times(lp.kind.hours)
            location = Location.objects.create(
                party=party,
                location_id=lp.location_id,
                source_connection=connections.get(lp.owner),
                created_at=lp.installed_at,
                publish_scope=lp.publish_scope,
                visible_to_public=lp.visible_to_public,
                visible_to_tokens=lp.visible_to_tokens,
                name=lp.name,
                address=lp.address,
                city=lp.city.name,
                postal_code=lp.postal_code,
                country=lp.city.country,
                latitude=lp.latitude,
                longitude=lp.longitude,
                parking_type=lp.kind.parking_type,
                directions=(
                    [{"language": "en", "text": "Follow the green EV signs to level -1."}]
                    if lp.kind.key == "car_park"
                    else []
                ),
                operator_details={"name": party.name, "website": party.website}
                if party.website
                else {"name": party.name},
                facilities=[str(f) for f in lp.kind.facilities],
                time_zone=lp.city.time_zone,
                opening_times=opening_times,
                charging_when_closed=when_closed,
                images=lp.images,
                energy_mix=lp.energy_mix,
                last_updated=lp.last_updated,
            )
            if lp.publish_to:
                location.publish_partners.set([partners[k] for k in lp.publish_to])
        locations[(lp.owner, lp.location_id)] = location

    location_ids = [loc.pk for loc in locations.values()]
    evses = {
        (e.location_id, e.uid.lower()): e
        for e in Evse.objects.filter(location__in=location_ids).select_related("location")
    }
    new_evses: list[Evse] = []
    for lp in plan.locations:
        location = locations[(lp.owner, lp.location_id)]
        for ep in lp.evses:
            if (location.pk, ep.uid.lower()) not in evses:
                new_evses.append(
                    Evse(
                        location=location,
                        uid=ep.uid,
                        evse_id=ep.evse_id,
                        status=EvseStatus.PLANNED if lp.planned else EvseStatus.AVAILABLE,
                        capabilities=ep.capabilities,
                        floor_level=ep.floor_level,
                        latitude=ep.latitude,
                        longitude=ep.longitude,
                        physical_reference=ep.physical_reference,
                        parking_restrictions=ep.parking_restrictions,
                        last_updated=lp.installed_at,
                    )
                )
    for evse in Evse.objects.bulk_create(new_evses):
        evses[(evse.location_id, evse.uid.lower())] = evse

    connectors = {
        (c.evse_id, c.connector_id.lower())
        for c in Connector.objects.filter(evse__location__in=location_ids)
    }
    new_connectors: list[Connector] = []
    result: dict[EvseKey, Evse] = {}
    for lp in plan.locations:
        location = locations[(lp.owner, lp.location_id)]
        terms = (
            "https://voltway.example/terms" if lp.owner == CPO else "https://roamdesk.example/terms"
        )
        for ep in lp.evses:
            evse = evses[(location.pk, ep.uid.lower())]
            result[_evse_key(lp, ep)] = evse
            for connector_id, spec, tariff_id in ep.connectors:
                if (evse.pk, connector_id.lower()) in connectors:
                    continue
                new_connectors.append(
                    Connector(
                        evse=evse,
                        connector_id=connector_id,
                        standard=spec.standard,
                        format=spec.format,
                        power_type=spec.power_type,
                        max_voltage=spec.max_voltage,
                        max_amperage=spec.max_amperage,
                        max_electric_power=spec.max_electric_power,
                        tariff_ids=[tariff_id],
                        terms_and_conditions=terms,
                        last_updated=lp.installed_at,
                    )
                )
    Connector.objects.bulk_create(new_connectors)
    return result


def _ensure_status_history(
    plan: Plan, evses: dict[EvseKey, Evse], connections: dict[str, PartnerConnection]
) -> None:
    # The service skips reports older than the EVSE's last change and repeats of its status, so
    # replaying the whole history on a second run writes nothing.
    for lp in plan.locations:
        source = connections.get(lp.owner)
        for ep in lp.evses:
            evse = evses[_evse_key(lp, ep)]
            for changed_at, status in ep.transitions:
                evse_status_set(
                    evse=evse, status=status, changed_at=changed_at, source_connection=source
                )


TokenKey = tuple[str, str, str]  # (owner, uid lower-cased, type)


def _ensure_tokens(
    plan: Plan, parties: dict[str, Party], connections: dict[str, PartnerConnection]
) -> dict[TokenKey, Token]:
    owners = {parties[k].pk: k for k in (OWN, EMSP)}

    def stored() -> dict[TokenKey, Token]:
        return {
            (owners[t.party_id], t.uid.lower(), t.type): t
            for t in Token.objects.filter(party__in=list(owners)).select_related("party")
        }

    tokens = stored()
    missing = [
        Token(
            party=parties[tp.owner],
            source_connection=connections.get(tp.owner),
            created_at=tp.last_updated,
            uid=tp.uid,
            type=tp.type,
            contract_id=tp.contract_id,
            visual_number=tp.visual_number,
            issuer=tp.issuer,
            group_id=tp.group_id,
            valid=tp.valid,
            whitelist=tp.whitelist,
            language=tp.language,
            default_profile_type=tp.default_profile_type,
            energy_supplier_name=tp.energy_supplier_name,
            energy_contract_id=tp.energy_contract_id,
            last_updated=tp.last_updated,
        )
        for tp in plan.tokens
        if _token_key(tp) not in tokens
    ]
    if missing:
        Token.objects.bulk_create(missing, batch_size=500)
        tokens = stored()
    return tokens


def _token_key(tp: TokenPlan) -> TokenKey:
    return (tp.owner, tp.uid.lower(), str(tp.type))


@dataclass(frozen=True)
class _Priced:
    version: TariffVersion
    charges: list[Charge]

    def total(self, kind: str, component: str | None = None) -> Decimal:
        """Sum of the ``kind`` ("excl"/"incl") VAT amounts, of one cost component or all."""
        return sum(
            (
                getattr(c, f"amount_{kind}_vat")
                for c in self.charges
                if component is None or _COMPONENTS[c.dimension] == component
            ),
            Decimal(0),
        )

    def has(self, component: str) -> bool:
        return any(_COMPONENTS[c.dimension] == component for c in self.charges)


class _Pricing:
    """Prices completed demo sessions once, for both the session totals and the CDR."""

    def __init__(self, tariffs: dict[str, Tariff]) -> None:
        self.tariffs = tariffs
        self._done: dict[str, _Priced] = {}

    def of(self, session: SessionPlan) -> _Priced:
        if session.session_id not in self._done:
            tariff = self.tariffs[session.tariff_id]
            version = tariff_version_in_effect(tariff=tariff, at=session.start)
            if version is None:
                raise RuntimeError(f"tariff {tariff.tariff_id} has no version at {session.start}")
            charges = price_periods(
                elements=version.elements,
                periods=[p.usage() for p in session.periods],
                session_start=session.start,
                time_zone=session.location.city.time_zone,
            )
            priced = _Priced(version, charges)
            _check_bounds(priced, session)
            self._done[session.session_id] = priced
        return self._done[session.session_id]


def _check_bounds(priced: _Priced, session: SessionPlan) -> None:
    """The demo pricer does not clamp to min/max price, so the demo must stay inside them."""
    version = priced.version
    for kind in ("excl", "incl"):
        total = priced.total(kind)
        low = getattr(version, f"min_price_{kind}_vat")
        high = getattr(version, f"max_price_{kind}_vat")
        if (low is not None and total < low) or (high is not None and total > high):
            raise RuntimeError(f"demo session {session.session_id} hits a price bound")
    for charge in priced.charges:
        for amount in (charge.amount_excl_vat, charge.amount_incl_vat):
            if amount != amount.quantize(_STORED) or len(amount.as_tuple().digits) > 15:
                raise RuntimeError(f"demo amount {amount} would not be stored exactly")


_TOKEN_FIELDS = (
    "token",
    "token_country_code",
    "token_party_id",
    "token_uid",
    "token_type",
    "token_contract_id",
)


def _token_snapshot(token: Token) -> dict[str, Any]:
    """The token identity a session keeps as it was when used (its CDR copies these fields)."""
    return {
        "token": token,
        "token_country_code": token.party.country_code,
        "token_party_id": token.party.party_id,
        "token_uid": token.uid,
        "token_type": token.type,
        "token_contract_id": token.contract_id,
    }


SessionKey = tuple[str, str]  # (owner, session id lower-cased)


def _ensure_sessions(
    plan: Plan,
    parties: dict[str, Party],
    connections: dict[str, PartnerConnection],
    evses: dict[EvseKey, Evse],
    tokens: dict[TokenKey, Token],
    pricing: _Pricing,
) -> dict[SessionKey, ChargingSession]:
    owners = {party.pk: key for key, party in parties.items() if key in (OWN, OWN_FI, CPO)}

    def stored() -> dict[SessionKey, ChargingSession]:
        return {
            (owners[s.party_id], s.session_id.lower()): s
            for s in ChargingSession.objects.filter(party__in=list(owners)).select_related(
                "location", "evse", "connector"
            )
        }

    sessions = stored()
    todo = [
        sp for sp in plan.sessions if (sp.location.owner, sp.session_id.lower()) not in sessions
    ]
    if not todo:
        return sessions
    connectors = {
        (c.evse_id, c.connector_id.lower()): c
        for c in Connector.objects.filter(evse__in=[e.pk for e in evses.values()])
    }
    rows: list[ChargingSession] = []
    for sp in todo:
        evse = evses[_evse_key(sp.location, sp.evse)]
        connector = connectors[(evse.pk, sp.connector_id.lower())]
        priced = pricing.of(sp) if sp.status == SessionStatus.COMPLETED else None
        rows.append(
            ChargingSession(
                party=parties[sp.location.owner],
                session_id=sp.session_id,
                source_connection=connections.get(sp.location.owner),
                created_at=sp.start,
                start_date_time=sp.start,
                end_date_time=sp.end,
                kwh=sp.kwh,
                auth_method=sp.auth_method,
                authorization_reference=sp.authorization_reference,
                location_ref=sp.location.location_id,
                evse_ref=sp.evse.uid,
                connector_ref=sp.connector_id,
                location=evse.location,
                evse=evse,
                connector=connector,
                meter_id=sp.evse.meter_id,
                currency=_TARIFF_BY_ID[sp.tariff_id].versions[0].currency,
                total_cost_excl_vat=priced.total("excl") if priced else None,
                total_cost_incl_vat=priced.total("incl") if priced else None,
                status=sp.status,
                last_updated=sp.last_updated,
                **_token_snapshot(tokens[_token_key(sp.token)]),
            )
        )
    created = ChargingSession.objects.bulk_create(rows)
    periods: list[SessionChargingPeriod] = []
    period_plans: list[PeriodPlan] = []
    for session, sp in zip(created, todo, strict=True):
        for sequence, pp in enumerate(sp.periods, start=1):
            periods.append(
                SessionChargingPeriod(
                    session=session,
                    sequence=sequence,
                    start_date_time=pp.start,
                    tariff_ref=sp.tariff_id,
                )
            )
            period_plans.append(pp)
    periods = SessionChargingPeriod.objects.bulk_create(periods)
    SessionChargingDimension.objects.bulk_create(
        SessionChargingDimension(period=period, type=kind, volume=volume)
        for period, pp in zip(periods, period_plans, strict=True)
        for kind, volume in pp.dimensions()
    )
    return stored()


_COMPONENTS = {
    TariffDimensionType.FLAT: CostComponent.FIXED,
    TariffDimensionType.ENERGY: CostComponent.ENERGY,
    TariffDimensionType.TIME: CostComponent.TIME,
    TariffDimensionType.PARKING_TIME: CostComponent.PARKING,
}
_UNITS = {  # (unit of the volume, unit of the price)
    TariffDimensionType.ENERGY: ("kWh", "kWh"),
    TariffDimensionType.TIME: ("h of charging", "hour"),
    TariffDimensionType.PARKING_TIME: ("h of parking", "hour"),
}


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _price(value: Decimal) -> str:
    """A unit price as the tariff writes it (0.30, not 0.3)."""
    return format(value, "f")


def _explain(charge: Charge, currency: str, version: TariffVersion) -> str:
    source = (
        f"tariff {version.tariff.tariff_id} v{version.number}, element {charge.element_index} "
        f"({describe_restrictions(charge.restrictions)})"
    )
    vat = f"VAT {_plain(charge.vat_rate)}%" if charge.vat_rate is not None else "no VAT"
    if charge.dimension == TariffDimensionType.FLAT:
        return f"Fixed fee of {_price(charge.unit_price)} {currency} per session; {source}; {vat}"
    unit, per = _UNITS[charge.dimension]
    return (
        f"{_plain(charge.volume)} {unit} at {_price(charge.unit_price)} {currency} per {per}; "
        f"{source}; {vat}"
    )


def _ensure_cdrs(
    plan: Plan,
    parties: dict[str, Party],
    connections: dict[str, PartnerConnection],
    sessions: dict[SessionKey, ChargingSession],
    pricing: _Pricing,
) -> None:
    finished = [sp for sp in plan.sessions if sp.cdr_id]
    stored = {
        (c.party_id, c.cdr_id.lower())
        for c in Cdr.objects.filter(party__in=[parties[k] for k in (OWN, OWN_FI, CPO)])
    }
    todo = [
        sp for sp in finished if (parties[sp.location.owner].pk, sp.cdr_id.lower()) not in stored
    ]
    if not todo:
        return
    created = Cdr.objects.bulk_create(
        [_cdr_row(sp, parties, connections, sessions, pricing) for sp in todo]
    )

    periods: list[CdrChargingPeriod] = []
    for cdr, sp in zip(created, todo, strict=True):
        periods += [
            CdrChargingPeriod(
                cdr=cdr, sequence=sequence, start_date_time=pp.start, tariff_ref=sp.tariff_id
            )
            for sequence, pp in enumerate(sp.periods, start=1)
        ]
    periods = CdrChargingPeriod.objects.bulk_create(periods)
    by_cdr: dict[int, list[CdrChargingPeriod]] = {}
    for period in periods:
        by_cdr.setdefault(period.cdr_id, []).append(period)

    dimensions: list[CdrChargingDimension] = []
    lines: list[CdrCostLine] = []
    for cdr, sp in zip(created, todo, strict=True):
        cdr_periods = by_cdr[cdr.pk]
        for period, pp in zip(cdr_periods, sp.periods, strict=True):
            dimensions += [
                CdrChargingDimension(period=period, type=kind, volume=volume)
                for kind, volume in pp.dimensions()
            ]
        priced = pricing.of(sp)
        lines += [
            CdrCostLine(
                cdr=cdr,
                period=cdr_periods[charge.period_index],
                component=_COMPONENTS[charge.dimension],
                dimension=charge.dimension,
                volume=charge.volume,
                unit_price=charge.unit_price,
                vat_rate=charge.vat_rate,
                currency=cdr.currency,
                amount_excl_vat=charge.amount_excl_vat,
                amount_incl_vat=charge.amount_incl_vat,
                tariff_version=priced.version,
                element_index=charge.element_index,
                explanation=_explain(charge, cdr.currency, priced.version),
            )
            for charge in priced.charges
        ]
    CdrChargingDimension.objects.bulk_create(dimensions)
    CdrCostLine.objects.bulk_create(lines)
    for cdr in created:
        cdr_finalize(cdr=cdr, actor=ACTOR)


def _cdr_row(
    sp: SessionPlan,
    parties: dict[str, Party],
    connections: dict[str, PartnerConnection],
    sessions: dict[SessionKey, ChargingSession],
    pricing: _Pricing,
) -> Cdr:
    assert sp.end is not None
    assert sp.cdr_created_at is not None
    party = parties[sp.location.owner]
    session = sessions[(sp.location.owner, sp.session_id.lower())]
    assert session.location is not None
    assert session.evse is not None
    assert session.connector is not None
    location, evse, connector = session.location, session.evse, session.connector
    priced = pricing.of(sp)
    tariff = priced.version.tariff
    totals = {
        f"{total}_{kind}_vat": priced.total(kind, component) if priced.has(component) else None
        for component, total in COMPONENT_TOTAL_FIELDS.items()
        for kind in ("excl", "incl")
    }
    source = connections.get(sp.location.owner)
    # Received: the version it came in. Generated: the version we emit it in to the token's
    # eMSP (our own drivers' CDRs are rendered in our current version).
    via = source or connections.get(sp.token.owner)
    snapshot = tariff_version_snapshot(priced.version)
    return Cdr(
        party=party,
        cdr_id=sp.cdr_id,
        status=CdrStatus.DRAFT,
        source_connection=source,
        created_at=sp.cdr_created_at,
        start_date_time=sp.start,
        end_date_time=sp.end,
        session_ref=sp.session_id,
        session=session,
        auth_method=sp.auth_method,
        authorization_reference=sp.authorization_reference,
        **cdr_location_snapshot(location=location, evse=evse, connector=connector),
        meter_id=session.meter_id,
        currency=session.currency,
        tariffs_snapshot=[snapshot],
        total_cost_excl_vat=priced.total("excl"),
        total_cost_incl_vat=priced.total("incl"),
        total_energy=sp.kwh,
        total_time=sum((p.hours for p in sp.periods), Decimal(0)),
        total_parking_time=sum((p.hours for p in sp.periods if p.parking), Decimal(0)),
        remark=sp.remark,
        last_updated=sp.cdr_created_at,
        tariff_version_at_start=priced.version,
        tariff_version_at_end=tariff_version_in_effect(tariff=tariff, at=sp.end),
        tariff_version_at_generation=tariff_version_in_effect(tariff=tariff, at=sp.cdr_created_at),
        origin=CdrOrigin.RECEIVED if source else CdrOrigin.GENERATED,
        protocol_version=via.version if via else VersionNumber.V2_2_1,
        validation_status=ValidationStatus.VALID,
        session_key=cdr_session_key(
            country_code=party.country_code, party_id=party.party_id, session_id=sp.session_id
        ),
        idempotency_key=cdr_idempotency_key(
            country_code=party.country_code, party_id=party.party_id, cdr_id=sp.cdr_id
        ),
        billing_reference=sp.billing_reference,
        **totals,
        **{name: getattr(session, name) for name in _TOKEN_FIELDS},
    )


def _ensure_credit(plan: Plan, parties: dict[str, Party]) -> None:
    chosen = plan.credited_cdr
    original = Cdr.objects.get(party=parties[chosen.location.owner], cdr_id=chosen.cdr_id)
    if original.credit_cdrs.exists():
        return
    cdr_issue_credit(
        original=original,
        actor=ACTOR,
        remark="Credited: the driver reported the session stopped early (EVSE fault)",
    )
