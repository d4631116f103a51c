"""The scoping matrix: every OCPI 2.2.1 route, every method it answers, every kind of caller.

Generated from the URL configuration, so a new route cannot escape it: ``ROUTES`` must name
every route exactly (a route missing here, or listed but no longer mounted, fails the test).

Kinds of caller:
* ``unknown``: a token we never issued → 401 everywhere.
* ``token_a``: a registration token → 401 on every functional module (spec 2.5); only versions
  and credentials accept it.
* ``other_party``: a registered partner addressing objects of a party its connection does not
  represent (URL ``country_code``/``party_id``) → refused with 404, and nothing in the database
  changes. On HubClientInfo the URL names the party a hub reports about, so there the refused
  caller is a partner that is not a hub (403).
* ``owner``: the same partner addressing its own party → never refused for scoping reasons
  (the answer may still be 2001 for an empty body, or 404 for an unknown object).

And every route, method and role of the caller's party (CPO, EMSP, HUB, a role no interface is
for, and a hub relaying for such a party): allowed or refused with 403 as ``ROUTES`` says.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from apps.ocpi.services.handshake import connection_invite
from tests.factories import PartnerFactory, PartyFactory
from tests.ocpi.callers import Caller, own_party, partner_caller

pytestmark = pytest.mark.django_db

ROOT = "/ocpi/2.2.1"
SCOPING_MESSAGE = "is not one this connection represents"
#: Values for the other URL segments: ids nobody has (the first one the segment's regex takes).
CANDIDATES = ("MATRIX1", "6c1f2a9e-3b7d-4e0a-9f51-2d8c4b7a0e13", "START_SESSION")


#: Every role a party can play (spec 1.1).
ALL_ROLES = frozenset({"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"})
CPO, EMSP = frozenset({"CPO"}), frozenset({"EMSP"})
#: Who receives Locations and Tariffs from a CPO (spec 1.2).
LOCATION_RECEIVERS = frozenset({"EMSP", "NSP", "NAP"})


@dataclass(frozen=True)
class RouteCase:
    """What the matrix needs to know about one route beyond the URLconf.

    ``callers``: the roles a calling party may play on this route (spec 1.2: who implements the
    opposite interface), written out here independently of the route table in the code; a
    party playing none of them is refused with 403 / OCPI 2000, except through a hub
    connection (a hub relays for the parties it represents, whatever their roles).
    ``configuration``: a configuration module (versions/credentials) that token A may call and
    that checks no role.
    ``hub_only``: the URL's party is the one a hub reports about; callers that are not hubs are
    refused (403) instead of callers of another party.
    """

    callers: frozenset[str]
    configuration: bool = False
    hub_only: bool = False

    @property
    def caller_role(self) -> str:
        """The role the calling partner's party plays in the scoping tests."""
        return "EMSP" if "EMSP" in self.callers else sorted(self.callers)[0]


ROUTES: dict[str, RouteCase] = {
    "details": RouteCase(ALL_ROLES, configuration=True),
    "credentials": RouteCase(ALL_ROLES, configuration=True),
    # We are the eMSP: a CPO pushes to us, posts command and charging-profile results, pulls
    # our tokens and asks us to authorize them.
    "locations_receiver": RouteCase(CPO),
    "locations_receiver_location": RouteCase(CPO),
    "locations_receiver_evse": RouteCase(CPO),
    "locations_receiver_connector": RouteCase(CPO),
    "tariffs_receiver": RouteCase(CPO),
    "tariffs_receiver_tariff": RouteCase(CPO),
    "sessions_receiver": RouteCase(CPO),
    "sessions_receiver_session": RouteCase(CPO),
    "cdrs_receiver": RouteCase(CPO),
    "cdrs_receiver_cdr": RouteCase(CPO),
    "commands_sender": RouteCase(CPO),
    "commands_sender_result": RouteCase(CPO),
    "chargingprofiles_sender": RouteCase(CPO),
    "chargingprofiles_sender_result": RouteCase(CPO),
    "chargingprofiles_sender_session": RouteCase(CPO),
    "tokens_sender": RouteCase(CPO),
    "tokens_sender_authorize": RouteCase(CPO),
    # We are the CPO: an eMSP (or another receiver of our data) reads from us or sends to us.
    "locations_sender": RouteCase(LOCATION_RECEIVERS),
    "locations_sender_location": RouteCase(LOCATION_RECEIVERS),
    "locations_sender_evse": RouteCase(LOCATION_RECEIVERS),
    "locations_sender_connector": RouteCase(LOCATION_RECEIVERS),
    "tariffs_sender": RouteCase(LOCATION_RECEIVERS),
    "sessions_sender": RouteCase(frozenset({"EMSP", "SCSP"})),
    "sessions_sender_charging_preferences": RouteCase(frozenset({"EMSP", "SCSP"})),
    "cdrs_sender": RouteCase(EMSP),
    "tokens_receiver": RouteCase(EMSP),
    "tokens_receiver_token": RouteCase(EMSP),
    "commands_receiver": RouteCase(EMSP),
    "commands_receiver_command": RouteCase(EMSP),
    "chargingprofiles_receiver": RouteCase(frozenset({"EMSP", "SCSP"})),
    "chargingprofiles_receiver_session": RouteCase(frozenset({"EMSP", "SCSP"})),
    # Configuration module between a platform and a hub.
    "hubclientinfo_receiver": RouteCase(frozenset({"HUB"})),
    "hubclientinfo_receiver_object": RouteCase(frozenset({"HUB"}), hub_only=True),
}


@dataclass(frozen=True)
class MountedRoute:
    name: str
    regex: str
    view: Any
    methods: tuple[str, ...]
    kwargs: tuple[str, ...]


def mounted_routes() -> list[MountedRoute]:
    resolver = get_resolver()
    ocpi = next(p for p in resolver.url_patterns if getattr(p, "namespace", None) == "ocpi")
    assert isinstance(ocpi, URLResolver)
    version = next(
        p for p in ocpi.url_patterns if isinstance(p, URLResolver) and p.namespace == "v2_2_1"
    )
    routes = []
    for pattern in version.url_patterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        methods = tuple(
            m for m in ("get", "put", "patch", "post", "delete") if callable(getattr(view, m, None))
        )
        regex = pattern.pattern.regex
        routes.append(
            MountedRoute(
                name=str(pattern.name),
                regex=regex.pattern,
                view=view,
                methods=methods,
                kwargs=tuple(regex.groupindex),
            )
        )
    return routes


def url_for(route: MountedRoute, *, country_code: str, party_id: str) -> str:
    """A concrete URL for the route: the given party, and an id nobody has for the rest."""
    values = {"country_code": country_code, "party_id": party_id}
    path = route.regex.removeprefix("^").removesuffix("$").removesuffix("/?")
    for name in route.kwargs:
        start = path.index(f"(?P<{name}>")
        depth, end = 0, start
        for end in range(start, len(path)):
            depth += {"(": 1, ")": -1}.get(path[end], 0)
            if depth == 0:
                break
        group = path[start + len(f"(?P<{name}>") : end]
        value = values.get(name) or next(c for c in CANDIDATES if re.fullmatch(group, c))
        path = path[:start] + value + path[end + 1 :]
    return ROOT + path.replace("\\", "")


def test_every_mounted_route_is_in_the_matrix() -> None:
    mounted = {r.name for r in mounted_routes()}
    assert mounted - ROUTES.keys() == set(), "routes missing from ROUTES"
    assert ROUTES.keys() - mounted == set(), "ROUTES lists routes that are not mounted"


def cases(*, party_in_url: bool = False) -> list[tuple[str, str]]:
    return [
        (r.name, m)
        for r in mounted_routes()
        if not party_in_url or "country_code" in r.kwargs
        for m in r.methods
    ]


def _row_counts() -> dict[str, int]:
    labels = {"partners", "locations", "tariffs", "tokens", "charging_sessions", "cdrs"}
    extra = {"commands", "smart_charging"}
    return {
        model._meta.label: model._default_manager.count()
        for model in django_apps.get_models()
        if model._meta.app_label in labels | extra
    }


def _call(client: Client, method: str, url: str, headers: dict[str, str]) -> Any:
    call = getattr(client, method)
    if method in ("put", "patch", "post"):
        return call(url, data="{}", content_type="application/json", headers=headers)
    return call(url, headers=headers)


def _matrix_caller(case: RouteCase) -> tuple[Caller, Caller]:
    own_party("CPO", "EMSP")
    owner = partner_caller(case.caller_role, country_code="BE", party_id="OWN")
    other = partner_caller(case.caller_role, country_code="FR", party_id="OTH")
    return owner, other


@pytest.mark.parametrize(("route_name", "method"), cases())
def test_unknown_token_is_refused_everywhere(route_name: str, method: str) -> None:
    route = next(r for r in mounted_routes() if r.name == route_name)
    owner, _ = _matrix_caller(ROUTES[route_name])
    bogus = "Token " + base64.b64encode(b"never-issued").decode()
    headers = {**owner.headers(), "Authorization": bogus}
    url = url_for(route, country_code="BE", party_id="OWN")
    response = _call(Client(), method, url, headers)
    assert response.status_code == 401, (url, response.content)
    assert response.json()["status_code"] == 2000


@pytest.mark.parametrize(("route_name", "method"), cases())
def test_registration_token_only_reaches_configuration_modules(
    route_name: str, method: str
) -> None:
    route = next(r for r in mounted_routes() if r.name == route_name)
    case = ROUTES[route_name]
    owner, _ = _matrix_caller(case)
    _, token_a = connection_invite(partner=PartnerFactory.create())
    headers = {
        **owner.headers(),
        "Authorization": "Token " + base64.b64encode(token_a.encode()).decode(),
    }
    url = url_for(route, country_code="BE", party_id="OWN")
    response = _call(Client(), method, url, headers)
    if case.configuration:
        assert response.status_code != 401, (url, response.content)
    else:
        assert response.status_code == 401, (url, response.content)


# Routes without a party in the URL (Sender lists, commands, charging profiles) scope by what
# they list or by the session's token party: the contract suite and the module tests cover them.
@pytest.mark.parametrize(("route_name", "method"), cases(party_in_url=True))
def test_another_partys_objects_are_refused_and_nothing_changes(
    route_name: str, method: str
) -> None:
    route = next(r for r in mounted_routes() if r.name == route_name)
    case = ROUTES[route_name]
    owner, other = _matrix_caller(case)
    if case.hub_only:
        caller, expected = partner_caller("EMSP", country_code="DE", party_id="NOH"), 403
    else:
        caller, expected = owner, 404
    before = _row_counts()
    url = url_for(route, country_code="FR", party_id="OTH")  # `other`'s party
    response = _call(caller.client, method, url, caller.headers())
    assert response.status_code == expected, (url, response.content)
    assert response.json()["status_code"] >= 2000
    assert _row_counts() == before
    assert other.party.pk  # the addressed party exists: refusal is about scope, not existence


@pytest.mark.parametrize(("route_name", "method"), cases())
def test_the_owner_is_never_refused_for_scope(route_name: str, method: str) -> None:
    route = next(r for r in mounted_routes() if r.name == route_name)
    case = ROUTES[route_name]
    owner, _ = _matrix_caller(case)
    url = url_for(route, country_code="BE", party_id="OWN")
    response = _call(owner.client, method, url, owner.headers())
    assert response.status_code not in (401, 403), (url, response.content)
    assert SCOPING_MESSAGE not in response.json().get("status_message", ""), url


#: The callers of the role matrix: the role the calling party plays; ``HUB_RELAY`` is a hub
#: connection sending for a party it represents that plays neither role (OTHER).
ROLE_CALLERS = ("CPO", "EMSP", "HUB", "OTHER", "HUB_RELAY")
ROLE_MESSAGE = "interface is for"


def role_cases() -> list[tuple[str, str, str]]:
    return [(name, method, role) for name, method in cases() for role in ROLE_CALLERS]


def _role_caller(role: str) -> tuple[Caller, dict[str, str]]:
    if role != "HUB_RELAY":
        caller = partner_caller(role, country_code="BE", party_id="OWN")
        return caller, caller.headers()
    caller = partner_caller("HUB", country_code="DE", party_id="HUB")
    relayed = PartyFactory.create(
        partner=caller.connection.partner, country_code="BE", party_id="OWN", roles=["OTHER"]
    )
    caller.connection.represented_parties.add(relayed)
    return caller, caller.headers(sender=relayed)


@pytest.mark.parametrize(("route_name", "method", "role"), role_cases())
def test_every_route_checks_the_role_of_the_calling_party(
    route_name: str, method: str, role: str
) -> None:
    route = next(r for r in mounted_routes() if r.name == route_name)
    case = ROUTES[route_name]
    own_party("CPO", "EMSP")
    caller, headers = _role_caller(role)
    allowed = case.configuration or role in case.callers or role in ("HUB", "HUB_RELAY")
    url = url_for(route, country_code="BE", party_id="OWN")
    before = _row_counts()
    response = _call(caller.client, method, url, headers)
    message = response.json().get("status_message", "")
    if allowed:
        assert response.status_code != 403, (url, response.content)
        assert ROLE_MESSAGE not in message, url
        return
    assert response.status_code == 403, (url, response.content)
    assert response.json()["status_code"] == 2000
    expected = " or ".join(sorted(case.callers))
    assert f"{ROLE_MESSAGE} {expected} (or a hub); BE*OWN plays {role}" in message, message
    assert _row_counts() == before
