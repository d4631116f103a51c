"""OCPI 2.2.1 Locations (§6): the Receiver (partners' CPOs push their sites to us as eMSP) and
the Sender (partners read the sites of our own CPO parties)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import simplejson

from apps.core.events import DomainChange, _listeners, change_listener
from apps.locations.enums import EvseStatus
from apps.locations.models import Connector, Evse, EvseStatusChange, Location
from apps.locations.services import evse_upsert, location_upsert
from apps.ocpi.v2_2_1.adapter import StandardAdapter
from apps.partners.enums import PublishScope
from tests.factories import ConnectionFactory, PartyFactory, SessionFactory
from tests.factories.locations import location_with_evses
from tests.ocpi.callers import Caller, own_party, partner_caller

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ocpi" / "2.2.1" / "locations"
EXAMPLES = (
    "location_example.json",
    "location_example_parking_garage_opening_hours.json",
    "location_example_uc2_destination_charger.json",
    "location_example_uc3_destination_charger_not_published.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
)
RECEIVER = "emsp/locations"
SENDER = "cpo/locations"
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def example(name: str) -> dict[str, Any]:
    """A spec example (an unmodified copy), numbers as Decimal."""
    data: dict[str, Any] = simplejson.loads((FIXTURES / name).read_text(), use_decimal=True)
    return data


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = simplejson.loads(response.content, use_decimal=True)
    return data


def normalised(value: Any) -> Any:
    """Absent optional fields, nulls and empty lists mean the same (§0)."""
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def url(document: dict[str, Any], *below: str) -> str:
    return "/".join(
        [RECEIVER, document["country_code"], document["party_id"], document["id"], *below]
    )


@pytest.fixture
def cpo() -> Caller:
    """A partner CPO (BE*BEC, the owner of the spec's main example) calling us as eMSP."""
    own_party("EMSP")
    return partner_caller("CPO", country_code="BE", party_id="BEC")


@pytest.fixture
def stored(cpo: Caller) -> dict[str, Any]:
    """location_example.json, pushed by its owner."""
    document = example("location_example.json")
    response = cpo.put(url(document), document)
    assert response.status_code == 201, response.content
    return document


@pytest.fixture
def announced() -> Iterator[list[DomainChange]]:
    changes: list[DomainChange] = []
    listener = change_listener(changes.append)
    yield changes
    _listeners.remove(listener)


def loc(location_id: str = "LOC1") -> Location:
    return Location.objects.get(location_id=location_id)


def evse(uid: str) -> Evse:
    return Evse.objects.get(uid=uid)


# -- Receiver: the spec's examples ------------------------------------------------------------
@pytest.mark.parametrize("name", EXAMPLES)
def test_a_spec_example_is_stored_and_read_back_unchanged(name: str) -> None:
    own_party("EMSP")
    document = example(name)
    caller = partner_caller(
        "CPO", country_code=document["country_code"], party_id=document["party_id"]
    )

    created = caller.put(url(document), document)
    assert (created.status_code, body(created)["status_code"]) == (201, 1000)
    assert "data" not in body(created)
    got = caller.get(url(document))
    assert got.status_code == 200
    assert normalised(body(got)["data"]) == normalised(document)

    replaced = caller.put(url(document), document)
    assert (replaced.status_code, body(replaced)["status_code"]) == (200, 1000)
    assert Location.objects.count() == 1
    assert Evse.objects.count() == len(document["evses"])


def test_every_field_and_nested_type_survives_a_round_trip(cpo: Caller) -> None:
    document = example("location_example.json")
    document.update(
        name="Gent Zuid",
        state="Oost-Vlaanderen",
        publish=False,
        publish_allowed_to=[
            {"uid": "012345678", "type": "RFID"},
            {"visual_number": "NL-TNM-0001", "issuer": "TNM"},
            {"group_id": "FLEET-7"},
        ],
        related_locations=[
            {
                "latitude": "51.04760",
                "longitude": "3.72990",
                "name": {"language": "nl", "text": "Ingang"},
            }
        ],
        directions=[{"language": "en", "text": "Enter via the Kortrijksesteenweg"}],
        suboperator={"name": "Sub", "website": "https://sub.example/"},
        owner={
            "name": "Owner",
            "logo": {
                "url": "https://owner.example/logo.png",
                "thumbnail": "https://owner.example/logo-t.png",
                "category": "OWNER",
                "type": "png",
                "width": 512,
                "height": 512,
            },
        },
        facilities=["CAFE", "WIFI"],
        opening_times=example("location_hours_opening_hours_with_exceptional_closing.json"),
        charging_when_closed=False,
        images=[{"url": "https://cpo.example/site.jpg", "category": "LOCATION", "type": "jpeg"}],
        energy_mix=example("location_energymix_example_complete.json")["energy_mix"],
    )
    # one character longer than the spec's string(10)/string(11), as its own regexes allow
    document["coordinates"] = {"latitude": "-51.0475991", "longitude": "-103.7299401"}
    first = document["evses"][0]
    first.update(
        status_schedule=[
            {"period_begin": "2026-01-01T00:00:00Z", "period_end": "2026-01-02T00:00:00Z",
             "status": "INOPERATIVE"},
            {"period_begin": "2026-02-01T00:00:00Z", "status": "REMOVED"},
        ],
        coordinates={"latitude": "51.04761", "longitude": "3.72995"},
        directions=[{"language": "en", "text": "Left of the entrance"}],
        parking_restrictions=["EV_ONLY", "PLUGGED"],
        images=[{"url": "https://cpo.example/evse.png", "category": "CHARGER", "type": "png"}],
    )  # fmt: skip
    first["connectors"][0].update(
        max_electric_power=11000, terms_and_conditions="https://cpo.example/terms"
    )

    assert cpo.put(url(document), document).status_code == 201
    got = body(cpo.get(url(document)))["data"]

    assert normalised(got) == normalised(document)
    assert got["energy_mix"]["environ_impact"][0]["amount"] == Decimal("0.0006")
    assert isinstance(got["coordinates"]["latitude"], str)
    stored = loc()
    assert stored.visible_to_public is False
    assert stored.latitude == Decimal("-51.0475991")
    assert stored.opening_times["exceptional_closings"][0]["period_begin"] == "2018-12-25T03:00:00Z"


@pytest.mark.parametrize(
    "hours",
    [
        "location_hours_247_open_exception_closing.json",
        "location_hours_opening_hours_with_exceptional_closing.json",
        "location_hours_opening_hours_with_exceptional_opening.json",
    ],
)
def test_the_spec_opening_hours_examples_are_accepted(cpo: Caller, hours: str) -> None:
    document = example("location_example.json")
    document["opening_times"] = example(hours)
    assert cpo.put(url(document), document).status_code == 201
    assert body(cpo.get(url(document)))["data"]["opening_times"] == example(hours)


def test_the_regular_hours_and_energy_mix_examples_are_accepted(cpo: Caller) -> None:
    document = example("location_example.json")
    document.update(example("location_regularhours_example.json"))
    for name in ("simple", "energy_provider"):
        document.update(example(f"location_energymix_example_{name}.json"))
        document["last_updated"] = stamp(T0 + timedelta(minutes=len(name)))
        assert cpo.put(url(document), document).json()["status_code"] == 1000
        got = body(cpo.get(url(document)))["data"]
        assert got["energy_mix"] == document["energy_mix"]
        assert got["opening_times"] == document["opening_times"]


def test_the_spec_add_evse_example_is_rejected_for_what_it_lacks(
    stored: dict[str, Any], cpo: Caller
) -> None:
    """location_put_example_add_evse.json is not a valid EVSE (its connector lacks required
    fields and physical_reference is a number): a 2001 naming each, nothing changed."""
    response = cpo.put(url(stored, "3256"), example("location_put_example_add_evse.json"))

    message = body(response)["status_message"]
    assert body(response)["status_code"] == 2001
    for field in (
        "connectors[0].power_type",
        "connectors[0].max_voltage",
        "connectors[0].max_amperage",
        "connectors[0].last_updated",
        "physical_reference",
    ):
        assert field in message
    assert evse("3256").evse_id == "BE*BEC*E041503001"


# -- Receiver: PATCH ----------------------------------------------------------------------------
def test_the_spec_patch_examples_apply_to_a_stored_location(
    stored: dict[str, Any], cpo: Caller
) -> None:
    patched_at = datetime(2019, 6, 24, 12, 39, 9, tzinfo=UTC)

    name = cpo.patch(url(stored), example("location_patch_example_location.json"))
    assert (name.status_code, body(name)["status_code"]) == (200, 1000)
    assert loc().name == "Interparking Gent Zuid"
    assert loc().address == "F.Rooseveltlaan 3A"  # untouched

    status = cpo.patch(url(stored, "3257"), example("location_patch_example_status.json"))
    assert body(status)["status_code"] == 1000
    assert evse("3257").status == EvseStatus.CHARGING
    change = EvseStatusChange.objects.get(evse=evse("3257"), status=EvseStatus.CHARGING)
    assert change.previous_status == EvseStatus.RESERVED
    assert change.changed_at == patched_at
    assert change.source_connection == cpo.connection

    tariff = cpo.patch(url(stored, "3256", "1"), example("location_patch_example_tariff.json"))
    assert body(tariff)["status_code"] == 1000
    connector = Connector.objects.get(evse__uid="3256", connector_id="1")
    assert connector.tariff_ids == ["15"]
    assert connector.standard == "IEC_62196_T2"  # untouched

    removed = cpo.patch(url(stored, "3256"), example("location_patch_example_remove_evse.json"))
    assert body(removed)["status_code"] == 1000
    got = body(cpo.get(url(stored)))["data"]
    assert [(e["uid"], e["status"]) for e in got["evses"]] == [
        ("3256", "REMOVED"),
        ("3257", "CHARGING"),
    ]
    assert got["name"] == "Interparking Gent Zuid"
    assert got["evses"][0]["connectors"][0]["tariff_ids"] == ["15"]
    assert got["last_updated"] == "2019-06-24T12:39:09Z"


def test_a_location_patch_replaces_a_list_whole(stored: dict[str, Any], cpo: Caller) -> None:
    """A list in a PATCH (here ``evses``) is the new value as a whole: unlisted EVSEs go REMOVED."""
    kept = copy.deepcopy(stored["evses"][1])
    kept["last_updated"] = "2019-06-24T12:39:09Z"
    response = cpo.patch(
        url(stored),
        {"evses": [kept], "facilities": ["MALL"], "last_updated": "2019-06-24T12:39:09Z"},
    )

    assert body(response)["status_code"] == 1000
    assert loc().facilities == ["MALL"]
    assert loc().name == "Gent Zuid"
    assert evse("3256").status == EvseStatus.REMOVED
    assert evse("3257").status == EvseStatus.RESERVED


def test_a_connector_write_moves_its_evse_and_location_forward(
    stored: dict[str, Any], cpo: Caller
) -> None:
    later = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    response = cpo.patch(
        url(stored, "3257", "1"), {"max_electric_power": 7400, "last_updated": stamp(later)}
    )

    assert body(response)["status_code"] == 1000
    assert Connector.objects.get(evse__uid="3257").last_updated == later
    assert evse("3257").last_updated == later
    assert loc().last_updated == later
    # the other EVSE did not change
    assert evse("3256").last_updated == datetime(2015, 6, 28, 8, 12, 1, tzinfo=UTC)

    evse_later = later + timedelta(hours=1)
    put = copy.deepcopy(stored["evses"][1])
    put["last_updated"] = stamp(evse_later)
    assert cpo.put(url(stored, "3257"), put).status_code == 200
    assert loc().last_updated == evse_later


def test_a_parent_is_never_moved_backwards_by_an_older_child_update(
    stored: dict[str, Any], cpo: Caller
) -> None:
    """The location changed at 2015-06-29; a connector update stamped 2015-06-29 08:00 (newer
    than the connector, older than the location) is applied without rewinding the location."""
    response = cpo.patch(
        url(stored, "3256", "2"), {"tariff_ids": ["99"], "last_updated": "2015-06-29T08:00:00Z"}
    )

    assert body(response)["status_code"] == 1000
    assert Connector.objects.get(evse__uid="3256", connector_id="2").tariff_ids == ["99"]
    assert evse("3256").last_updated == datetime(2015, 6, 29, 8, 0, tzinfo=UTC)
    assert loc().last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


def test_an_older_patch_is_ignored_and_a_newer_one_applied(
    stored: dict[str, Any], cpo: Caller
) -> None:
    t1, t2, t3 = (datetime(2019, 1, 1, h, tzinfo=UTC) for h in (1, 2, 3))
    cpo.patch(url(stored, "3256"), {"status": "CHARGING", "last_updated": stamp(t2)})

    older = cpo.patch(url(stored, "3256"), {"status": "BLOCKED", "last_updated": stamp(t1)})
    assert (older.status_code, body(older)["status_code"]) == (200, 1000)
    assert "ignored" in body(older)["status_message"]
    assert (evse("3256").status, evse("3256").last_updated) == ("CHARGING", t2)

    newer = cpo.patch(url(stored, "3256"), {"status": "AVAILABLE", "last_updated": stamp(t3)})
    assert "status_message" not in body(newer)
    assert (evse("3256").status, evse("3256").last_updated) == ("AVAILABLE", t3)
    assert list(
        EvseStatusChange.objects.filter(evse=evse("3256"))
        .order_by("changed_at")
        .values_list("status", flat=True)
    ) == ["AVAILABLE", "CHARGING", "AVAILABLE"]


def test_out_of_order_delivery_keeps_the_newest_state(stored: dict[str, Any], cpo: Caller) -> None:
    """Updates sent at t1 < t2 < t3 arrive as t3, t1, t2: the t3 state stays at every level."""
    t1, t2, t3 = (datetime(2019, 5, 1, h, tzinfo=UTC) for h in (1, 2, 3))
    connector = url(stored, "3256", "1")
    for moment, tariff in ((t3, "T3"), (t1, "T1"), (t2, "T2")):
        cpo.patch(connector, {"tariff_ids": [tariff], "last_updated": stamp(moment)})
    assert Connector.objects.get(evse__uid="3256", connector_id="1").tariff_ids == ["T3"]

    location = copy.deepcopy(stored)
    for moment, name in ((t3, "third"), (t1, "first"), (t2, "second")):
        location.update(name=name, last_updated=stamp(moment + timedelta(days=1)))
        cpo.put(url(stored), location)
    assert loc().name == "third"
    # The PUTs list EVSE 3256 as of 2015, older than its stored t3 state: that EVSE is kept.
    assert Connector.objects.get(evse__uid="3256", connector_id="1").tariff_ids == ["T3"]


def test_an_older_location_put_changes_nothing(stored: dict[str, Any], cpo: Caller) -> None:
    older = copy.deepcopy(stored)
    older.update(name="Old", last_updated="2015-01-01T00:00:00Z", evses=[])

    response = cpo.put(url(stored), older)

    assert (response.status_code, body(response)["status_code"]) == (200, 1000)
    assert "ignored" in body(response)["status_message"]
    assert loc().name == "Gent Zuid"
    assert set(Evse.objects.values_list("status", flat=True)) == {"AVAILABLE", "RESERVED"}


def test_a_location_put_marks_evses_it_no_longer_lists_removed(
    stored: dict[str, Any], cpo: Caller
) -> None:
    newer = copy.deepcopy(stored)
    newer["evses"] = [newer["evses"][1]]
    newer["last_updated"] = "2016-01-01T00:00:00Z"

    assert cpo.put(url(stored), newer).status_code == 200

    assert Evse.objects.count() == 2  # never deleted: sessions and CDRs refer to EVSEs
    assert evse("3256").status == EvseStatus.REMOVED
    change = EvseStatusChange.objects.get(evse=evse("3256"), status=EvseStatus.REMOVED)
    assert change.changed_at == datetime(2016, 1, 1, tzinfo=UTC)
    assert evse("3257").status == EvseStatus.RESERVED


def test_an_evse_put_replaces_its_connectors_but_keeps_one_a_session_uses(
    stored: dict[str, Any], cpo: Caller
) -> None:
    in_use = Connector.objects.get(evse__uid="3256", connector_id="2")
    SessionFactory.create(connector=in_use, evse=in_use.evse, location=loc())
    replacement = copy.deepcopy(stored["evses"][0])
    replacement["connectors"] = [replacement["connectors"][0]]
    replacement["last_updated"] = "2016-01-01T00:00:00Z"
    assert cpo.put(url(stored, "3256"), replacement).status_code == 200
    assert Connector.objects.filter(pk=in_use.pk).exists()

    other = copy.deepcopy(stored["evses"][1])
    other["connectors"][0]["id"] = "9"
    other["last_updated"] = "2016-01-01T00:00:00Z"
    assert cpo.put(url(stored, "3257"), other).status_code == 200
    assert list(
        Connector.objects.filter(evse__uid="3257").values_list("connector_id", flat=True)
    ) == ["9"]


def test_a_new_evse_and_connector_are_created_by_put(stored: dict[str, Any], cpo: Caller) -> None:
    new = copy.deepcopy(stored["evses"][1])
    new.update(uid="3258", evse_id="BE*BEC*E041503003", status="AVAILABLE",
               last_updated="2019-06-24T12:39:09Z")  # fmt: skip
    created = cpo.put(url(stored, "3258"), new)
    assert (created.status_code, body(created)["status_code"]) == (201, 1000)
    assert EvseStatusChange.objects.get(evse=evse("3258")).previous_status == ""

    connector = copy.deepcopy(new["connectors"][0])
    connector.update(id="2", last_updated="2019-06-25T00:00:00Z")
    assert cpo.put(url(stored, "3258", "2"), connector).status_code == 201
    assert body(cpo.get(url(stored, "3258", "2")))["data"] == connector
    assert loc().last_updated == datetime(2019, 6, 25, tzinfo=UTC)


def test_ids_are_case_insensitive(stored: dict[str, Any], cpo: Caller) -> None:
    lower = f"{RECEIVER}/be/bec/loc1"
    assert body(cpo.get(f"{lower}/3256/1"))["data"]["id"] == "1"
    blocked = {"status": "BLOCKED", "last_updated": "2019-01-01T00:00:00Z"}
    assert body(cpo.patch(f"{lower}/3256", blocked))["status_code"] == 1000
    again = copy.deepcopy(stored)
    again.update(id="loc1", country_code="be", party_id="bec", last_updated="2019-02-01T00:00:00Z")
    assert cpo.put(lower, again).status_code == 200
    assert Location.objects.count() == 1
    assert loc().location_id == "LOC1"  # the same CiString: the stored spelling stays
    # the PUT lists EVSE 3256 as of 2015, older than the 2019 PATCH: the EVSE keeps its state
    assert evse("3256").status == "BLOCKED"


# -- Receiver: refusals -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("below", "change", "field"),
    [
        ((), {"id": "LOC2"}, "id"),
        ((), {"party_id": "XYZ"}, "party_id"),
        ((), {"country_code": "NL"}, "country_code"),
        (("3256",), {"uid": "3257"}, "uid"),
        (("3256", "1"), {"id": "2"}, "id"),
    ],
)
def test_body_ids_that_differ_from_the_url_are_refused(
    stored: dict[str, Any], cpo: Caller, below: tuple[str, ...], change: dict[str, str], field: str
) -> None:
    target: dict[str, Any] = copy.deepcopy(stored)
    if below:
        target = target["evses"][0]
    if len(below) == 2:
        target = target["connectors"][0]
    target = {**target, **change, "last_updated": "2020-01-01T00:00:00Z"}

    for method in (cpo.put, cpo.patch):
        response = method(url(stored, *below), target)
        assert (response.status_code, body(response)["status_code"]) == (200, 2001)
        assert body(response)["status_message"].startswith(f"{field}:")
    assert loc().last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    assert Evse.objects.count() == 2


@pytest.mark.parametrize("below", [(), ("3256",), ("3256", "1")])
def test_a_patch_without_last_updated_is_refused(
    stored: dict[str, Any], cpo: Caller, below: tuple[str, ...]
) -> None:
    response = cpo.patch(url(stored, *below), {"name": "x", "status": "BLOCKED", "tariff_ids": []})

    assert body(response)["status_code"] == 2001
    assert "last_updated" in body(response)["status_message"]
    assert evse("3256").status == "AVAILABLE"


def _broken(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(document)
    *parents, last = path.split(".")
    target: Any = broken
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    broken["last_updated"] = "2030-01-01T00:00:00Z"
    return broken


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("coordinates.latitude", Decimal("51.047599"), "coordinates.latitude: must be a string"),
        ("coordinates.latitude", "51.04", "coordinates.latitude"),
        ("coordinates.longitude", "190.00000", "coordinates.longitude: must be between"),
        ("country", "BE", "country"),
        ("time_zone", "Europe/Gent", "time_zone"),
        ("address", "x" * 256, "address"),
        ("city", KeyError, "city: This field is required"),
        ("publish", "true", "publish"),
        ("publish_allowed_to", [{"uid": "1"}], "publish_allowed_to[0].type"),
        ("parking_type", "ON_ROOF", "parking_type"),
        ("facilities", ["CASINO"], "facilities"),
        ("opening_times", {"twentyfourseven": False}, "opening_times.regular_hours"),
        ("energy_mix", {"is_green_energy": True,
                        "energy_sources": [{"source": "WIND", "percentage": 101}]},
         "energy_mix.energy_sources[0].percentage"),
        ("evses.0.connectors", [], "evses[0].connectors"),
        ("evses.0.status", "BROKEN", "evses[0].status"),
        ("evses.0.uid", "3257", "evses: uid"),
        ("evses.0.connectors.0.standard", "IEC_62196_t2", "evses[0].connectors[0].standard"),
        ("evses.0.connectors.0.max_voltage", "220", "evses[0].connectors[0].max_voltage"),
        ("evses.0.connectors.0.last_updated", "yesterday", "evses[0].connectors[0].last_updated"),
        ("evses.0.physical_reference", "x\ny", "evses[0].physical_reference"),
    ],
)  # fmt: skip
def test_an_invalid_field_is_refused_naming_it_and_nothing_changes(
    stored: dict[str, Any], cpo: Caller, path: str, value: Any, named: str
) -> None:
    before = body(cpo.get(url(stored)))["data"]

    response = cpo.put(url(stored), _broken(stored, path, value))

    assert (response.status_code, body(response)["status_code"]) == (200, 2001)
    assert named in body(response)["status_message"]
    assert body(cpo.get(url(stored)))["data"] == before


def test_a_patch_with_an_incomplete_nested_value_is_refused(
    stored: dict[str, Any], cpo: Caller
) -> None:
    """A nested value in a PATCH replaces the stored one whole, so it must be complete."""
    response = cpo.patch(
        url(stored),
        {"coordinates": {"latitude": "50.00000"}, "last_updated": "2030-01-01T00:00:00"},
    )
    assert body(response)["status_code"] == 2001
    assert "coordinates.longitude" in body(response)["status_message"]
    assert loc().latitude == Decimal("51.047599")


@pytest.mark.parametrize(
    ("method", "below", "message"),
    [
        ("put", ("LOC9", "3256"), "location"),
        ("patch", ("LOC9", "3256"), "location"),
        ("put", ("LOC9", "3256", "1"), "location"),
        ("put", ("LOC1", "9999", "1"), "EVSE"),
        ("patch", ("LOC9",), "location"),
        ("patch", ("LOC1", "9999"), "EVSE"),
        ("patch", ("LOC1", "3256", "9"), "connector"),
    ],
)
def test_writes_below_an_unknown_object_answer_404_unknown_location(
    stored: dict[str, Any], cpo: Caller, method: str, below: tuple[str, ...], message: str
) -> None:
    document: dict[str, Any] = [stored, stored["evses"][0], stored["evses"][0]["connectors"][0]][
        len(below) - 1
    ]
    document = {**document, "last_updated": "2030-01-01T00:00:00Z"}
    document["uid" if len(below) == 2 else "id"] = below[-1]
    document.pop("evses", None)

    response = getattr(cpo, method)("/".join([RECEIVER, "BE", "BEC", *below]), document)

    assert (response.status_code, body(response)["status_code"]) == (404, 2003)
    assert message in body(response)["status_message"]
    assert Evse.objects.count() == 2
    assert loc().last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


@pytest.mark.parametrize("below", [("LOC9",), ("LOC1", "9999"), ("LOC1", "3256", "7")])
def test_get_of_an_unknown_object_answers_404(
    stored: dict[str, Any], cpo: Caller, below: tuple[str, ...]
) -> None:
    response = cpo.get("/".join([RECEIVER, "BE", "BEC", *below]))
    assert (response.status_code, body(response)["status_code"]) == (404, 2003)


def test_another_partys_location_cannot_be_read_or_written(stored: dict[str, Any]) -> None:
    """BE*BEC's location, addressed by another partner's CPO under BE*BEC's URL: 404, unchanged."""
    intruder = partner_caller("CPO", country_code="NL", party_id="EVL")
    document = {**stored, "name": "Hijacked", "last_updated": "2030-01-01T00:00:00Z"}

    for response in (
        intruder.get(url(stored)),
        intruder.put(url(stored), document),
        intruder.patch(url(stored), {"name": "Hijacked", "last_updated": "2030-01-01T00:00:00Z"}),
        intruder.patch(url(stored, "3256"), {"status": "BLOCKED",
                                             "last_updated": "2030-01-01T00:00:00Z"}),
    ):  # fmt: skip
        assert response.status_code == 404
    assert loc().name == "Gent Zuid"
    assert evse("3256").status == "AVAILABLE"
    assert Location.objects.count() == 1


@pytest.mark.parametrize("method", ["post", "delete"])
def test_post_and_delete_are_not_allowed(stored: dict[str, Any], cpo: Caller, method: str) -> None:
    for path in (RECEIVER, url(stored), url(stored, "3256"), url(stored, "3256", "1")):
        assert getattr(cpo, method)(path).status_code == 405
    assert Evse.objects.count() == 2


# -- services: announcements ------------------------------------------------------------------
def test_only_our_own_locations_are_announced(
    stored: dict[str, Any], cpo: Caller, announced: list[DomainChange]
) -> None:
    cpo.patch(url(stored, "3256"), {"status": "BLOCKED", "last_updated": "2030-01-01T00:00:00Z"})
    assert announced == []  # a partner's copy is theirs to push

    ours = own_party("CPO", country_code="NL", party_id="RDK")
    data = StandardAdapter().parse("location", {**stored, "country_code": "NL", "party_id": "RDK"})
    created = location_upsert(party=ours, location_id="LOC1", data=data, source_connection=None)
    assert [c.kind for c in announced] == ["location"]
    assert announced[0].object_id == created.obj.pk

    announced.clear()
    status = StandardAdapter().parse(
        "evse", {"status": "OUTOFORDER", "last_updated": "2030-01-01T00:00:00Z"}, partial=True
    )
    result = evse_upsert(
        party=ours, location_id="loc1", uid="3256", data=status, source_connection=None,
        partial=True,
    )  # fmt: skip
    assert [(c.kind, c.object_id) for c in announced] == [("evse_status", result.obj.pk)]
    history = EvseStatusChange.objects.filter(evse=result.obj).latest("changed_at")
    assert (history.status, history.source_connection) == ("OUTOFORDER", None)


# -- Sender -----------------------------------------------------------------------------------
@pytest.fixture
def emsp() -> Caller:
    return partner_caller("EMSP", country_code="DE", party_id="EMP")


def _ids(response: Any) -> list[str]:
    assert body(response)["status_code"] == 1000, response.content
    return [location["id"] for location in body(response)["data"]]


def test_the_list_holds_what_our_cpo_parties_publish_to_the_caller(emsp: Caller) -> None:
    ours = own_party("CPO")
    other_own = own_party("CPO", country_code="NL", party_id="RD2")
    own_emsp = own_party("EMSP", country_code="NL", party_id="RD3")
    someone = ConnectionFactory.create().partner
    location_with_evses(party=ours, location_id="ALL", publish_scope=PublishScope.ALL)
    location_with_evses(
        party=ours, location_id="SEL-ME", publish_scope=PublishScope.SELECTED,
        publish_partners=[emsp.connection.partner],
    )  # fmt: skip
    location_with_evses(
        party=ours, location_id="SEL-OTHER", publish_scope=PublishScope.SELECTED,
        publish_partners=[someone],
    )  # fmt: skip
    location_with_evses(party=ours, location_id="NONE", publish_scope=PublishScope.NONE)
    location_with_evses(party=other_own, location_id="SECOND", last_updated=T0 + timedelta(1))
    location_with_evses(party=own_emsp, location_id="NOT-A-CPO")
    location_with_evses(party=PartyFactory.create(roles=["CPO"]), location_id="PARTNERS")

    assert sorted(_ids(emsp.get(SENDER))) == ["ALL", "SECOND", "SEL-ME"]

    emsp.to = other_own
    assert _ids(emsp.get(SENDER)) == ["SECOND"]


def test_the_list_renders_whole_locations_and_filters_on_last_updated(emsp: Caller) -> None:
    ours = own_party("CPO")
    for day in range(3):
        location_with_evses(
            party=ours, location_id=f"D{day}", last_updated=T0 + timedelta(days=day)
        )

    everything = emsp.get(SENDER)
    assert everything["X-Total-Count"] == "3"
    first = body(everything)["data"][0]
    assert (first["country_code"], first["party_id"], first["id"]) == ("NL", "RDK", "D0")
    assert [len(e["connectors"]) for e in first["evses"]] == [2, 2]
    assert first["coordinates"] == {"latitude": "52.089444", "longitude": "5.11000"}

    window = f"date_from={stamp(T0 + timedelta(days=1))}&date_to={stamp(T0 + timedelta(days=2))}"
    assert _ids(emsp.get(f"{SENDER}?{window}")) == ["D1"]
    assert _ids(emsp.get(f"{SENDER}?date_from={stamp(T0 + timedelta(days=1))}")) == ["D1", "D2"]


def test_the_list_does_not_query_per_location(
    emsp: Caller, django_assert_max_num_queries: Any
) -> None:
    ours = own_party("CPO")
    for n in range(12):
        location_with_evses(party=ours, location_id=f"L{n}", evses=3, connectors=2)

    with django_assert_max_num_queries(12):
        response = emsp.get(f"{SENDER}?limit=10")
    assert len(body(response)["data"]) == 10
    assert all(len(loc["evses"]) == 3 for loc in body(response)["data"])


def test_single_objects_are_read_by_their_ids(emsp: Caller) -> None:
    ours = own_party("CPO")
    location = location_with_evses(party=ours, location_id="Site-1")
    first = location.evses.order_by("uid").first()
    assert first is not None

    whole = body(emsp.get(f"{SENDER}/site-1"))["data"]
    assert whole["id"] == "Site-1"
    one_evse = body(emsp.get(f"{SENDER}/SITE-1/{first.uid.lower()}"))["data"]
    assert one_evse == whole["evses"][0]
    connector = body(emsp.get(f"{SENDER}/Site-1/{first.uid}/2"))["data"]
    assert connector == whole["evses"][0]["connectors"][1]

    for path in ("NOPE", "Site-1/NOPE", f"Site-1/{first.uid}/9"):
        response = emsp.get(f"{SENDER}/{path}")
        assert (response.status_code, body(response)["status_code"]) == (404, 2003)


def test_a_location_not_published_to_the_caller_is_not_found(emsp: Caller) -> None:
    ours = own_party("CPO")
    location = location_with_evses(
        party=ours, location_id="HIDDEN", publish_scope=PublishScope.NONE
    )
    uid = location.evses.first().uid  # type: ignore[union-attr]
    location_with_evses(party=PartyFactory.create(roles=["CPO"]), location_id="THEIRS")

    for path in ("HIDDEN", f"HIDDEN/{uid}", f"HIDDEN/{uid}/1", "THEIRS"):
        assert emsp.get(f"{SENDER}/{path}").status_code == 404

    Location.objects.filter(pk=location.pk).update(publish_scope=PublishScope.SELECTED)
    location.publish_partners.set([emsp.connection.partner])
    assert emsp.get(f"{SENDER}/HIDDEN/{uid}/1").status_code == 200


def test_an_id_two_of_our_parties_use_needs_the_to_headers(emsp: Caller) -> None:
    first, second = own_party("CPO"), own_party("CPO", country_code="NL", party_id="RD2")
    location_with_evses(party=first, location_id="SAME", name="first")
    location_with_evses(party=second, location_id="SAME", name="second")

    assert body(emsp.get(f"{SENDER}/SAME"))["status_code"] == 2001
    emsp.to = second
    assert body(emsp.get(f"{SENDER}/SAME"))["data"]["name"] == "second"


def test_the_sender_refuses_writes(emsp: Caller) -> None:
    own_party("CPO")
    assert emsp.put(f"{SENDER}/X", {}).status_code == 405
    assert emsp.post(SENDER).status_code == 405
