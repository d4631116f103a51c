"""Pull sync of the functional modules: each module's Sender list, served by a local paginated
partner with the spec's example objects, ends in our store through the same canonical service
as a push (incremental windows, stale copies ignored, foreign and invalid objects counted and
skipped); and a pull of Locations and Tariffs from a real second roamdesk platform (the CPO)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Model
from django.test import override_settings
from django.utils import timezone

from apps.cdrs.enums import CdrOrigin
from apps.cdrs.models import Cdr
from apps.charging_sessions.models import ChargingSession
from apps.locations.models import Location
from apps.locations.selectors import locations_with_children
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common.client import OcpiClient, RoutingHeaders
from apps.ocpi.common.timestamps import format_ocpi_datetime
from apps.ocpi.models import SyncCursor
from apps.ocpi.services.sync import EPOCH, sync_cursors_ensure, sync_run
from apps.ocpi.v2_2_1.cdrs.views import cdrs_for_rendering
from apps.partners.models import PartnerConnection, Party
from apps.tariffs.models import Tariff
from apps.tokens.models import Token
from tests.factories import ConnectionFactory, PartyFactory
from tests.ocpi.callers import own_party
from tests.ocpi.contract import comparable, example
from tests.ocpi.httpserver import OcpiPeer
from tests.ocpi.paginated import PaginatedPartner, last_updated
from tests.ocpi.peer import PeerPlatform
from tests.ocpi.peer import peer_platform as peer_platform  # fixture

Wire = dict[str, Any]
Key = tuple[str, ...]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local() -> Iterator[None]:
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        yield


# -- the modules ----------------------------------------------------------------------------------
def _ids(obj: Wire, *more: str) -> Key:
    return (
        str(obj["country_code"]).upper(),
        str(obj["party_id"]).upper(),
        *(str(obj[name]) for name in more),
    )


@dataclass(frozen=True)
class Module:
    name: str  # the module identifier
    kind: str  # what we render our copies as
    our_role: str
    partner_role: str
    examples: tuple[str, ...]  # whole objects, distinct identities, under tests/fixtures
    page_size: int
    key: Callable[[Wire], Key]  # an object's identity on the wire
    held: Callable[[], list[Model]]  # our copies
    held_key: Callable[[Any], Key]  # a copy's identity

    def load(self) -> list[Wire]:
        return [example(self.name, name) for name in self.examples]


MODULES = [
    Module(
        "locations",
        "location",
        "EMSP",
        "CPO",
        (
            "location_example.json",
            "location_example_parking_garage_opening_hours.json",
            "location_example_uc2_destination_charger.json",
            "location_example_uc4_limited_visibility.json",
            "location_example_uc5_home_charge_point.json",
        ),
        2,
        key=lambda o: _ids(o, "id"),
        held=lambda: list(locations_with_children(Location.objects.select_related("party"))),
        held_key=lambda o: (o.party.country_code, o.party.party_id, o.location_id),
    ),
    Module(
        "tariffs",
        "tariff",
        "EMSP",
        "CPO",
        (
            "tariff_1_simple_2hour.json",
            "tariff_3_alt_url.json",
            "tariff_4_complex.json",
            "tariff_5_free_of_charge.json",
            "tariff_8_simple_025kwh.json",
            "tariff_9_025kwh_start.json",
            "tariff_10_025kwh_parking_start.json",
            "tariff_11_not_possible_alt_text.json",
            "tariff_12_025kwh_min_price.json",
        ),
        4,
        key=lambda o: _ids(o, "id"),
        held=lambda: list(Tariff.objects.filter(deleted_at__isnull=True).select_related("party")),
        held_key=lambda o: (o.party.country_code, o.party.party_id, o.tariff_id),
    ),
    Module(
        "sessions",
        "session",
        "EMSP",
        "CPO",
        ("session_example_1_simple_start.json", "session_example_2_short_finished.json"),
        1,
        key=lambda o: _ids(o, "id"),
        held=lambda: list(ChargingSession.objects.select_related("party")),
        held_key=lambda o: (o.party.country_code, o.party.party_id, o.session_id),
    ),
    Module(
        "cdrs",
        "cdr",
        "EMSP",
        "CPO",
        ("cdr_example.json",),
        1,
        key=lambda o: _ids(o, "id"),
        held=lambda: list(cdrs_for_rendering(Cdr.objects.filter(origin=CdrOrigin.RECEIVED))),
        held_key=lambda o: (o.party.country_code, o.party.party_id, o.cdr_id),
    ),
    Module(
        "tokens",
        "token",
        "CPO",
        "EMSP",
        (
            "token_example_1_app_user.json",
            "token_example_2_full_rfid.json",
            "token_put_example.json",
        ),
        2,
        key=lambda o: _ids(o, "uid", "type"),
        held=lambda: list(Token.objects.select_related("party")),
        held_key=lambda o: (o.party.country_code, o.party.party_id, o.uid, o.type),
    ),
]
BY_NAME = {m.name: m for m in MODULES}
each_module = pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])


def connect(module: Module, partner: PaginatedPartner, *, parties: set[tuple[str, str]]) -> int:
    """Our side (an own party in ``module.our_role``) connected to the partner, which
    represents ``parties`` and offers ``module``'s Sender list; returns the connection id."""
    Party.objects.own().update(roles=[module.our_role])
    own_party(module.our_role)
    first = PartyFactory.create(roles=[module.partner_role])
    connection = ConnectionFactory.create(
        partner=first.partner,
        status="CONNECTED",
        version="2.2.1",
        endpoints=[{"identifier": module.name, "role": "SENDER", "url": partner.url}],
    )
    connection.set_send_token("token-for-the-partner")
    connection.save()
    represented = [
        PartyFactory.create(
            partner=first.partner, country_code=cc, party_id=pid, roles=[module.partner_role]
        )
        for cc, pid in sorted(parties)
    ]
    connection.represented_parties.set(represented)
    return int(connection.pk)


def owners(objects: list[Wire]) -> set[tuple[str, str]]:
    return {(o["country_code"].upper(), o["party_id"].upper()) for o in objects}


def held(module: Module) -> dict[Key, Any]:
    """Our copies, rendered as the partner would send them (comparable form)."""
    adapter = get_adapter("standard", "2.2.1")
    return {
        module.held_key(obj): comparable(adapter.render(module.kind, obj)) for obj in module.held()
    }


def expected(module: Module, objects: list[Wire]) -> dict[Key, Any]:
    """The newest object of each identity (a later one of the same age replaces it)."""
    latest: dict[Key, Wire] = {}
    for obj in objects:
        key = module.key(obj)
        if key not in latest or last_updated(obj) >= last_updated(latest[key]):
            latest[key] = obj
    return {key: comparable(obj) for key, obj in latest.items()}


def newer(module: Module, obj: Wire, moment: Any) -> Wire:
    """``obj`` changed at ``moment`` (a CDR never changes: a new CDR instead)."""
    changed = copy.deepcopy(obj)
    changed["last_updated"] = format_ocpi_datetime(moment)
    if module.name == "cdrs":
        changed["id"] = f"{obj['id']}-2"
    return changed


def pages(count: int, size: int) -> int:
    return max(1, -(-count // size))


# -- a local partner -----------------------------------------------------------------------------
@each_module
def test_a_pull_holds_the_partners_objects_then_continues_incrementally(
    module: Module, ocpi_peer: OcpiPeer
) -> None:
    objects = module.load()
    partner = PaginatedPartner(ocpi_peer, list(objects), page_size=module.page_size, path="/list")
    connection_id = connect(module, partner, parties=owners(objects))

    first = sync_run(connection_id=connection_id, module=module.name)
    assert first.completed, first.error
    assert (first.pages, first.objects, first.invalid) == (
        pages(len(objects), module.page_size),
        len(objects),
        0,
    )
    assert held(module) == expected(module, objects)
    request = ocpi_peer.requests[0]
    if module.name == "sessions":  # required on this list (spec 7.2.1): the epoch at first
        assert request.query["date_from"] == [format_ocpi_datetime(EPOCH)]
    else:
        assert "date_from" not in request.query  # nothing held yet: everything
    date_to = request.query["date_to"]
    # From our party in the role that pulls, to the one party the connection represents.
    assert request.headers["OCPI-from-country-code"] == "NL"
    assert request.headers["OCPI-from-party-id"] == "RDK"
    if len(owners(objects)) == 1:
        assert request.headers["OCPI-to-party-id"] == objects[0]["party_id"]
    else:  # several parties: open routing, the list of all of them
        assert "OCPI-to-party-id" not in request.headers

    # A change after the first window's end arrives in the second window, alone.
    partner.objects.append(newer(module, objects[0], timezone.now() + timedelta(seconds=1)))
    time.sleep(1.1)
    ocpi_peer.requests.clear()
    second = sync_run(connection_id=connection_id, module=module.name)
    assert second.completed, second.error
    assert (second.objects, second.invalid) == (1, 0)
    assert ocpi_peer.requests[0].query["date_from"] == date_to  # no gap, no overlap
    assert held(module) == expected(module, partner.objects)
    assert len(held(module)) == len(objects) + (1 if module.name == "cdrs" else 0)


@each_module
def test_a_stale_copy_does_not_overwrite_a_newer_one(module: Module, ocpi_peer: OcpiPeer) -> None:
    objects = module.load()
    recent = [newer(module, o, last_updated(o) + timedelta(days=1)) for o in objects]
    if module.name == "cdrs":  # the same CDR twice: stored once, left as it is
        recent = [copy.deepcopy(o) for o in objects]
    served = [*recent, *objects]  # the newer copies are on the earlier pages
    partner = PaginatedPartner(ocpi_peer, served, page_size=module.page_size, path="/list")
    connection_id = connect(module, partner, parties=owners(objects))
    report = sync_run(connection_id=connection_id, module=module.name)
    assert report.completed, report.error
    assert (report.objects, report.invalid) == (len(served), 0)
    assert held(module) == expected(module, recent)
    assert held(module) != expected(module, objects) or module.name == "cdrs"


@each_module
def test_foreign_and_invalid_objects_are_counted_and_the_rest_is_stored(
    module: Module, ocpi_peer: OcpiPeer
) -> None:
    objects = module.load()
    foreign = copy.deepcopy(objects[0])
    foreign.update(country_code="FR", party_id="ZZZ")  # a party the connection does not speak for
    invalid = copy.deepcopy(objects[-1])
    invalid["party_id"] = "TOOLONG"  # not a party id: the object cannot be parsed
    served = [*objects[:1], foreign, invalid, *objects[1:]]
    partner = PaginatedPartner(ocpi_peer, served, page_size=module.page_size, path="/list")
    connection_id = connect(module, partner, parties=owners(objects))
    report = sync_run(connection_id=connection_id, module=module.name)
    assert report.completed, report.error
    assert (report.objects, report.invalid) == (len(objects), 2)
    assert held(module) == expected(module, objects)
    assert not Party.objects.filter(country_code="FR", party_id="ZZZ").exists()
    cursor = SyncCursor.objects.get(connection_id=connection_id, module=module.name)
    assert (cursor.last_run_objects, cursor.last_run_invalid) == (len(objects), 2)


def test_pulled_cdrs_are_pricing_checked_and_never_changed(ocpi_peer: OcpiPeer) -> None:
    module = BY_NAME["cdrs"]
    cdr = example("cdrs", "cdr_example.json")
    changed = copy.deepcopy(cdr)  # the same CDR, other amounts: refused like a POST of it
    changed["total_cost"] = {"excl_vat": Decimal("9.00"), "incl_vat": Decimal("9.90")}
    mispriced = copy.deepcopy(changed)
    mispriced["id"] = "DEAR"
    mispriced["total_time_cost"] = {"excl_vat": Decimal("9.00"), "incl_vat": Decimal("9.90")}
    served = [cdr, changed, mispriced, copy.deepcopy(cdr)]
    partner = PaginatedPartner(ocpi_peer, served, page_size=2, path="/list")
    connection_id = connect(module, partner, parties=owners([cdr]))
    report = sync_run(connection_id=connection_id, module="cdrs")
    assert report.completed, report.error
    assert (report.objects, report.invalid) == (3, 1)
    assert held(module) == expected(module, [cdr, mispriced])
    stored = Cdr.objects.get(cdr_id="12345")
    assert stored.total_cost_excl_vat == Decimal("4.00")  # the first delivery, kept
    assert stored.source_connection_id == connection_id
    assert "PRICING_MATCHES" in set(stored.findings.values_list("code", flat=True))
    assert stored.findings.filter(code="PRICING_MATCHES").count() == 1  # checked once
    assert list(Cdr.objects.needs_review()) == [Cdr.objects.get(cdr_id="DEAR")]


def test_a_session_links_to_the_location_we_pulled(ocpi_peer: OcpiPeer) -> None:
    """Pulled objects are linked as pushed ones are: a session to our copy of its location."""
    locations = BY_NAME["locations"]
    site = example("locations", "location_example.json")
    partner = PaginatedPartner(ocpi_peer, [site], path="/list")
    connection_id = connect(locations, partner, parties={("BE", "BEC")})
    assert sync_run(connection_id=connection_id, module="locations").completed
    session = example("sessions", "session_example_2_short_finished.json")  # BE*BEC at LOC1
    partner.objects = [session]
    connection = PartnerConnection.objects.get(pk=connection_id)
    connection.endpoints = [{"identifier": "sessions", "role": "SENDER", "url": partner.url}]
    connection.save()
    report = sync_run(connection_id=connection_id, module="sessions")
    assert report.completed, report.error
    stored = ChargingSession.objects.get()
    assert stored.location == Location.objects.get(location_id="LOC1")
    assert stored.evse is not None
    assert stored.evse.uid == session["evse_uid"]


def test_we_pull_the_modules_of_our_roles(ocpi_peer: OcpiPeer) -> None:
    Party.objects.own().update(roles=["EMSP"])
    own_party("EMSP")
    party = PartyFactory.create(roles=["CPO", "EMSP"])
    connection = ConnectionFactory.create(
        partner=party.partner,
        status="CONNECTED",
        version="2.2.1",
        endpoints=[
            {"identifier": name, "role": "SENDER", "url": ocpi_peer.url(f"/{name}")}
            for name in ("locations", "tariffs", "sessions", "cdrs", "tokens")
        ]
        + [{"identifier": "commands", "role": "RECEIVER", "url": ocpi_peer.url("/commands")}],
    )
    connection.represented_parties.set([party])
    pulled = {c.module for c in sync_cursors_ensure() if c.connection_id == connection.pk}
    assert pulled == {"locations", "tariffs", "sessions", "cdrs"}  # not tokens: we are no CPO


# -- a real roamdesk CPO -------------------------------------------------------------------------
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "2.2.1"

PEER_CPO = """
from pathlib import Path
from apps.ocpi.adapters.registry import get_adapter
from apps.ocpi.common import jsonutil
from apps.locations.services import location_upsert
from apps.partners.models import Partner, PartnerConnection, Party
from apps.partners.services import connection_issue_token
from apps.tariffs.models import Tariff
from apps.tariffs.services import tariff_publish_version
ours = Party.objects.own().get()
ours.roles = ['CPO']
ours.save()
partner = Partner.objects.create(name='roamdesk NL')
connection = PartnerConnection.objects.create(
    partner=partner, name='NL', status='CONNECTED', version='2.2.1')
emsp = Party.objects.create(
    partner=partner, country_code='NL', party_id='RDK', roles=['EMSP'], name='roamdesk')
connection.represented_parties.add(emsp)
adapter = get_adapter('standard', '2.2.1')
for path in LOCATIONS:
    data = adapter.parse('location', jsonutil.loads(Path(path).read_bytes()))
    location_upsert(party=ours, location_id=data['location_id'], data=data, source_connection=None)
for path in TARIFFS:
    data = adapter.parse('tariff', jsonutil.loads(Path(path).read_bytes()))
    tariff = Tariff.objects.create(
        party=ours, tariff_id=data.tariff_id, last_updated=data.content.last_updated)
    tariff_publish_version(tariff=tariff, content=data.content)
result = connection_issue_token(connection=connection, registration=False)
"""


@pytest.mark.slow
def test_a_pull_from_a_roamdesk_cpo_holds_what_its_sender_lists_show(
    peer_platform: PeerPlatform,
) -> None:
    peer = peer_platform
    locations = [
        FIXTURES / "locations" / name
        for name in ("location_example.json", "location_example_uc4_limited_visibility.json")
    ]
    tariffs = [
        FIXTURES / "tariffs" / name
        for name in ("tariff_1_simple_2hour.json", "tariff_4_complex.json")
    ]
    setup = f"LOCATIONS = {json.dumps([str(p) for p in locations])}\n"
    setup += f"TARIFFS = {json.dumps([str(p) for p in tariffs])}\n"
    token = peer.python(setup + PEER_CPO)

    own_party("EMSP")
    cpo = PartyFactory.create(country_code="DE", party_id="PBB", roles=["CPO"])
    connection = ConnectionFactory.create(
        partner=cpo.partner,
        status="CONNECTED",
        version="2.2.1",
        endpoints=[
            {
                "identifier": module,
                "role": "SENDER",
                "url": f"{peer.base_url}/ocpi/2.2.1/cpo/{module}",
            }
            for module in ("locations", "tariffs")
        ],
    )
    connection.set_send_token(token)
    connection.save()
    connection.represented_parties.set([cpo])

    routing = RoutingHeaders(
        to_country_code="DE", to_party_id="PBB", from_country_code="NL", from_party_id="RDK"
    )
    for name, count in (("locations", len(locations)), ("tariffs", len(tariffs))):
        report = sync_run(connection_id=connection.pk, module=name)
        assert report.completed, report.error
        assert (report.objects, report.invalid) == (count, 0)
        module = BY_NAME[name]
        with OcpiClient.for_connection(connection) as client:
            page = client.get(
                f"{peer.base_url}/ocpi/2.2.1/cpo/{name}", routing=routing
            ).raise_for_status()
        assert isinstance(page.data, list)
        assert len(page.data) == count
        assert held(module) == {module.key(o): comparable(o) for o in page.data}
        assert all(k[:2] == ("DE", "PBB") for k in held(module))
