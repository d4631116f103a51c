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
from tests.factories import PartnerFactory
from tests.ocpi.callers import Caller, own_party, partner_caller

pytestmark = pytest.mark.django_db

ROOT = "/ocpi/2.2.1"
SCOPING_MESSAGE = "is not one this connection represents"
#: Values for the other URL segments: ids nobody has (the first one the segment's regex takes).
CANDIDATES = ("MATRIX1", "6c1f2a9e-3b7d-4e0a-9f51-2d8c4b7a0e13", "START_SESSION")


@dataclass(frozen=True)
class RouteCase:
    """What the matrix needs to know about one route beyond the URLconf.

    ``configuration``: a configuration module (versions/credentials) that token A may call.
    ``hub_only``: the URL's party is the one a hub reports about; callers that are not hubs are
    refused (403) instead of callers of another party.
    ``caller_role``: the role the calling partner's party plays on this route.
    """

    configuration: bool = False
    hub_only: bool = False
    caller_role: str = "EMSP"


ROUTES: dict[str, RouteCase] = {
    "details": RouteCase(configuration=True),
    "credentials": RouteCase(configuration=True),
    # We are the eMSP: a CPO pushes to us.
    "locations_receiver": RouteCase(caller_role="CPO"),
    "locations_receiver_location": RouteCase(caller_role="CPO"),
    "locations_receiver_evse": RouteCase(caller_role="CPO"),
    "locations_receiver_connector": RouteCase(caller_role="CPO"),
    "tariffs_receiver": RouteCase(caller_role="CPO"),
    "tariffs_receiver_tariff": RouteCase(caller_role="CPO"),
    "sessions_receiver": RouteCase(caller_role="CPO"),
    "sessions_receiver_session": RouteCase(caller_role="CPO"),
    "cdrs_receiver": RouteCase(caller_role="CPO"),
    "cdrs_receiver_cdr": RouteCase(caller_role="CPO"),
    "commands_sender": RouteCase(caller_role="CPO"),
    "commands_sender_result": RouteCase(caller_role="CPO"),
    "chargingprofiles_sender": RouteCase(caller_role="CPO"),
    "chargingprofiles_sender_result": RouteCase(caller_role="CPO"),
    "chargingprofiles_sender_session": RouteCase(caller_role="CPO"),
    "tokens_sender": RouteCase(caller_role="CPO"),
    "tokens_sender_authorize": RouteCase(caller_role="CPO"),
    # We are the CPO: an eMSP reads from us or sends to us.
    "locations_sender": RouteCase(),
    "locations_sender_location": RouteCase(),
    "locations_sender_evse": RouteCase(),
    "locations_sender_connector": RouteCase(),
    "tariffs_sender": RouteCase(),
    "sessions_sender": RouteCase(),
    "sessions_sender_charging_preferences": RouteCase(),
    "cdrs_sender": RouteCase(),
    "tokens_receiver": RouteCase(),
    "tokens_receiver_token": RouteCase(),
    "commands_receiver": RouteCase(),
    "commands_receiver_command": RouteCase(),
    "chargingprofiles_receiver": RouteCase(),
    "chargingprofiles_receiver_session": RouteCase(),
    # Configuration module between a platform and a hub.
    "hubclientinfo_receiver": RouteCase(caller_role="HUB"),
    "hubclientinfo_receiver_object": RouteCase(hub_only=True, caller_role="HUB"),
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
