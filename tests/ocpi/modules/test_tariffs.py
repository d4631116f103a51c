"""OCPI 2.2.1 Tariffs (spec 9): the Receiver (a CPO pushes its tariffs to us as eMSP, each
distinct content a new immutable version) and the Sender (an eMSP pulls our published tariffs).
"""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.core.models import AuditLogEntry
from apps.ocpi.common import jsonutil
from apps.partners.enums import PublishScope
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.services import tariff_publish_version, tariff_receive
from tests.factories import T0, PartyFactory, TariffFactory
from tests.factories.tariffs_cdrs import energy_content, published_tariff
from tests.ocpi.callers import Caller, own_party, partner_caller
from tests.ocpi.contract import comparable

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ocpi" / "2.2.1" / "tariffs"
EXAMPLES = sorted(p for p in FIXTURES.glob("tariff*.json") if p.name != "tariff_put_example.json")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads((FIXTURES / name).read_bytes())
    return data


def simple() -> dict[str, Any]:
    """The spec's simple tariff (2.00/hour), as tariff 13 (the example calls it 12)."""
    return {**load("tariff_1_simple_2hour.json"), "id": "13"}


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads(response.content)
    return data


@pytest.fixture
def cpo() -> Caller:
    """A partner CPO DE*ALL (the owner in the spec's examples); we play eMSP."""
    own_party("EMSP")
    return partner_caller("CPO", country_code="DE", party_id="ALL")


def url(tariff_id: str, country_code: str = "DE", party_id: str = "ALL") -> str:
    return f"emsp/tariffs/{country_code}/{party_id}/{tariff_id}"


# -- receiver ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_spec_examples_round_trip(cpo: Caller, path: Path) -> None:
    example = jsonutil.loads(path.read_bytes())
    put = cpo.put(url(example["id"]), example)
    assert put.status_code == 201, put.content
    assert body(put)["status_code"] == 1000

    got = cpo.get(url(example["id"]))
    assert got.status_code == 200
    assert comparable(body(got)["data"]) == comparable(example)


def test_every_field_round_trips(cpo: Caller) -> None:
    tariff = load("tariff_4_complex.json")
    tariff.update(
        {
            "tariff_alt_text": [{"language": "en", "text": "Peak hours cost more."}],
            "min_price": {"excl_vat": Decimal("1.50"), "incl_vat": Decimal("1.80")},
            "max_price": {"excl_vat": Decimal("50")},
            "start_date_time": "2026-01-01T00:00:00Z",
            "end_date_time": "2027-01-01T00:00:00Z",
            "energy_mix": {
                "is_green_energy": False,
                "energy_sources": [
                    {"source": "GENERAL_GREEN", "percentage": Decimal("35.9")},
                    {"source": "GAS", "percentage": Decimal("64.1")},
                ],
                "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": Decimal("372")}],
                "supplier_name": "E.ON Energy Deutschland",
                "energy_product_name": "E.ON DirektStrom eco",
            },
        }
    )
    assert cpo.put(url("14"), tariff).status_code == 201
    got = body(cpo.get(url("14")))["data"]
    assert comparable(got) == comparable(tariff)
    # Numbers go out as JSON numbers, never strings.
    raw = cpo.get(url("14")).content.decode()
    assert '"excl_vat":1.5,' in raw
    assert '"percentage":35.9' in raw


def test_each_put_records_a_version_and_same_content_records_none(cpo: Caller) -> None:
    tariff = simple()
    assert cpo.put(url("13"), tariff).status_code == 201
    stored = Tariff.objects.get(party__party_id="ALL", tariff_id="13")
    [v1] = stored.versions.all()
    assert v1.origin == VersionOrigin.RECEIVED
    assert v1.source_connection == cpo.connection
    assert v1.number == 1
    assert v1.elements[0]["price_components"][0]["price"] == "2"

    # Same content, written differently (2.0 vs 2.00) and re-sent later: no new version.
    again = copy.deepcopy(tariff)
    again["elements"][0]["price_components"][0]["price"] = Decimal("2.0")
    again["last_updated"] = "2015-07-01T00:00:00Z"
    replaced = cpo.put(url("13"), again)
    assert replaced.status_code == 200
    assert body(replaced)["status_code"] == 1000
    assert stored.versions.count() == 1
    stored.refresh_from_db()
    assert stored.last_updated.isoformat() == "2015-07-01T00:00:00+00:00"
    assert body(cpo.get(url("13")))["data"]["last_updated"] == "2015-07-01T00:00:00Z"

    # Changed prices: version 2, and GET shows it; version 1 is untouched.
    dearer = copy.deepcopy(again)
    dearer["elements"][0]["price_components"][0]["price"] = Decimal("2.50")
    dearer["last_updated"] = "2015-08-01T00:00:00Z"
    assert cpo.put(url("13"), dearer).status_code == 200
    assert list(stored.versions.order_by("number").values_list("number", "origin")) == [
        (1, VersionOrigin.RECEIVED),
        (2, VersionOrigin.RECEIVED),
    ]
    v1.refresh_from_db()
    assert v1.elements[0]["price_components"][0]["price"] == "2"
    got = body(cpo.get(url("13")))["data"]
    assert got["elements"][0]["price_components"][0]["price"] == Decimal("2.5")
    assert AuditLogEntry.objects.filter(action="tariff.version_recorded").count() == 2


def test_stale_put_is_ignored(cpo: Caller) -> None:
    tariff = simple()  # last_updated 2015-06-29T20:39:09Z
    cpo.put(url("13"), tariff)
    older = copy.deepcopy(tariff)
    older["elements"][0]["price_components"][0]["price"] = Decimal("9.99")
    older["last_updated"] = "2015-06-01T00:00:00Z"
    response = cpo.put(url("13"), older)
    assert response.status_code == 200
    assert body(response)["status_code"] == 1000
    assert "ignored" in body(response)["status_message"]
    assert TariffVersion.objects.count() == 1
    assert body(cpo.get(url("13")))["data"]["elements"] == tariff["elements"]


def test_delete_withdraws_and_keeps_the_versions(cpo: Caller) -> None:
    tariff = simple()
    cpo.put(url("13"), tariff)
    deleted = cpo.delete(url("13"))
    assert deleted.status_code == 200
    assert body(deleted)["status_code"] == 1000
    stored = Tariff.objects.get(tariff_id="13")
    assert stored.deleted_at is not None
    assert stored.versions.count() == 1

    assert cpo.get(url("13")).status_code == 404
    assert cpo.delete(url("13")).status_code == 404

    # Pushed again later: back, as a new tariff for the partner, with its history kept.
    tariff["last_updated"] = "2016-01-01T00:00:00Z"
    tariff["elements"][0]["price_components"][0]["price"] = Decimal("3")
    assert cpo.put(url("13"), tariff).status_code == 201
    stored.refresh_from_db()
    assert stored.deleted_at is None
    assert stored.versions.count() == 2


def test_ids_are_case_insensitive(cpo: Caller) -> None:
    tariff = simple()
    tariff["id"] = "Tariff-A"
    assert cpo.put(url("Tariff-A"), tariff).status_code == 201
    assert cpo.get(url("TARIFF-a", "de", "all")).status_code == 200
    tariff["last_updated"] = "2016-01-01T00:00:00Z"
    assert cpo.put(url("tariff-a", "de", "all"), {**tariff, "id": "tariff-a"}).status_code == 200
    assert Tariff.objects.count() == 1


def test_another_partys_tariff_is_404_and_nothing_changes(cpo: Caller) -> None:
    other = PartyFactory.create(country_code="NL", party_id="OTH", roles=["CPO"])
    theirs = TariffFactory.create(party=other, tariff_id="13")
    tariff = {**simple(), "country_code": "NL", "party_id": "OTH"}
    response = cpo.put(url("13", "NL", "OTH"), tariff)
    assert response.status_code == 404
    assert body(response)["status_code"] == 2000
    assert cpo.get(url("13", "NL", "OTH")).status_code == 404
    assert cpo.delete(url("13", "NL", "OTH")).status_code == 404
    theirs.refresh_from_db()
    assert theirs.deleted_at is None
    assert TariffVersion.objects.count() == 0


def test_our_own_tariffs_cannot_be_reached_through_the_receiver(cpo: Caller) -> None:
    ours = published_tariff(own_party("CPO"), tariff_id="13")
    response = cpo.put(url("13", "NL", "RDK"), simple())
    assert response.status_code == 404
    assert cpo.get(url("13", "NL", "RDK")).status_code == 404
    assert ours.versions.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.update(id="other"), "id: 'other' in the body does not match '13'"),
        (lambda t: t.update(party_id="XXX"), "party_id"),
        (lambda t: t.pop("last_updated"), "last_updated: This field is required"),
        (lambda t: t.update(currency="euro"), "currency"),
        (lambda t: t.update(elements=[]), "elements"),
        (lambda t: t.update(type="CHEAP"), "type"),
        (lambda t: t.update(tariff_alt_url="not a url"), "tariff_alt_url"),
        (
            lambda t: t["elements"][0]["price_components"][0].update(type="KWH"),
            "elements[0].price_components[0].type",
        ),
        (
            lambda t: t["elements"][0]["price_components"][0].update(price="2.00"),
            "elements[0].price_components[0].price: must be a JSON number",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"start_time": "25:00"}),
            "elements[0].restrictions.start_time",
        ),
        (
            lambda t: t["elements"][0].update(restrictions={"day_of_week": ["MON"]}),
            "elements[0].restrictions.day_of_week",
        ),
        (lambda t: t.update(tariff_alt_text=[{"language": "en"}]), "tariff_alt_text[0].text"),
        (lambda t: t.update(energy_mix={"is_green_energy": "yes"}), "energy_mix.is_green_energy"),
        (lambda t: t.update(id="x" * 37), "id"),
        (
            lambda t: t.update(
                start_date_time="2026-02-01T00:00:00Z", end_date_time="2026-01-01T00:00:00Z"
            ),
            "end_date_time",
        ),
    ],
)
def test_invalid_tariff_is_2001_naming_the_field(cpo: Caller, change: Any, field: str) -> None:
    tariff = simple()
    change(tariff)
    response = cpo.put(url("13"), tariff)
    assert response.status_code == 200
    assert body(response)["status_code"] == 2001
    assert field in body(response)["status_message"]
    assert Tariff.objects.count() == 0


def test_the_spec_put_example_without_last_updated_is_refused(cpo: Caller) -> None:
    response = cpo.put(url("12"), load("tariff_put_example.json"))
    assert body(response)["status_code"] == 2001
    assert "last_updated" in body(response)["status_message"]


def test_receiver_has_no_list_and_no_post(cpo: Caller) -> None:
    assert cpo.get("emsp/tariffs").status_code == 405
    assert cpo.post(url("13"), simple()).status_code == 405
    assert cpo.patch(url("13"), {"last_updated": "2026-01-01T00:00:00Z"}).status_code == 405


# -- sender ------------------------------------------------------------------------------------
@pytest.fixture
def emsp() -> Caller:
    """A partner eMSP pulling our tariffs; we play CPO."""
    return partner_caller("EMSP", country_code="DE", party_id="MSP")


def ids(response: Any) -> list[str]:
    return [t["id"] for t in body(response)["data"]]


def test_sender_lists_what_is_published_to_the_caller(emsp: Caller) -> None:
    ours = own_party("CPO")
    stranger = partner_caller("EMSP", country_code="FR", party_id="STR")
    published_tariff(ours, tariff_id="ALL-1", scope=PublishScope.ALL)
    published_tariff(
        ours, tariff_id="SEL-1", scope=PublishScope.SELECTED, partners=[emsp.connection.partner]
    )
    published_tariff(
        ours,
        tariff_id="SEL-2",
        scope=PublishScope.SELECTED,
        partners=[stranger.connection.partner],
    )
    published_tariff(ours, tariff_id="NONE-1", scope=PublishScope.NONE)
    withdrawn = published_tariff(ours, tariff_id="GONE-1")
    Tariff.objects.filter(pk=withdrawn.pk).update(deleted_at=T0)
    TariffFactory.create(party=ours, tariff_id="NO-VERSION")  # nothing to render yet
    # A partner's tariff we hold as eMSP is not ours to send.
    partner = partner_caller("CPO", country_code="BE", party_id="CPX")
    tariff_receive(
        party=partner.party,
        tariff_id="PARTNER-1",
        content=energy_content(),
        source_connection=partner.connection,
    )

    response = emsp.get("cpo/tariffs")
    assert response.status_code == 200
    assert sorted(ids(response)) == ["ALL-1", "SEL-1"]
    assert response["X-Total-Count"] == "2"
    assert sorted(ids(stranger.get("cpo/tariffs"))) == ["ALL-1", "SEL-2"]


def test_sender_renders_the_latest_version(emsp: Caller) -> None:
    tariff = published_tariff(own_party("CPO"), tariff_id="T1")
    tariff_publish_version(
        tariff=tariff, content=energy_content("0.31", updated=T0 + timedelta(days=1))
    )
    [rendered] = body(emsp.get("cpo/tariffs"))["data"]
    assert rendered == {
        "country_code": "NL",
        "party_id": "RDK",
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": Decimal("0.31"), "vat": 19, "step_size": 1}
                ]
            }
        ],
        "last_updated": "2026-10-02T08:00:00Z",
    }


def test_sender_filters_on_last_updated_and_paginates(emsp: Caller) -> None:
    ours = own_party("CPO")
    for day in range(5):
        published_tariff(
            ours, tariff_id=f"D{day}", content=energy_content(updated=T0 + timedelta(days=day))
        )
    window = emsp.get("cpo/tariffs?date_from=2026-10-02T08:00:00Z&date_to=2026-10-04T08:00:00Z")
    assert ids(window) == ["D1", "D2"]

    first = emsp.get("cpo/tariffs?limit=2")
    assert ids(first) == ["D0", "D1"]
    assert first["X-Total-Count"] == "5"
    assert "offset=2" in first["Link"]
    assert ids(emsp.get("cpo/tariffs?offset=4&limit=2")) == ["D4"]


def test_sender_is_not_the_receiver(emsp: Caller) -> None:
    assert emsp.put("cpo/tariffs", {}).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_concurrent_puts_of_a_new_tariff_create_it_once() -> None:
    from django.db import connection as db

    if db.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    own_party("EMSP")
    caller = partner_caller("CPO", country_code="DE", party_id="ALL")
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def push() -> None:
        barrier.wait()
        try:
            response = Caller(caller.connection, caller.token, caller.parties).put(
                url("13"), simple()
            )
            statuses.append(response.status_code)
        finally:
            db.close()

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert Tariff.objects.count() == 1
    assert TariffVersion.objects.count() == 1
