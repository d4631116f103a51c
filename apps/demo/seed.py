"""The demo dataset: ``seed_demo()`` creates what is missing, up to now, and never duplicates.

What it builds: our two own parties (the default one from settings plus roamdesk Finland), three
partners (an eMSP, a CPO still on a protocol version we cannot speak, and a hub) with their
parties and connections, seven tariffs with two versions each, 50 locations with 150 EVSEs in
the Netherlands, the United Kingdom, Finland, Sweden and Denmark (the Nordic ones belong to the
hub's CPOs), 500 tokens, and then day by day over the last 90 days: charging sessions, the EVSE
status history they and a few faults cause, a final CDR per completed session (ours priced by the
tariff engine; the hub CPOs' received and checked by our pricing check, some of them waiting in
the review queue), one credit CDR; over the last 14 days the exchange log of the OCPI traffic
with the partners that speak a version we support, and the sync cursors it leaves behind.

Time is relative to the day of the first seed (the *anchor*, kept as the demo partners' creation
time): reference data (tariff versions, sites, tokens, handshakes) is dated from the anchor, so
it never changes; the history is planned per calendar day, each day from its own seeded random
generator, so a day's sessions, CDRs and faults are the same whenever they are planned. A run on
a later day adds the days since the last run (and today's items that have ended), nothing else.

How a run stays free of duplicates:

* Every row is looked up by its natural key (party + id; exchange-log rows by their ``demo-``
  request id) and only created when missing; existing rows are never saved again. Final CDRs
  are immutable: a CDR is created once, when its session has ended, and never touched again.
* Only what has happened by now is stored: a session once it has ended, its CDR once it was
  created, a fault once it is over, an exchange once it took place.
* Status history goes through ``evse_status_set`` in time order, for new items only.

The EVSEs the charge-point simulator keeps busy (``live_evse_uids``, see ``apps.demo.live``) get
no planned history from the anchor on, so its live sessions and the planned ones never overlap.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps as django_apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin, CdrStatus, CostComponent, ValidationStatus
from apps.cdrs.generation import stored_amount
from apps.cdrs.models import Cdr, CdrChargingDimension, CdrChargingPeriod, CdrCostLine
from apps.cdrs.services import (
    COMPONENT_TOTAL_FIELDS,
    cdr_check_received,
    cdr_finalize,
    cdr_idempotency_key,
    cdr_issue_credit,
    cdr_location_snapshot,
    cdr_session_key,
)
from apps.charging_sessions.enums import (
    SESSION_ONLY_DIMENSIONS,
    AuthMethod,
    DimensionType,
    SessionStatus,
)
from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
)
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
from apps.ocpi.models import Direction, ExchangeLogEntry, SyncCursor
from apps.ocpi.versions import STANDARD_PROFILE, VersionNumber
from apps.partners.enums import ConnectionStatus, PublishScope, Role
from apps.partners.models import Partner, PartnerConnection, Party
from apps.partners.services import party_ensure_own_default
from apps.tariffs.enums import TariffDimensionType, TariffType, VersionOrigin
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.pricing import Dimension, PeriodInput, PricingResult, SessionInput, price_session
from apps.tariffs.pricing import TariffSpec as EngineTariff
from apps.tariffs.services import (
    TariffContent,
    tariff_version_record,
    tariff_version_snapshot,
    tariff_version_spec,
)
from apps.tokens.enums import ProfileType, TokenType, WhitelistType
from apps.tokens.models import Token

SEED = 20261121
ACTOR = "seed_demo"
#: Days of session history before today; days of exchange-log history.
HISTORY_DAYS = 90
LOG_DAYS = 14
#: Reference data (parties, partners) predates the anchor by this many days.
SETUP_DAYS = 200
#: Sessions planned per day: (own sites, the hub CPOs' sites), weekdays and weekends.
SESSIONS_PER_DAY = {"weekday": (4, 1), "weekend": (3, 1)}
INVALID_PERCENT = 3
#: Received CDRs the hub's CPOs still price with the tariff version before the current one.
STALE_PRICE_PERCENT = 20
EVSE_COUNT = 150
MIN_SESSION_KWH = Decimal(4)
MAX_SESSION_KWH = Decimal(70)
#: A day's sessions and faults fall in [03:00 UTC, 03:00 UTC the next day): days never overlap.
DAY_START = time(3, 0)

_HOUR = Decimal(3600)
_KWH = Decimal("0.001")
_KW = Decimal("0.1")
_WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
_WEEKEND = ["SATURDAY", "SUNDAY"]

# Party keys used by the plan; the database rows are looked up once the parties exist.
OWN = "own"  # the default own party from settings (NL*RDK)
OWN_FI = "own-fi"
EMSP = "emsp"
CPO = "cpo"
HUB = "hub"
EVX = "hub-evx"  # CPOs behind the hub: their sites, tariffs, sessions and CDRs reach us via it
PLG = "hub-plg"
#: Owners whose data is received (the hub's CPOs), and the connection it comes through.
RECEIVED_VIA = {EVX: HUB, PLG: HUB}


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
    handshake: tuple[int, int, int]  # days before the anchor, hour, minute
    #: Exchange-log traffic (None: a version we cannot speak, so nothing was exchanged).
    traffic: tuple[tuple[str, str, int], ...] | None = None  # (module, direction, minutes)

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
        handshake=(104, 9, 30),
        # They pull our locations and tariffs; they push their tokens to us; we pull theirs.
        traffic=(
            ("locations", "IN", 30),
            ("tariffs", "IN", 120),
            ("tokens", "IN", 45),
            ("tokens", "OUT", 60),
        ),
    ),
    PartnerSpec(
        key=CPO,
        name="Voltway Charging",
        domain="voltway",
        notes="Demo CPO in the UK, still on an older protocol version that roamdesk cannot speak "
        "yet: registered, but nothing has been exchanged with it.",
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
        handshake=(103, 14, 5),
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
        handshake=(102, 7, 45),
        # We pull the hub CPOs' locations, tariffs, sessions and CDRs, and they push sessions
        # and CDRs of our drivers as they happen (see _exchange_plan).
        traffic=(
            ("locations", "OUT", 15),
            ("tariffs", "OUT", 60),
            ("sessions", "OUT", 15),
            ("cdrs", "OUT", 30),
            ("locations", "IN", 60),
        ),
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


def _hub_cpo(
    currency: str, vat: str, rapid: str, standard: str, parking: str, updated: datetime
) -> TariffContent:
    # Published by a CPO behind the hub; parking billed per started 5 minutes.
    return TariffContent(
        currency=currency,
        type=_REGULAR,
        last_updated=updated,
        elements=[
            _element(_component(_F, "3.50", vat)),
            _element(_component(_E, rapid, vat), min_power=Decimal(50)),
            _element(_component(_E, standard, vat)),
            _element(_component(_P, parking, vat, 300), start_time="08:00", end_time="20:00"),
        ],
    )


def _before(anchor: datetime, days: int, hour: int = 0, minute: int = 0) -> datetime:
    """``days`` before the anchor's date, at hour:minute UTC."""
    return datetime.combine(anchor.date() - timedelta(days=days), time(hour, minute), tzinfo=UTC)


@dataclass(frozen=True)
class TariffSpec:
    owner: str
    tariff_id: str
    versions: tuple[TariffContent, ...]
    publish_scope: PublishScope = PublishScope.ALL
    publish_to: tuple[str, ...] = ()


def tariff_specs(anchor: datetime) -> tuple[TariffSpec, ...]:
    """The tariffs, each with a version from the set-up and a price change within the history."""
    at = _before
    return (
        TariffSpec(
            OWN,
            "NL-AC-STD",
            (
                _nl_ac("0.34", "0.27", "2.00", at(anchor, 180, 8)),
                _nl_ac("0.36", "0.29", "2.40", at(anchor, 45)),
            ),
        ),
        TariffSpec(
            OWN,
            "NL-DC-FAST",
            (
                _nl_dc("0.69", "0.59", at(anchor, 180, 8)),
                _nl_dc("0.74", "0.62", at(anchor, 30)),
            ),
        ),
        TariffSpec(
            OWN,
            "UK-STD",
            (
                _uk_own("0.42", "0.52", "0.46", at(anchor, 150, 9)),
                _uk_own("0.44", "0.55", "0.48", at(anchor, 60)),
            ),
            PublishScope.SELECTED,
            (EMSP, HUB),
        ),
        TariffSpec(
            OWN_FI,
            "FI-AC",
            (
                _fi_ac("1.20", "0.29", at(anchor, 190, 7)),
                _fi_ac("1.50", "0.31", at(anchor, 45)),
            ),
        ),
        TariffSpec(
            OWN_FI,
            "FI-DC",
            (
                _fi_dc("0.49", "0.59", at(anchor, 190, 7)),
                _fi_dc("0.52", "0.64", at(anchor, 25)),
            ),
            PublishScope.SELECTED,
            (HUB,),
        ),
        TariffSpec(
            EVX,
            "EVX-STD",
            (
                _hub_cpo("SEK", "25.0", "6.90", "4.90", "30.00", at(anchor, 170, 12)),
                _hub_cpo("SEK", "25.0", "7.40", "5.20", "36.00", at(anchor, 40)),
            ),
            PublishScope.NONE,
        ),
        TariffSpec(
            PLG,
            "PLG-STD",
            (
                _hub_cpo("DKK", "25.0", "5.20", "3.60", "24.00", at(anchor, 160, 10)),
                _hub_cpo("DKK", "25.0", "5.60", "3.90", "27.00", at(anchor, 35)),
            ),
            PublishScope.NONE,
        ),
    )


def _tariff_for(owner: str, country: str, dc: bool) -> str:
    if owner == EVX:
        return "EVX-STD"
    if owner == PLG:
        return "PLG-STD"
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
        City("STO", "Stockholm", "SWE", "Europe/Stockholm", Decimal("59.3293235"),
             Decimal("18.0685808"),
             ("Sveavägen", "Götgatan", "Hornsgatan", "Valhallavägen", "Kungsholmsgatan"),
             ("111 57", "118 46", "118 49", "114 22", "112 27")),
        City("GOT", "Göteborg", "SWE", "Europe/Stockholm", Decimal("57.7088700"),
             Decimal("11.9745600"),
             ("Kungsportsavenyen", "Lindholmspiren", "Mölndalsvägen", "Eriksbergstorget"),
             ("411 36", "417 56", "412 63", "417 64")),
        City("CPH", "København", "DNK", "Europe/Copenhagen", Decimal("55.6760968"),
             Decimal("12.5683371"),
             ("Vesterbrogade", "Nørrebrogade", "Amagerbrogade", "Strandvejen",
              "Ørestads Boulevard"),
             ("1620", "2200", "2300", "2100", "2300")),
    )
}  # fmt: skip

#: (owner, city, number of locations): 39 of ours, 11 of the hub's CPOs.
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
    (EVX, "STO", 4),
    (EVX, "GOT", 3),
    (PLG, "CPH", 4),
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
    "SWE": {"street": 2, "car_park": 2, "supermarket": 2, "fast_hub": 1, "motorway": 1},
    "DNK": {"street": 3, "car_park": 1, "supermarket": 2, "fast_hub": 1, "motorway": 1},
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
            (DimensionType.MIN_POWER, self.min_power_kw),
            (DimensionType.MAX_POWER, self.max_power_kw),
        ]

    @property
    def min_power_kw(self) -> Decimal:
        """The lowest power measured in the period: 90 % of its average (tariffs' min_power
        restrictions are checked against it)."""
        average = self.energy_kwh / self.hours
        return min((average * Decimal("0.9")).quantize(_KW), self.max_power_kw or average)

    def cdr_dimensions(self) -> dict[str, Decimal]:
        """The period's dimensions as a CDR carries them (no session-only ones, spec 8.7)."""
        return {
            str(kind): volume
            for kind, volume in self.dimensions()
            if kind not in SESSION_ONLY_DIMENSIONS
        }

    def priced(self) -> PeriodInput:
        return PeriodInput(start=self.start, dimensions=self.cdr_dimensions())


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
    end: datetime
    periods: list[PeriodPlan]
    cdr_id: str = ""
    billing_reference: str = ""
    cdr_created_at: datetime | None = None
    remark: str = ""
    #: Received CDRs only: the CPO priced it with the tariff version before the current one.
    stale_price: bool = False

    @property
    def kwh(self) -> Decimal:
        return sum((p.energy_kwh for p in self.periods), Decimal(0))

    @property
    def received(self) -> bool:
        return self.location.owner in RECEIVED_VIA

    def session_input(self) -> SessionInput:
        return SessionInput(
            start=self.start,
            end=self.end,
            periods=tuple(p.priced() for p in self.periods),
            time_zone=self.location.city.time_zone,
        )


@dataclass(frozen=True)
class FaultPlan:
    """An EVSE out of service from ``start`` until ``end`` (None: for good)."""

    location: LocationPlan
    evse: EvsePlan
    status: EvseStatus
    start: datetime
    end: datetime | None


@dataclass
class DayPlan:
    day: date
    sessions: list[SessionPlan]
    faults: list[FaultPlan]


@dataclass
class Plan:
    anchor: datetime
    locations: list[LocationPlan]
    tokens: list[TokenPlan]
    days: list[DayPlan]

    @property
    def sessions(self) -> list[SessionPlan]:
        return [s for d in self.days for s in d.sessions]


# Party codes (country_code, party_id) by plan key, read from the database before planning.
Codes = dict[str, tuple[str, str]]


def _nine(seconds: Decimal | int) -> int:
    """Seconds rounded up to a multiple of 9: such a duration in hours has at most 4 decimals
    (3600 = 9 x 400), so time volumes are exact and stored without rounding."""
    return max(9, math.ceil(math.ceil(seconds) / 9) * 9)


def _offset(rng: random.Random, spread: int) -> Decimal:
    return Decimal(rng.randint(-spread, spread)).scaleb(-7)


def _plan_locations(rng: random.Random, codes: Codes, anchor: datetime) -> list[LocationPlan]:
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
            installed = _before(anchor, SETUP_DAYS - 10, 6) + timedelta(
                days=rng.randrange(SETUP_DAYS - HISTORY_DAYS - 20), minutes=rng.randrange(600)
            )
            publish_to: tuple[str, ...] = ()
            received = owner in RECEIVED_VIA
            if received:
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
            private = scope == PublishScope.NONE and not received
            image_host = "nordhub.example" if received else "roamdesk.example"
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
                mix = {
                    "NLD": _NL_WIND_MIX,
                    "GBR": _UK_GRID_MIX,
                    "FIN": _FI_GREEN_MIX,
                    "SWE": _FI_GREEN_MIX,
                    "DNK": _NL_WIND_MIX,
                }[city.country]
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


def _plan_tokens(rng: random.Random, codes: Codes, anchor: datetime) -> list[TokenPlan]:
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
                    last_updated=_before(anchor, HISTORY_DAYS + 2)
                    - timedelta(days=rng.randint(0, 100), seconds=rng.randrange(86_400)),
                )
            )
    return tokens


Shape = list[tuple[int, Decimal, Decimal | None]]  # (seconds, kWh, max kW) per period


def _session_shape(rng: random.Random, kind: SiteKind, connector: ConnectorSpec) -> Shape:
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
    parking = rng.randrange(100) < parking_percent
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


_BUFFER = timedelta(minutes=10)
_REMARKS = (
    "Stopped by the driver with the card",
    "Stopped remotely from the app",
    "EV disconnected",
    "Charging complete: the EV stopped requesting power",
)
_FAULTS = {  # status: (shortest, longest) in seconds
    EvseStatus.OUTOFORDER: (4 * 3600, 20 * 3600),
    EvseStatus.INOPERATIVE: (3600, 12 * 3600),
    EvseStatus.BLOCKED: (20 * 60, 3 * 3600),
}


def _day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, DAY_START, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(":".join(str(p) for p in (SEED, *parts)).encode()).digest()


def _session_id(owner: str, day: date, slot: int) -> str:
    """Stable per (owner, day, slot): the same session whenever the day is planned."""
    digest = _digest("session", owner, day.isoformat(), slot)
    if owner in RECEIVED_VIA:  # the hub's CPOs number their sessions
        return str(1_000_000_000 + int.from_bytes(digest[:8]) % 9_000_000_000)
    return str(uuid.UUID(bytes=digest[:16], version=4))


@dataclass(frozen=True)
class Sites:
    """What the day plans choose from: the locations and which EVSEs are out of the plan."""

    anchor: datetime
    locations: list[LocationPlan]
    tokens: list[TokenPlan]
    #: EVSE uid → the day it left service (REMOVED or OUT OF ORDER) for good.
    retired: dict[str, FaultPlan]
    #: EVSE uids the simulator keeps busy from the anchor on.
    live: frozenset[str]

    def usable(self, evse: EvsePlan, day: date) -> bool:
        retired = self.retired.get(evse.uid)
        if retired is not None and day >= retired.start.date():
            return False
        return not (evse.uid in self.live and day >= self.anchor.date())


#: How many EVSEs the charge-point simulator keeps for its live sessions (apps.demo.live).
LIVE_EVSE_COUNT = 4


def _plan_retired(
    rng: random.Random, locations: list[LocationPlan], anchor: datetime
) -> dict[str, FaultPlan]:
    """One EVSE removed and three out of order for good, at days within the history."""
    candidates = [
        (loc, e) for loc in locations if not loc.planned for e in loc.evses if len(loc.evses) > 1
    ]
    chosen = rng.sample(candidates, 4)
    retired: dict[str, FaultPlan] = {}
    for n, (location, evse) in enumerate(chosen):
        at = _before(anchor, rng.randint(5, HISTORY_DAYS - 5), rng.randint(6, 20))
        status = EvseStatus.REMOVED if n == 0 else EvseStatus.OUTOFORDER
        retired[evse.uid] = FaultPlan(location, evse, status, at, None)
    return retired


def live_evse_uids(locations: Sequence[LocationPlan]) -> list[str]:
    """The EVSEs kept for the simulator: AC EVSEs at our busiest own sites, one per site."""
    own = [loc for loc in locations if loc.owner in (OWN, OWN_FI) and not loc.planned and loc.evses]
    own.sort(key=lambda loc: (-loc.kind.weight, loc.location_id))
    chosen: list[str] = []
    for location in own:
        evse = next((e for e in location.evses if not e.connectors[0][1].dc), None)
        if evse is not None:
            chosen.append(evse.uid)
        if len(chosen) == LIVE_EVSE_COUNT:
            break
    return chosen


def planned_live_evse_uids() -> list[str]:
    """The live EVSEs' uids: they depend on the seed only, not on the parties or the dates."""
    codes = dict.fromkeys((OWN, OWN_FI, EMSP, CPO, HUB, EVX, PLG), ("XX", "XXX"))
    locations = _plan_locations(random.Random(SEED), codes, datetime(2000, 1, 1, tzinfo=UTC))
    return live_evse_uids(locations)


def _local_start(rng: random.Random, location: LocationPlan, day: date) -> datetime:
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


def _plan_day(day: date, sites: Sites, codes: Codes) -> DayPlan:
    """The sessions and faults of one day, from the day's own random generator."""
    rng = random.Random(_digest("day", day.isoformat()))
    window_start, window_end = _day_window(day)
    busy: dict[str, list[tuple[datetime, datetime]]] = {}

    def free(evse: EvsePlan, start: datetime, end: datetime) -> bool:
        return all(end <= b or start >= a for a, b in busy.get(evse.uid, []))

    own_count, received_count = SESSIONS_PER_DAY["weekend" if day.weekday() >= 5 else "weekday"]
    own_count += rng.randint(-1, 1)
    sides = [OWN] * own_count + ["received"] * received_count
    candidates = {
        OWN: [loc for loc in sites.locations if loc.owner not in RECEIVED_VIA and not loc.planned],
        "received": [loc for loc in sites.locations if loc.owner in RECEIVED_VIA],
    }
    valid_tokens = {
        owner: [t for t in sites.tokens if t.owner == owner and t.valid] for owner in (OWN, EMSP)
    }
    invalid_tokens = [t for t in sites.tokens if not t.valid and t.owner == OWN]
    sessions: list[SessionPlan] = []
    for slot, side in enumerate(sides, start=1):
        invalid = rng.randrange(100) < INVALID_PERCENT
        for _attempt in range(200):
            choices = candidates[side]
            location = rng.choices(choices, weights=[c.kind.weight for c in choices])[0]
            evse = rng.choice(location.evses)
            if not sites.usable(evse, day):
                continue
            connector_id, connector, tariff_id = rng.choice(evse.connectors)
            shape = _session_shape(rng, location.kind, connector)
            start = _local_start(rng, location, day)
            periods = _lay_out(start, shape)
            end = periods[-1].start + timedelta(seconds=periods[-1].seconds)
            kwh = sum((p.energy_kwh for p in periods), Decimal(0))
            if start < window_start + _BUFFER or end > window_end - _BUFFER:
                continue
            if not MIN_SESSION_KWH <= kwh <= MAX_SESSION_KWH:
                continue
            if not free(evse, start - _BUFFER, end + _BUFFER):
                continue
            break
        else:
            continue  # a full day at that site: one session fewer
        busy.setdefault(evse.uid, []).append((start - _BUFFER, end + _BUFFER))
        if invalid and rng.randrange(100) < 50:
            token = rng.choice(invalid_tokens)
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
        status = SessionStatus.INVALID if invalid else SessionStatus.COMPLETED
        session = SessionPlan(
            location=location,
            evse=evse,
            connector_id=connector_id,
            connector=connector,
            tariff_id=tariff_id,
            session_id=_session_id(location.owner, day, slot),
            status=status,
            token=token,
            auth_method=auth,
            authorization_reference=reference,
            start=start,
            end=end,
            periods=periods,
        )
        if status == SessionStatus.COMPLETED:
            country_code, party_id = codes[location.owner]
            session.cdr_id = f"CDR-{country_code}{party_id}-{day:%Y%m%d}-{slot:02d}"
            session.billing_reference = f"{codes[OWN][1]}-{day:%Y%m%d}-{slot:02d}"
            session.cdr_created_at = end + timedelta(seconds=rng.randint(60, 900))
            if rng.randrange(100) < 25:
                session.remark = rng.choice(_REMARKS)
            session.stale_price = session.received and rng.randrange(100) < STALE_PRICE_PERCENT
        sessions.append(session)
    faults: list[FaultPlan] = []
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        location = rng.choice([loc for loc in sites.locations if not loc.planned])
        evse = rng.choice(location.evses)
        if not sites.usable(evse, day):
            continue
        fault = rng.choices(list(_FAULTS), weights=(5, 3, 2))[0]
        length = timedelta(seconds=rng.randint(*_FAULTS[fault]))
        latest = int((window_end - window_start - length - 2 * _BUFFER).total_seconds())
        at = window_start + _BUFFER + timedelta(seconds=rng.randrange(max(latest, 1)))
        if latest > 0 and free(evse, at - _BUFFER, at + length + _BUFFER):
            busy.setdefault(evse.uid, []).append((at - _BUFFER, at + length + _BUFFER))
            faults.append(FaultPlan(location, evse, fault, at, at + length))
    for retired in sites.retired.values():
        if retired.start.date() == day:
            faults.append(retired)
    sessions.sort(key=lambda s: (s.start, s.session_id))
    return DayPlan(day=day, sessions=sessions, faults=faults)


def history_days(anchor: datetime, now: datetime) -> list[date]:
    """The days to plan: the last HISTORY_DAYS before today and today, never before the
    history that the first seed started with."""
    today = now.date()
    first = max(anchor.date() - timedelta(days=HISTORY_DAYS), today - timedelta(days=HISTORY_DAYS))
    # A day's window starts at 03:00 UTC, so the window of "yesterday" may still be open.
    first = min(first, today)
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def build_plan(codes: Codes, *, anchor: datetime, now: datetime) -> Plan:
    """The demo dataset as plain objects: reference data from one seeded generator, then one
    day plan per day of history, each from its own generator.

    It depends only on ``codes`` (the parties' country codes and ids), the anchor and today's
    date, never on stored rows.
    """
    rng = random.Random(SEED)
    locations = _plan_locations(rng, codes, anchor)
    tokens = _plan_tokens(rng, codes, anchor)
    retired = _plan_retired(rng, locations, anchor)
    sites = Sites(
        anchor=anchor,
        locations=locations,
        tokens=tokens,
        retired=retired,
        live=frozenset(live_evse_uids(locations)),
    )
    days = [_plan_day(day, sites, codes) for day in history_days(anchor, now)]
    return Plan(anchor=anchor, locations=locations, tokens=tokens, days=days)


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


def seed_demo(*, now: datetime | None = None) -> list[ModelCount]:
    """Create whatever part of the demo dataset is missing up to ``now`` (default: the current
    time); returns the counts per model."""
    now = now or timezone.now()
    before = demo_model_counts()
    with transaction.atomic():
        anchor = _demo_anchor(now)
        parties, connections = _ensure_parties_and_partners(anchor)
        codes = {key: (party.country_code, party.party_id) for key, party in parties.items()}
        plan = build_plan(codes, anchor=anchor, now=now)
        tariffs = _ensure_tariffs(plan, parties, connections)
        evses = _ensure_locations(plan, parties, connections)
        tokens = _ensure_tokens(plan, parties, connections)
        pricing = _Pricing(tariffs)
        sessions = _ensure_sessions(plan, parties, connections, evses, tokens, pricing, now)
        _ensure_status_history(plan, evses, connections, sessions, now)
        _ensure_cdrs(plan, parties, connections, sessions, pricing, now)
        _ensure_credit(plan, parties)
        _ensure_exchanges_and_cursors(plan, connections, sessions, now)
        # The simulator's live sessions: a few running right after the seed (see apps.demo.live).
        from apps.demo.live import demo_keep_charging

        demo_keep_charging(now=now)
    after = demo_model_counts()
    return [
        ModelCount(label, total, total - before.get(label, 0)) for label, total in after.items()
    ]


def _demo_anchor(now: datetime) -> datetime:
    """Midnight UTC of the day of the first seed: read back from the first demo partner (created
    SETUP_DAYS before it), or today when there is none yet."""
    partner = Partner.objects.filter(name=PARTNERS[0].name).first()
    day = partner.created_at.date() + timedelta(days=SETUP_DAYS) if partner else now.date()
    return datetime.combine(day, time(0), tzinfo=UTC)


def _demo_secret(*parts: str) -> str:
    """A stable stand-in for a credentials token (demo connections never reach anyone)."""
    return hashlib.sha256(":".join(("roamdesk-demo", *parts)).encode()).hexdigest()[:43]


def _ensure_party(spec: PartySpec, partner: Partner | None, anchor: datetime) -> Party:
    party, _ = Party.objects.get_or_create(
        country_code=spec.country_code,
        party_id=spec.party_id,
        defaults={
            "partner": partner,
            "roles": [str(r) for r in spec.roles],
            "name": spec.name,
            "website": spec.website,
            "created_at": _before(anchor, SETUP_DAYS, 9),
        },
    )
    return party


#: The hub's CPO parties by their plan key.
_HUB_CPOS = {("SE", "EVX"): EVX, ("DK", "PLG"): PLG}


def _ensure_parties_and_partners(
    anchor: datetime,
) -> tuple[dict[str, Party], dict[str, PartnerConnection]]:
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
    parties = {OWN: default, OWN_FI: _ensure_party(OWN_FI_PARTY, None, anchor)}
    connections: dict[str, PartnerConnection] = {}
    for spec in PARTNERS:
        partner, _ = Partner.objects.get_or_create(
            name=spec.name,
            defaults={
                "contact_email": f"roaming@{spec.domain}.example",
                "notes": spec.notes,
                "created_at": _before(anchor, SETUP_DAYS, 9),
            },
        )
        represented = [_ensure_party(p, partner, anchor) for p in spec.parties]
        parties[spec.key] = represented[0]
        for party in represented:
            key = _HUB_CPOS.get((party.country_code, party.party_id))
            if key is not None:
                parties[key] = party
        connection = PartnerConnection.objects.filter(partner=partner, name="production").first()
        if connection is None:
            handshake_at = _before(anchor, *spec.handshake)
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
                last_handshake_at=handshake_at,
                created_at=handshake_at - timedelta(days=3),
            )
            connection.set_send_token(_demo_secret(spec.key, "send"))
            connection.set_issued_token(_demo_secret(spec.key, "issued"), registration=False)
            connection.issued_token_created_at = handshake_at
            connection.save()
            connection.represented_parties.set(represented)
        connections[spec.key] = connection
    return parties, connections


def _source(connections: dict[str, PartnerConnection], owner: str) -> PartnerConnection | None:
    """The connection an owner's objects came through (None: ours)."""
    return connections.get(RECEIVED_VIA.get(owner, owner))


def _ensure_tariffs(
    plan: Plan, parties: dict[str, Party], connections: dict[str, PartnerConnection]
) -> dict[str, Tariff]:
    partners = {key: c.partner for key, c in connections.items()}
    tariffs: dict[str, Tariff] = {}
    for spec in tariff_specs(plan.anchor):
        source = _source(connections, spec.owner)
        received = source is not None
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
                source_connection=_source(connections, lp.owner),
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
                last_updated=lp.installed_at,
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
            "https://nordhub.example/terms"
            if lp.owner in RECEIVED_VIA
            else "https://roamdesk.example/terms"
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
    plan: Plan,
    evses: dict[EvseKey, Evse],
    connections: dict[str, PartnerConnection],
    sessions: dict[SessionKey, ChargingSession],
    now: datetime,
) -> None:
    """Sessions occupy their EVSE (CHARGING, then AVAILABLE); faults take it out of service.

    Only for what has happened: stored sessions, faults that are over (a retirement once it
    started). Transitions the EVSE has already seen (not after its ``last_updated``) are left
    out before calling the service, so a second run makes no call at all.
    """
    changes: list[tuple[datetime, str, EvseKey, EvseStatus]] = []

    def add(location: LocationPlan, evse: EvsePlan, at: datetime, status: EvseStatus) -> None:
        changes.append((at, evse.uid, _evse_key(location, evse), status))

    for day in plan.days:
        for sp in day.sessions:
            if (sp.location.owner, sp.session_id.lower()) in sessions:
                add(sp.location, sp.evse, sp.start, EvseStatus.CHARGING)
                add(sp.location, sp.evse, sp.end, EvseStatus.AVAILABLE)
        for fault in day.faults:
            if fault.end is None and fault.start <= now:
                add(fault.location, fault.evse, fault.start, fault.status)
            elif fault.end is not None and fault.end <= now:
                add(fault.location, fault.evse, fault.start, fault.status)
                add(fault.location, fault.evse, fault.end, EvseStatus.AVAILABLE)
    changes.sort()
    last = {key: n for n, (_at, _uid, key, _status) in enumerate(changes)}
    for n, (at, _uid, key, status) in enumerate(changes):
        evse = evses[key]
        if evse.last_updated is not None and at <= evse.last_updated:
            continue
        evse_status_set(
            evse=evse,
            status=status,
            changed_at=at,
            source_connection=_source(connections, key[0]),
            # Partners get the EVSE's current status: the outbox keeps one pending push per
            # EVSE anyway, so announcing each past transition would only repeat the work.
            announce=last[key] == n,
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
    """A session priced by the tariff engine, with each line's amounts as the database keeps
    them (10 decimals); the totals are sums of those stored amounts, as in CDR generation."""

    version: TariffVersion
    result: PricingResult
    amounts: list[tuple[Decimal, Decimal]]  # (excl., incl.) per line of ``result.lines``

    def total(self, kind: str, component: str | None = None) -> Decimal:
        """Sum of the ``kind`` ("excl"/"incl") VAT amounts, of one cost component or all."""
        index = 0 if kind == "excl" else 1
        return sum(
            (
                amounts[index]
                for line, amounts in zip(self.result.lines, self.amounts, strict=True)
                if component is None or line.cost_group.value == component
            ),
            Decimal(0),
        )

    def has(self, component: str) -> bool:
        return any(line.cost_group.value == component for line in self.result.lines)


class _Pricing:
    """Prices completed demo sessions once with the tariff engine, for both the session totals
    and the CDR: under the version in effect at the start, or for a received CDR the CPO priced
    with a stale tariff, under the version before it."""

    def __init__(self, tariffs: dict[str, Tariff]) -> None:
        self.tariffs = tariffs
        self._done: dict[str, _Priced] = {}
        self._specs: dict[int, EngineTariff] = {}
        # Each tariff's versions in the order tariff_version_in_effect picks them by.
        self._versions = {
            tariff_id: list(
                tariff.versions.select_related("tariff").order_by("last_updated", "number")
            )
            for tariff_id, tariff in tariffs.items()
        }

    def in_effect(self, tariff_id: str, at: datetime) -> TariffVersion | None:
        """``tariff_version_in_effect`` from memory: the newest version changed by ``at``."""
        found = None
        for version in self._versions[tariff_id]:
            if version.last_updated <= at:
                found = version
        return found

    def version(self, session: SessionPlan) -> TariffVersion:
        version = self.in_effect(session.tariff_id, session.start)
        if version is None:
            raise RuntimeError(f"tariff {session.tariff_id} has no version at {session.start}")
        if session.stale_price:
            older = [v for v in self._versions[session.tariff_id] if v.number < version.number]
            version = max(older, key=lambda v: v.number, default=version)
        return version

    def of(self, session: SessionPlan) -> _Priced:
        if session.session_id not in self._done:
            version = self.version(session)
            if version.pk not in self._specs:
                self._specs[version.pk] = tariff_version_spec(version)
            result = price_session(self._specs[version.pk], session.session_input())
            if result.total_cost != result.uncapped_cost:
                # Generation would add an ADJUSTMENT line; the plan keeps sessions inside the
                # bounds (MIN_SESSION_KWH, MAX_SESSION_KWH) so that the demo needs none.
                raise RuntimeError(f"demo session {session.session_id} hits a price bound")
            amounts = [
                (stored_amount(line.amount.excl_vat), stored_amount(line.amount.incl_vat))
                for line in result.lines
            ]
            self._done[session.session_id] = _Priced(version, result, amounts)
        return self._done[session.session_id]


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
#: The plan keys of the parties whose sites see sessions.
_CPO_KEYS = (OWN, OWN_FI, EVX, PLG)


def _ensure_sessions(
    plan: Plan,
    parties: dict[str, Party],
    connections: dict[str, PartnerConnection],
    evses: dict[EvseKey, Evse],
    tokens: dict[TokenKey, Token],
    pricing: _Pricing,
    now: datetime,
) -> dict[SessionKey, ChargingSession]:
    owners = {party.pk: key for key, party in parties.items() if key in _CPO_KEYS}

    def stored() -> dict[SessionKey, ChargingSession]:
        return {
            (owners[s.party_id], s.session_id.lower()): s
            for s in ChargingSession.objects.filter(party__in=list(owners)).select_related(
                "location", "evse", "connector"
            )
        }

    sessions = stored()
    todo = [
        sp
        for sp in plan.sessions
        if sp.end <= now and (sp.location.owner, sp.session_id.lower()) not in sessions
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
                source_connection=_source(connections, sp.location.owner),
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
                currency=pricing.tariffs[sp.tariff_id].currency,
                total_cost_excl_vat=priced.total("excl") if priced else None,
                total_cost_incl_vat=priced.total("incl") if priced else None,
                status=sp.status,
                last_updated=sp.end,
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


#: The price component type of each dimension the engine prices (CdrCostLine.dimension).
_COMPONENT_TYPE = {
    Dimension.FLAT: "FLAT",
    Dimension.ENERGY: "ENERGY",
    Dimension.TIME: "TIME",
    Dimension.PARKING_TIME: "PARKING_TIME",
}


def _ensure_cdrs(
    plan: Plan,
    parties: dict[str, Party],
    connections: dict[str, PartnerConnection],
    sessions: dict[SessionKey, ChargingSession],
    pricing: _Pricing,
    now: datetime,
) -> None:
    """A CDR per completed session once it was created: ours with the engine's cost lines,
    finalized (and so announced to the outbox); the hub CPOs' as received, final at once, then
    checked by our pricing check (findings; a price that differs goes to the review queue)."""
    finished = [
        sp
        for sp in plan.sessions
        if sp.cdr_id
        and sp.cdr_created_at is not None
        and sp.cdr_created_at <= now
        and (sp.location.owner, sp.session_id.lower()) in sessions
    ]
    stored = {
        (c.party_id, c.cdr_id.lower())
        for c in Cdr.objects.filter(party__in=[parties[k] for k in _CPO_KEYS]).only(
            "party_id", "cdr_id"
        )
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
                for kind, volume in pp.cdr_dimensions().items()
            ]
        if sp.received:  # a partner's CDR states totals, not our cost lines
            continue
        priced = pricing.of(sp)
        lines += [
            CdrCostLine(
                cdr=cdr,
                period=cdr_periods[line.period_index],
                component=CostComponent(line.cost_group.value),
                dimension=_COMPONENT_TYPE[line.dimension],
                volume=line.billed_volume,
                unit_price=line.unit_price,
                vat_rate=line.vat,
                currency=cdr.currency,
                amount_excl_vat=excl,
                amount_incl_vat=incl,
                tariff_version=priced.version,
                element_index=line.element_index,
                explanation=line.reason,
            )
            for line, (excl, incl) in zip(priced.result.lines, priced.amounts, strict=True)
        ]
    CdrChargingDimension.objects.bulk_create(dimensions)
    CdrCostLine.objects.bulk_create(lines)
    for cdr, sp in zip(created, todo, strict=True):
        if sp.received:
            cdr_check_received(cdr=cdr, actor=ACTOR)
        else:
            cdr_finalize(cdr=cdr, actor=ACTOR)


def _cdr_row(
    sp: SessionPlan,
    parties: dict[str, Party],
    connections: dict[str, PartnerConnection],
    sessions: dict[SessionKey, ChargingSession],
    pricing: _Pricing,
) -> Cdr:
    assert sp.cdr_created_at is not None
    party = parties[sp.location.owner]
    session = sessions[(sp.location.owner, sp.session_id.lower())]
    assert session.location is not None
    assert session.evse is not None
    assert session.connector is not None
    location, evse, connector = session.location, session.evse, session.connector
    priced = pricing.of(sp)
    result = priced.result
    totals = {
        f"{total}_{kind}_vat": priced.total(kind, component) if priced.has(component) else None
        for component, total in COMPONENT_TOTAL_FIELDS.items()
        for kind in ("excl", "incl")
    }
    source = _source(connections, sp.location.owner)
    # Received: the version it came in. Generated: the version we emit it in to the token's
    # eMSP (our own drivers' CDRs are rendered in our current version).
    via = source or connections.get(sp.token.owner)
    key = cdr_idempotency_key(
        country_code=party.country_code, party_id=party.party_id, cdr_id=sp.cdr_id
    )
    return Cdr(
        party=party,
        cdr_id=sp.cdr_id,
        # A partner's CDR arrives final (spec: a CDR never changes once sent).
        status=CdrStatus.FINAL if sp.received else CdrStatus.DRAFT,
        finalized_at=sp.cdr_created_at if sp.received else None,
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
        currency=result.currency,
        tariffs_snapshot=[tariff_version_snapshot(priced.version)],
        total_cost_excl_vat=priced.total("excl"),
        total_cost_incl_vat=priced.total("incl"),
        total_energy=stored_amount(result.total_energy),
        total_time=stored_amount(result.total_time),
        total_parking_time=stored_amount(result.total_parking_time),
        remark=sp.remark,
        last_updated=sp.cdr_created_at,
        tariff_version_at_start=pricing.in_effect(sp.tariff_id, sp.start),
        tariff_version_at_end=pricing.in_effect(sp.tariff_id, sp.end),
        tariff_version_at_generation=pricing.in_effect(sp.tariff_id, sp.cdr_created_at),
        origin=CdrOrigin.RECEIVED if sp.received else CdrOrigin.GENERATED,
        protocol_version=via.version if via else VersionNumber.V2_2_1,
        validation_status=ValidationStatus.NOT_CHECKED if sp.received else ValidationStatus.VALID,
        session_key=cdr_session_key(
            country_code=party.country_code, party_id=party.party_id, session_id=sp.session_id
        ),
        idempotency_key=key,
        billing_reference=sp.billing_reference
        if not sp.received
        else f"{party.country_code}{party.party_id}-{key[:16].upper()}",
        **totals,
        **{name: getattr(session, name) for name in _TOKEN_FIELDS},
    )


CREDIT_REMARK = "Credited: the driver reported the session stopped early (EVSE fault)"


def _ensure_credit(plan: Plan, parties: dict[str, Party]) -> None:
    """One of our CDRs for a partner's driver, 20 days before the anchor, credited once."""
    own = [parties[OWN], parties[OWN_FI]]
    if Cdr.objects.filter(party__in=own, credit=True, remark=CREDIT_REMARK).exists():
        return
    since = plan.anchor - timedelta(days=20)
    chosen = next(
        (
            sp
            for sp in plan.sessions
            if sp.cdr_id
            and sp.location.owner == OWN
            and sp.token.owner == EMSP
            and sp.start >= since
        ),
        None,
    )
    original = (
        Cdr.objects.filter(party=parties[OWN], cdr_id=chosen.cdr_id).first() if chosen else None
    )
    if original is None or not original.is_final:
        return
    cdr_issue_credit(original=original, actor=ACTOR, remark=CREDIT_REMARK)


# -- the exchange log and the sync cursors ------------------------------------------------------
@dataclass(frozen=True)
class ExchangePlan:
    """One OCPI call: ``request_id`` (``demo-…``) is its natural key."""

    request_id: str
    at: datetime
    direction: str
    method: str
    url: str
    module: str
    http_status: int | None
    ocpi_status: int | None
    duration_ms: int
    response_size: int
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return (
            self.http_status is not None
            and 200 <= self.http_status < 300
            and (self.ocpi_status is None or 1000 <= self.ocpi_status < 2000)
        )


#: Ways a call fails, by weight: (HTTP status, OCPI status, error).
_FAILURES: tuple[tuple[int, tuple[int | None, int | None, str]], ...] = (
    (5, (None, None, "timed out after 20 s")),
    (3, (503, None, "503 Service Unavailable")),
    (2, (502, None, "502 Bad Gateway")),
    (2, (200, 3001, "Unable to use the client's API: upstream CPO did not answer")),
    (1, (401, 2001, "Invalid or missing parameters: unknown token")),
)
#: Share of calls that fail on an ordinary day, in per mille; an outage day fails far more.
_FAILURE_PER_MILLE = 25
_OUTAGE_PER_MILLE = 600


def _exchange_plan(
    spec: PartnerSpec, connection: PartnerConnection, day: date, anchor: datetime
) -> list[ExchangePlan]:
    """The calls of one day with one partner: periodic pulls and pushes at the intervals of
    ``spec.traffic``, with a few failures, and an outage of a few hours on one day a week."""
    assert spec.traffic is not None
    rng = random.Random(_digest("exchanges", spec.key, day.isoformat()))
    outage_hours: set[int] = set()
    if (day - anchor.date()).days % 7 == 3:  # one bad day a week, at night
        begin = rng.randint(0, 20)
        outage_hours = set(range(begin, begin + rng.randint(2, 4)))
    version = connection.version
    base = str(settings.OCPI_BASE_URL).rstrip("/")
    calls: list[ExchangePlan] = []
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    for module, direction, minutes in spec.traffic:
        inbound = direction == Direction.INBOUND
        if inbound:
            # They call us: our side of the module (CPO Sender for what they pull).
            # They call our CPO side: they pull locations and tariffs, they push their tokens.
            url = f"{base}/ocpi/{version}/cpo/{module}"
            method = "PUT" if module == "tokens" else "GET"
        else:
            url = connection.endpoint_url(module, "SENDER") or f"{spec.base_url}/{module}"
            method = "GET"
        offset = rng.randrange(minutes)
        for n in range(24 * 60 // minutes + 1):
            at = midnight + timedelta(minutes=offset + n * minutes, seconds=rng.randrange(50))
            if at.date() != day:
                break
            per_mille = _OUTAGE_PER_MILLE if at.hour in outage_hours else _FAILURE_PER_MILLE
            http_status: int | None = 200
            ocpi_status: int | None = 1000
            error = ""
            if rng.randrange(1000) < per_mille:
                weights = [w for w, _ in _FAILURES]
                http_status, ocpi_status, error = rng.choices(
                    [f for _, f in _FAILURES], weights=weights
                )[0]
            duration = 20_000 if http_status is None else rng.randint(40, 900)
            calls.append(
                ExchangePlan(
                    request_id=f"demo-{spec.key}-{module}-{direction}-{at:%Y%m%d%H%M%S}",
                    at=at,
                    direction=str(direction),
                    method=method,
                    url=url,
                    module=module,
                    http_status=http_status,
                    ocpi_status=ocpi_status,
                    duration_ms=duration,
                    response_size=0 if http_status is None else rng.randint(120, 48_000),
                    error=error,
                )
            )
    return calls


def _pushes_received(
    plan: Plan, connection: PartnerConnection, since: datetime, now: datetime
) -> list[ExchangePlan]:
    """The hub CPOs' pushes of our drivers' sessions (at start and end) and of their CDRs."""
    base = str(settings.OCPI_BASE_URL).rstrip("/")
    version = connection.version
    calls: list[ExchangePlan] = []
    for sp in plan.sessions:
        if not sp.received or sp.end < since or sp.end > now:
            continue
        session_url = f"{base}/ocpi/{version}/emsp/sessions/{sp.session_id}"
        for n, at in enumerate((sp.start, sp.end)):
            if at >= since:
                calls.append(
                    ExchangePlan(
                        request_id=f"demo-hub-session-{sp.session_id}-{n}",
                        at=at + timedelta(seconds=20),
                        direction=str(Direction.INBOUND),
                        method="PUT",
                        url=session_url,
                        module="sessions",
                        http_status=200,
                        ocpi_status=1000,
                        duration_ms=60,
                        response_size=120,
                    )
                )
        if sp.cdr_created_at is not None and since <= sp.cdr_created_at <= now:
            calls.append(
                ExchangePlan(
                    request_id=f"demo-hub-cdr-{sp.cdr_id}",
                    at=sp.cdr_created_at,
                    direction=str(Direction.INBOUND),
                    method="POST",
                    url=f"{base}/ocpi/{version}/emsp/cdrs",
                    module="cdrs",
                    http_status=200,
                    ocpi_status=1000,
                    duration_ms=140,
                    response_size=120,
                )
            )
    return calls


def _ensure_exchanges_and_cursors(
    plan: Plan,
    connections: dict[str, PartnerConnection],
    sessions: dict[SessionKey, ChargingSession],
    now: datetime,
) -> None:
    """The last LOG_DAYS of OCPI traffic with the partners that speak a version we support,
    and the sync cursors those pulls leave behind (schedule, high-water mark, counts).

    The partner on a version we cannot speak gets cursors with their schedule and no traffic:
    nothing has been exchanged with it. Calls of the demo never go in before the newest real
    (non-demo) call of a connection, so they never mix with what the portal really did.
    """
    since = now - timedelta(days=LOG_DAYS)
    days = [since.date() + timedelta(days=n) for n in range(LOG_DAYS + 1)]
    for spec in PARTNERS:
        connection = connections[spec.key]
        if spec.traffic is None:
            _ensure_cursors(spec, connection, [])
            continue
        calls = [c for day in days for c in _exchange_plan(spec, connection, day, plan.anchor)]
        if spec.key == HUB:
            calls += _pushes_received(plan, connection, since, now)
        calls = [c for c in calls if since <= c.at <= now]
        real = (
            ExchangeLogEntry.objects.filter(connection=connection)
            .exclude(request_id__startswith="demo-")
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if real is not None:
            calls = [c for c in calls if c.at > real]
        known = set(
            ExchangeLogEntry.objects.filter(
                connection=connection, request_id__startswith="demo-", created_at__gte=since
            ).values_list("request_id", flat=True)
        )
        ExchangeLogEntry.objects.bulk_create(
            [
                ExchangeLogEntry(
                    created_at=c.at,
                    direction=c.direction,
                    connection=connection,
                    method=c.method,
                    url=c.url,
                    module=c.module,
                    http_status=c.http_status,
                    ocpi_status=c.ocpi_status,
                    duration_ms=c.duration_ms,
                    request_id=c.request_id,
                    correlation_id=c.request_id,
                    response_size=c.response_size,
                    error=c.error,
                )
                for c in calls
                if c.request_id not in known
            ],
            batch_size=500,
        )
        _ensure_cursors(spec, connection, [c for c in calls if c.direction == Direction.OUTBOUND])


#: (incremental minutes, full resync hours) per module we pull.
_SCHEDULES = {
    "locations": (15, 24),
    "tariffs": (60, 24),
    "sessions": (15, 0),
    "cdrs": (30, 0),
    "tokens": (60, 24),
}


def _ensure_cursors(
    spec: PartnerSpec, connection: PartnerConnection, pulls: list[ExchangePlan]
) -> None:
    """A cursor per module we pull from the partner, on its schedule; its state follows the
    demo's pulls when they are newer than what the cursor last saw (a real run wins)."""
    modules = [m for m, role in spec.modules if role == "SENDER" and m in _SCHEDULES]
    for module in modules:
        interval, full_hours = _SCHEDULES[module]
        cursor, _ = SyncCursor.objects.get_or_create(
            connection=connection,
            module=module,
            defaults={"interval_minutes": interval, "full_interval_hours": full_hours},
        )
        mine = sorted((c for c in pulls if c.module == module), key=lambda c: c.at)
        if not mine or cursor.in_progress:
            continue
        last = mine[-1]
        if cursor.last_run_at is not None and cursor.last_run_at >= last.at:
            continue
        ok = [c for c in mine if c.succeeded]
        failed = [c for c in mine if not c.succeeded]
        cursor.last_run_at = last.at
        if ok:
            cursor.last_success_at = cursor.high_water = ok[-1].at
            if full_hours:  # the nightly full resync: the last good pull in a day's first hour
                cursor.last_full_at = next((c.at for c in reversed(ok) if c.at.hour == 0), None)
        if failed:
            cursor.last_error = failed[-1].error
            cursor.last_error_at = failed[-1].at
        cursor.successes = len(ok)
        cursor.failures = len(failed)
        cursor.last_run_objects = 0 if not last.succeeded else last.response_size // 400
        cursor.save()
