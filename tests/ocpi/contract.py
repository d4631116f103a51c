"""The contract suite of the OCPI 2.2.1 functional modules, written once and instantiated per
module (``tests/ocpi/modules/test_contract.py``).

``SenderContract``: the envelope, pagination headers and ``Link`` crawling, the server's page cap,
``X-Limit`` as the page size applied, date filters, what a caller may see, and authorization
failures of a Sender list.
``ReceiverContract``: the spec's example payloads pushed and read back unchanged, repeated pushes,
another party's objects, invalid payloads (2001 naming the field, nothing stored or lost), and
unknown objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.db.models import Model
from django.test import override_settings

from apps.ocpi.common.timestamps import InvalidTimestamp, parse_ocpi_datetime
from apps.partners.models import Party
from tests.ocpi.callers import Caller, own_party, partner_caller

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "2.2.1"
T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def example(module: str, name: str) -> dict[str, Any]:
    """One of the spec's example payloads (an unmodified copy), parsed with Decimal numbers."""
    text = (FIXTURES / module / name).read_text()
    data: dict[str, Any] = json.loads(text, parse_float=Decimal)
    return data


def comparable(value: Any) -> Any:
    """A document in a form where equal OCPI meaning compares equal: absent optional fields and
    nulls are the same, numbers compare by value, timestamps by instant, ids case-insensitively
    is NOT applied (a receiver must give back what it was given)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return parse_ocpi_datetime(value)
        except InvalidTimestamp:
            return value
    return value


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- Sender ---------------------------------------------------------------------------------------
@dataclass
class World:
    """Our party playing the Sender's role, the calling partner, and a partner that must not see
    the caller's objects."""

    ours: Party
    caller: Caller
    stranger: Caller


@dataclass(frozen=True)
class SenderSpec:
    path: str  # below /ocpi/2.2.1/, e.g. "cpo/locations"
    our_role: str
    caller_role: str
    #: Create one object the caller may see, with this last_updated.
    make: Callable[[World, datetime], Model]
    #: Create one object the caller must not see (unpublished, another eMSP's ...).
    make_hidden: Callable[[World, datetime], Model]
    #: The wire id of a listed object.
    wire_id: Callable[[dict[str, Any]], str] = lambda data: str(data["id"])
    #: Query parameters every list request needs (Sessions: date_from).
    base_query: dict[str, str] = field(default_factory=dict)


class SenderContract:
    spec: ClassVar[SenderSpec]

    @pytest.fixture
    def world(self, db: None) -> World:
        ours = own_party(self.spec.our_role)
        caller = partner_caller(self.spec.caller_role, country_code="BE", party_id="CAL")
        stranger = partner_caller(self.spec.caller_role, country_code="FR", party_id="STR")
        return World(ours=ours, caller=caller, stranger=stranger)

    def fetch(self, world: World, **query: str) -> Any:
        params = {**self.spec.base_query, **query}
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        return world.caller.get(f"{self.spec.path}{'?' + qs if qs else ''}")

    def ids(self, response: Any) -> list[str]:
        return [self.spec.wire_id(item) for item in response.json()["data"]]

    def test_envelope_headers_and_routing(self, world: World) -> None:
        made = [self.spec.make(world, T0 + timedelta(minutes=i)) for i in range(3)]
        response = self.fetch(world)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status_code"] == 1000
        assert body["timestamp"].endswith("Z")
        assert len(body["data"]) == len(made)
        assert response.headers["X-Total-Count"] == "3"
        assert int(response.headers["X-Limit"]) >= 1
        assert "Link" not in response.headers
        # The answer goes back to the caller: the routing headers are swapped.
        assert response.headers["OCPI-to-country-code"] == world.caller.party.country_code
        assert response.headers["OCPI-to-party-id"] == world.caller.party.party_id

    def test_pagination_follows_link_to_the_end_in_a_stable_order(self, world: World) -> None:
        for i in range(5):
            self.spec.make(world, T0 + timedelta(minutes=i))
        expected = self.ids(self.fetch(world))
        seen: list[str] = []
        response = self.fetch(world, limit="2")
        pages = 0
        while True:
            pages += 1
            assert response.json()["status_code"] == 1000
            assert response.headers["X-Total-Count"] == "5"
            seen += self.ids(response)
            link = response.headers.get("Link")
            if not link:
                break
            assert link.endswith('; rel="next"')
            url = urlsplit(link[1 : link.index(">")])
            for name, value in self.spec.base_query.items():
                assert f"{name}=" in url.query, f"the next link must repeat {name}={value}"
            response = world.caller.get(f"{url.path}?{url.query}")
        assert pages == 3
        assert seen == expected
        assert len(set(seen)) == 5

    def test_the_server_caps_the_page_size(self, world: World) -> None:
        for i in range(3):
            self.spec.make(world, T0 + timedelta(minutes=i))
        with override_settings(OCPI_PAGE_LIMIT_MAX=2):
            response = self.fetch(world, limit="100")
        assert len(response.json()["data"]) == 2
        assert response.headers["X-Limit"] == "2"
        assert "limit=2" in response.headers["Link"]

    def test_x_limit_is_the_page_size_applied(self, world: World) -> None:
        for i in range(3):
            self.spec.make(world, T0 + timedelta(minutes=i))
        with override_settings(OCPI_PAGE_LIMIT_MAX=100):
            asked = self.fetch(world, limit="2")
            unasked = self.fetch(world)
            more = self.fetch(world, limit="500")
        # The client's limit when it is below our maximum: the page it gets, and the Link's.
        assert asked.headers["X-Limit"] == "2"
        assert len(asked.json()["data"]) == 2
        assert "limit=2" in asked.headers["Link"]
        # Our maximum without a limit or above it; not the number of objects on the page.
        assert unasked.headers["X-Limit"] == "100"
        assert more.headers["X-Limit"] == "100"
        assert len(more.json()["data"]) == 3
        # The last page of a crawl still says which page size applies.
        last = self.fetch(world, limit="2", offset="2")
        assert last.headers["X-Limit"] == "2"
        assert len(last.json()["data"]) == 1
        assert "Link" not in last.headers

    def test_date_from_is_inclusive_and_date_to_exclusive(self, world: World) -> None:
        moments = [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
        for moment in moments:
            self.spec.make(world, moment)
        everything = self.ids(self.fetch(world))
        from_second = self.ids(self.fetch(world, date_from=stamp(moments[1])))
        to_second = self.ids(self.fetch(world, date_to=stamp(moments[1])))
        window = self.ids(self.fetch(world, date_from=stamp(moments[1]), date_to=stamp(moments[2])))
        assert from_second == everything[1:]
        assert to_second == everything[:1]
        assert window == everything[1:2]

    def test_bad_date_filter_is_2001(self, world: World) -> None:
        response = self.fetch(world, date_from="yesterday")
        assert response.json()["status_code"] == 2001
        assert "date_from" in response.json()["status_message"]

    def test_the_caller_sees_only_what_is_meant_for_it(self, world: World) -> None:
        visible = self.spec.make(world, T0)
        self.spec.make_hidden(world, T0 + timedelta(minutes=1))
        response = self.fetch(world)
        assert response.headers["X-Total-Count"] == "1"
        assert len(response.json()["data"]) == 1
        assert visible.pk is not None

    def test_authorization_failures(self, world: World) -> None:
        self.spec.make(world, T0)
        no_token = world.caller.client.get(f"/ocpi/2.2.1/{self.spec.path}")
        assert no_token.status_code == 401
        assert no_token.json()["status_code"] == 2000
        headers = world.caller.headers()
        del headers["OCPI-from-country-code"], headers["OCPI-from-party-id"]
        params = "&".join(f"{k}={v}" for k, v in self.spec.base_query.items())
        no_routing = world.caller.client.get(
            f"/ocpi/2.2.1/{self.spec.path}?{params}", headers=headers
        )
        assert no_routing.json()["status_code"] == 2001
        assert "OCPI-from" in no_routing.json()["status_message"]


# -- Receiver -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceiverSpec:
    path: str  # below /ocpi/2.2.1/, e.g. "emsp/locations"
    caller_role: str
    our_role: str
    fixtures: str  # directory under tests/fixtures/ocpi/2.2.1/
    examples: tuple[str, ...]
    model: type[Model]
    #: The object's URL below ``path`` (``{cc}/{pid}/{id}`` ...); None: pushed by POST to ``path``.
    object_url: Callable[[dict[str, Any]], str] | None
    #: A required field whose absence must give 2001 naming it.
    required_field: str = "last_updated"
    #: Prepare what an example needs (e.g. the Location a Session refers to).
    prepare: Callable[[Caller, dict[str, Any]], None] | None = None


class ReceiverContract:
    spec: ClassVar[ReceiverSpec]

    def caller_for(self, document: dict[str, Any]) -> Caller:
        own_party(self.spec.our_role)
        return partner_caller(
            self.spec.caller_role,
            country_code=document["country_code"],
            party_id=document["party_id"],
        )

    def push(self, caller: Caller, document: dict[str, Any]) -> Any:
        if self.spec.object_url is None:
            return caller.post(self.spec.path, document)
        return caller.put(f"{self.spec.path}/{self.spec.object_url(document)}", document)

    def read_url(self, response: Any, document: dict[str, Any]) -> str:
        if self.spec.object_url is None:
            location = urlsplit(response.headers["Location"])
            return location.path
        return f"{self.spec.path}/{self.spec.object_url(document)}"

    @pytest.mark.django_db
    def test_spec_examples_round_trip(self) -> None:
        callers: dict[tuple[str, str], Caller] = {}
        for name in self.spec.examples:
            document = example(self.spec.fixtures, name)
            key = (document["country_code"].upper(), document["party_id"].upper())
            caller = callers.get(key) or callers.setdefault(key, self.caller_for(document))
            # Each example on its own: several reuse an id with an older last_updated.
            with transaction.atomic():
                if self.spec.prepare is not None:
                    self.spec.prepare(caller, document)
                response = self.push(caller, document)
                assert response.status_code == 201, (name, response.content)
                assert response.json()["status_code"] == 1000, (name, response.json())
                got = caller.get(self.read_url(response, document))
                assert got.status_code == 200, (name, got.content)
                assert comparable(got.json()["data"]) == comparable(document), name
                transaction.set_rollback(True)

    @pytest.mark.django_db
    def test_a_repeated_push_stores_one_object(self) -> None:
        document = example(self.spec.fixtures, self.spec.examples[0])
        caller = self.caller_for(document)
        if self.spec.prepare is not None:
            self.spec.prepare(caller, document)
        first = self.push(caller, document)
        count = self.spec.model._default_manager.count()
        again = self.push(caller, document)
        assert first.json()["status_code"] == again.json()["status_code"] == 1000
        assert self.spec.model._default_manager.count() == count

    @pytest.mark.django_db
    def test_another_partys_object_is_refused_and_nothing_is_stored(self) -> None:
        document = example(self.spec.fixtures, self.spec.examples[0])
        own_party(self.spec.our_role)
        intruder = partner_caller(self.spec.caller_role, country_code="ZZ", party_id="ZZZ")
        before = self.spec.model._default_manager.count()
        response = self.push(intruder, document)
        assert response.status_code == 404, response.content
        assert response.json()["status_code"] >= 2000
        assert self.spec.model._default_manager.count() == before

    @pytest.mark.django_db
    def test_an_invalid_payload_is_2001_naming_the_field_and_loses_nothing(self) -> None:
        document = example(self.spec.fixtures, self.spec.examples[0])
        caller = self.caller_for(document)
        if self.spec.prepare is not None:
            self.spec.prepare(caller, document)
        stored = self.push(caller, document)
        assert stored.json()["status_code"] == 1000
        before = caller.get(self.read_url(stored, document)).json()["data"]
        broken = {k: v for k, v in document.items() if k != self.spec.required_field}
        response = self.push(caller, broken)
        assert response.json()["status_code"] == 2001, response.content
        assert self.spec.required_field in response.json()["status_message"]
        after = caller.get(self.read_url(stored, document)).json()["data"]
        assert after == before

    @pytest.mark.django_db
    def test_a_body_that_is_not_json_is_http_400(self) -> None:
        document = example(self.spec.fixtures, self.spec.examples[0])
        caller = self.caller_for(document)
        url = self.spec.path
        if self.spec.object_url is not None:
            url = f"{url}/{self.spec.object_url(document)}"
        method = "post" if self.spec.object_url is None else "put"
        response = getattr(caller.client, method)(
            f"/ocpi/2.2.1/{url}",
            data="{not json",
            content_type="application/json",
            headers=caller.headers(),
        )
        assert response.status_code == 400
        assert response.json()["status_code"] == 2001
