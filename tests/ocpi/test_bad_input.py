"""Bad input from a partner (issue 11 §3): every case gets the spec's client error (OCPI 2001, a
message naming what is wrong, no traceback logged) and nothing is stored; ids we accept are
always addressable; one rule for negative quantities; our own failures are 5xx envelopes."""

from __future__ import annotations

import copy
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.test import Client, override_settings
from django.utils import timezone

from apps.cdrs.models import Cdr
from apps.charging_sessions.models import ChargingSession
from apps.commands.models import Command
from apps.locations.models import Evse, Location
from apps.ocpi.common import jsonutil
from apps.ocpi.models import ExchangeLogEntry
from apps.smart_charging.models import ChargingProfileRequest
from apps.tariffs.models import Tariff
from apps.tokens.models import Token
from tests.factories import ConnectorFactory, SessionFactory
from tests.factories.commands import start_session_body
from tests.ocpi.callers import Caller, own_party, partner_caller

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "2.2.1"


def load(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads((FIXTURES / name).read_bytes())
    data.update(changes)
    return data


def cdr(**changes: Any) -> dict[str, Any]:
    return load("cdrs/cdr_example.json", **changes)


def session(**changes: Any) -> dict[str, Any]:
    return load(
        "sessions/session_example_1_simple_start.json",
        country_code="BE",
        party_id="BEC",
        **changes,
    )


def location(**changes: Any) -> dict[str, Any]:
    return load("locations/location_example.json", **changes)


def tariff(**changes: Any) -> dict[str, Any]:
    return load("tariffs/tariff_1_simple_2hour.json", country_code="BE", party_id="BEC", **changes)


def stored() -> dict[str, int]:
    models = (Cdr, ChargingSession, Location, Evse, Tariff, Token, ChargingProfileRequest, Command)
    return {model.__name__: model.objects.count() for model in models}


@dataclass
class World:
    cpo: Caller  # a CPO partner pushing to our eMSP receivers
    emsp: Caller  # an eMSP partner calling our CPO interfaces
    session_id: str  # a session of ours whose token belongs to that eMSP


@pytest.fixture
def world() -> World:
    us = own_party("CPO", "EMSP")
    cpo = partner_caller("CPO", country_code="BE", party_id="BEC")
    emsp = partner_caller("EMSP", country_code="DE", party_id="TNM")
    emsp.to = us
    connector = ConnectorFactory.create(
        max_amperage=32, max_electric_power=22000, evse__location__party=us
    )
    ours = SessionFactory.create(
        party=us,
        token_country_code="DE",
        token_party_id="TNM",
        connector=connector,
        start_date_time=timezone.now() - timedelta(minutes=10),
    )
    return World(cpo=cpo, emsp=emsp, session_id=ours.session_id)


RESPONSE_URL = "https://emsp.example/ocpi/2.2.1/chargingprofiles/results/1"


def profile(limit: Any) -> dict[str, Any]:
    return {
        "charging_profile": {
            "charging_rate_unit": "A",
            "charging_profile_period": [{"start_period": 0, "limit": limit}],
        },
        "response_url": RESPONSE_URL,
    }


@dataclass(frozen=True)
class Case:
    label: str
    method: str
    path: Callable[[World], str]
    body: Any = None  # a JSON-able value, raw bytes, or None
    caller: str = "cpo"
    http_status: int = 200
    message: str = ""  # a fragment of the status_message
    extra: dict[str, Any] = field(default_factory=dict)


def fixed(path: str) -> Callable[[World], str]:
    return lambda world: path


CASES = [
    Case(
        "JSON nested 5,000 levels deep",
        "POST",
        fixed("emsp/cdrs"),
        b"[" * 5000 + b"]" * 5000,
        http_status=400,
        message="nested too deeply",
    ),
    Case(
        "an object nested 2,000 levels deep inside a CDR",
        "POST",
        fixed("emsp/cdrs"),
        b'{"id":' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}",
        http_status=400,
        message="nested too deeply",
    ),
    Case(
        '"evses": [null] in a Location',
        "PUT",
        fixed("emsp/locations/BE/BEC/LOC1"),
        location(evses=[None]),
        message="evses[0]: a list element must not be null",
    ),
    Case(
        '"tariffs": [null] in a CDR',
        "POST",
        fixed("emsp/cdrs"),
        cdr(tariffs=[None]),
        message="tariffs[0]: a list element must not be null",
    ),
    Case(
        '"charging_periods": [null] in a CDR',
        "POST",
        fixed("emsp/cdrs"),
        cdr(charging_periods=[None]),
        message="charging_periods[0]: a list element must not be null",
    ),
    Case(
        '"charging_periods": [null] in a Session',
        "PUT",
        fixed("emsp/sessions/BE/BEC/101"),
        session(charging_periods=[None]),
        message="charging_periods[0]: a list element must not be null",
    ),
    Case(
        '"elements": [null] in a Tariff',
        "PUT",
        fixed("emsp/tariffs/BE/BEC/11"),
        tariff(id="11", elements=[None]),
        message="elements[0]: a list element must not be null",
    ),
    Case(
        '"connectors": [null] in an EVSE',
        "PUT",
        fixed("emsp/locations/BE/BEC/LOC1"),
        location(evses=[{**location()["evses"][0], "connectors": [None]}]),
        message="evses[0].connectors[0]: a list element must not be null",
    ),
    Case(
        "kwh 1e14 in a Session (more than the column holds)",
        "PUT",
        fixed("emsp/sessions/BE/BEC/101"),
        session(kwh=Decimal("1e14")),
        message="kwh: 1E+14 is out of range",
    ),
    Case(
        "total_energy 1e14 in a CDR",
        "POST",
        fixed("emsp/cdrs"),
        cdr(total_energy=Decimal("1E+14")),
        message="total_energy: 1E+14 is out of range",
    ),
    Case(
        "a charging profile limit of 1e400",
        "PUT",
        lambda world: f"cpo/chargingprofiles/{world.session_id}",
        profile(Decimal("1e400")),
        caller="emsp",
        message="charging_profile.charging_profile_period[0].limit: 1E+400 is out of range",
    ),
    Case(
        "offset=99999999999999999999 on a Sender list",
        "GET",
        fixed("cpo/cdrs?offset=99999999999999999999"),
        caller="emsp",
        message="offset must be at most 9223372036854775807",
    ),
    Case(
        "offset=99999999999999999999 on the Locations Sender",
        "GET",
        fixed("cpo/locations?offset=99999999999999999999"),
        caller="emsp",
        message="offset must be at most",
    ),
    Case(
        "a '/' in a START_SESSION's location_id",
        "POST",
        fixed("cpo/commands/START_SESSION"),
        start_session_body(RESPONSE_URL, location_id="LOC/1"),
        caller="emsp",
        message="location_id: must not contain '/'",
    ),
    Case(
        "an over-long evse_uid in UNLOCK_CONNECTOR",
        "POST",
        fixed("cpo/commands/UNLOCK_CONNECTOR"),
        {
            "response_url": RESPONSE_URL,
            "location_id": "L",
            "evse_uid": "E" * 37,
            "connector_id": "1",
        },
        caller="emsp",
        message="evse_uid: must be at most 36 characters",
    ),
    Case(
        "%00 in a URL id",
        "GET",
        fixed("emsp/locations/BE/BEC/%00"),
        message="location_id in the URL: must be printable ASCII",
    ),
    Case(
        "%00 in a session id to PUT",
        "PUT",
        fixed("emsp/sessions/BE/BEC/1%00"),
        session(id="1\x00"),
        message="session_id in the URL: must be printable ASCII",
    ),
    Case(
        "an over-long session id on GET cpo/chargingprofiles/<id>",
        "GET",
        fixed(f"cpo/chargingprofiles/{'S' * 37}?duration=60&response_url={RESPONSE_URL}"),
        caller="emsp",
        message="session_id in the URL: must be at most 36 characters (got 37)",
    ),
]


def call(world: World, case: Case) -> Any:
    caller = world.cpo if case.caller == "cpo" else world.emsp
    path = case.path(world)
    if isinstance(case.body, bytes):
        url = f"/ocpi/2.2.1/{path}"
        send = getattr(caller.client, case.method.lower())
        return send(url, case.body, content_type="application/json", headers=caller.headers())
    if case.body is None:
        return caller.request(case.method, path)
    return caller.request(case.method, path, copy.deepcopy(case.body))


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bad_input_gets_2001_naming_the_problem_and_stores_nothing(
    world: World, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    before = stored()
    with caplog.at_level(logging.INFO):
        response = call(world, case)
    assert response.status_code == case.http_status, response.content
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["status_code"] == 2001, answer
    assert case.message in answer["status_message"], answer
    assert stored() == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a traceback was logged"


# -- ids -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cdr_id", "problem"),
    [
        ("A/B", "must not contain '/'"),
        ("../../etc/passwd", "must not contain '/'"),
        ("..", "must not be '.' or '..'"),
        ("CDR\x00", "must be printable ASCII"),
        ("CDR\u00e9", "must be printable ASCII"),
        ("C" * 40, "must be at most 39 characters"),
        ("", "may not be blank"),
    ],
)
def test_a_cdr_id_that_could_not_be_addressed_is_refused_before_anything_is_stored(
    world: World, cdr_id: str, problem: str
) -> None:
    response = world.cpo.post("emsp/cdrs", cdr(id=cdr_id))
    answer = response.json()
    assert answer["status_code"] == 2001, answer
    assert answer["status_message"].startswith("id: "), answer
    assert problem in answer["status_message"]
    assert Cdr.objects.count() == 0


@pytest.mark.parametrize("cdr_id", ["<script>", "%00", "a b", "BE*BEC-1?x#y", "\\..\\", "C" * 36])
def test_every_cdr_id_we_accept_is_answered_in_a_location_we_serve(
    world: World, cdr_id: str
) -> None:
    response = world.cpo.post("emsp/cdrs", cdr(id=cdr_id))
    assert response.status_code == 201, response.content
    location_header = response["Location"]
    assert location_header.endswith("/emsp/cdrs/BE/BEC/" + quote(cdr_id, safe="*"))
    got = world.cpo.get(location_header.removeprefix("http://testserver"))
    assert got.status_code == 200, got.content
    assert got.json()["data"]["id"] == cdr_id
    # The same POST again is recognised, not a crash.
    again = world.cpo.post("emsp/cdrs", cdr(id=cdr_id))
    assert (again.status_code, again.json()["status_code"]) == (200, 1000)


@pytest.mark.parametrize(
    ("path", "document", "message"),
    [
        (
            "emsp/locations/BE/BEC/LOC1",
            location(evses=[{**location()["evses"][0], "uid": "3256/1"}]),
            "evses[0].uid: must not contain '/'",
        ),
        (
            "emsp/locations/BE/BEC/LOC1",
            location(evses=[{**location()["evses"][0], "uid": "E" * 37}]),
            "evses[0].uid: must be at most 36 characters",
        ),
        (
            "emsp/sessions/BE/BEC/101",
            session(location_id="L/1"),
            "location_id: must not contain '/'",
        ),
        (
            "emsp/sessions/BE/BEC/101",
            session(connector_id=".."),
            "connector_id: must not be '.' or '..'",
        ),
    ],
)
def test_ids_inside_objects_follow_the_same_rule(
    world: World, path: str, document: dict[str, Any], message: str
) -> None:
    before = stored()
    answer = world.cpo.put(path, document).json()
    assert answer["status_code"] == 2001, answer
    assert message in answer["status_message"], answer
    assert stored() == before


# -- one rule for negative quantities ------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "document", "message"),
    [
        ("POST", "emsp/cdrs", cdr(total_energy=Decimal("-15.3")), "total_energy: must not be"),
        ("POST", "emsp/cdrs", cdr(total_time=Decimal("-1")), "total_time: must not be negative"),
        (
            "POST",
            "emsp/cdrs",
            cdr(total_parking_time=Decimal("-0.5")),
            "total_parking_time: must not be negative",
        ),
        ("PUT", "emsp/sessions/BE/BEC/101", session(kwh=-5), "kwh: must not be negative"),
        (
            "POST",
            "emsp/cdrs",
            cdr(
                charging_periods=[
                    {
                        "start_date_time": cdr()["start_date_time"],
                        "dimensions": [{"type": "TIME", "volume": Decimal("-1.973")}],
                    }
                ]
            ),
            "charging_periods[0].dimensions[0].volume: must not be negative for TIME",
        ),
    ],
)
def test_a_negative_quantity_is_refused_in_sessions_and_cdrs_alike(
    world: World, method: str, path: str, document: dict[str, Any], message: str
) -> None:
    before = stored()
    answer = world.cpo.request(method, path, document).json()
    assert answer["status_code"] == 2001, answer
    assert message in answer["status_message"], answer
    assert stored() == before


def test_energy_back_to_the_grid_stays_a_signed_dimension(world: World) -> None:
    """Spec 8.7: ENERGY, CURRENT and POWER volumes may be negative (EV to grid)."""
    document = cdr(id="V2G-1")
    document["charging_periods"][0]["dimensions"].append(
        {"type": "ENERGY", "volume": Decimal("-2.5")}
    )
    response = world.cpo.post("emsp/cdrs", document)
    assert response.status_code == 201, response.content


# -- our own failures ----------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nobody listens there any more: connections are refused


@contextmanager
def database_refusing_connections() -> Iterator[None]:
    """The default database replaced by a PostgreSQL server that refuses every connection
    (a closed port on 127.0.0.1), then given back."""
    real = connections[DEFAULT_DB_ALIAS]
    settings_dict = {
        **real.settings_dict,
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "roamdesk",
        "USER": "roamdesk",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": str(closed_port()),
        "OPTIONS": {"connect_timeout": 2},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
    }
    down = PostgresWrapper(settings_dict, DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = down
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = real
        down.close()


def test_while_the_database_is_down_partners_get_503_with_retry_after_and_recover_at_once(
    world: World,
) -> None:
    path = "emsp/cdrs"
    with database_refusing_connections():
        for attempt in (cdr(id="DOWN-1"), cdr(id="DOWN-1")):
            response = world.cpo.post(path, attempt)
            assert response.status_code == 503, response.content
            assert int(response["Retry-After"]) > 0
            assert response["Content-Type"] == "application/json"
            answer = response.json()
            assert answer["status_code"] == 3000
            assert "retry later" in answer["status_message"]
        listing = world.emsp.get("cpo/cdrs")
        assert (listing.status_code, listing.json()["status_code"]) == (503, 3000)
    assert Cdr.objects.count() == 0
    # Back: the very next request is served, nothing to restart.
    response = world.cpo.post(path, cdr(id="DOWN-1"))
    assert response.status_code == 201, response.content
    assert world.emsp.get("cpo/cdrs").status_code == 200


# -- what Django would answer with an HTML page ------------------------------------------------
def envelope_of(response: Any, http_status: int, message: str) -> None:
    assert response.status_code == http_status, response.content
    assert response["Content-Type"] == "application/json", response.content[:200]
    answer = response.json()
    assert answer["status_code"] == 2000, answer
    assert message in answer["status_message"], answer
    assert "timestamp" in answer


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
def test_a_body_over_the_size_cap_is_an_envelope(world: World) -> None:
    document = cdr(id="BIG-1", remark="x" * 20_000)
    envelope_of(
        world.cpo.post("emsp/cdrs", document),
        413,
        "the request body is larger than 10000 bytes",
    )
    assert Cdr.objects.count() == 0
    entry = ExchangeLogEntry.objects.get(http_status=413)
    assert entry.method == "POST"


def test_a_host_not_allowed_is_an_envelope(world: World) -> None:
    headers = {**world.cpo.headers(), "Host": "evil.example"}
    response = world.cpo.client.get("/ocpi/2.2.1/emsp/cdrs/BE/BEC/1", headers=headers)
    envelope_of(response, 400, "this Host is not one we serve")
    # Also where Django refuses it before our middleware runs (the HTTPS redirect reads the host).
    with override_settings(SECURE_SSL_REDIRECT=True):  # a new client builds the middleware
        response = Client().get("/ocpi/2.2.1/emsp/cdrs/BE/BEC/1", headers=headers)
        page = Client().get("/admin/", headers={"Host": "evil.example"})
    envelope_of(response, 400, "bad request")
    # Elsewhere Django's own page.
    assert page.status_code == 400
    assert "json" not in page["Content-Type"]


def test_an_over_long_url_or_header_is_an_envelope(world: World) -> None:
    envelope_of(
        world.cpo.get("emsp/locations/BE/BEC/" + "L" * 2100),
        414,
        "the URL is longer than 2048 characters",
    )
    envelope_of(
        world.cpo.get("emsp/cdrs/BE/BEC/1", headers={"X-Padding": "p" * 5000}),
        431,
        "header X-Padding is longer than 4096 characters",
    )


def test_a_session_patch_follows_the_same_rules_as_its_put(world: World) -> None:
    assert world.cpo.put("emsp/sessions/BE/BEC/101", session()).status_code == 201
    held = ChargingSession.objects.get(session_id="101")
    for patch, message in (
        ({"kwh": -1}, "kwh: must not be negative"),
        ({"kwh": Decimal("1e15")}, "kwh: 1E+15 is out of range"),
        ({"charging_periods": [None]}, "charging_periods[0]: a list element must not be null"),
    ):
        answer = world.cpo.patch(
            "emsp/sessions/BE/BEC/101", {**patch, "last_updated": "2030-01-01T00:00:00Z"}
        ).json()
        assert answer["status_code"] == 2001, answer
        assert message in answer["status_message"], answer
    again = ChargingSession.objects.get(session_id="101")
    assert (again.kwh, again.last_updated) == (held.kwh, held.last_updated)
