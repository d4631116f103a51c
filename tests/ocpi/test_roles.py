"""Roles, not only parties (spec 1.2): the issue's cases with real bodies and real data. The
generated route x method x role matrix is in ``test_scoping_matrix.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory

from apps.commands.models import Command
from apps.locations.models import Location
from apps.ocpi.common.mounting import MountedEndpoint
from apps.ocpi.v2_2_1.tokens.views import TokensSenderListView
from apps.tokens.models import Token, TokenAuthorization
from tests.factories import PartyFactory, TokenFactory
from tests.factories.commands import charging_site, start_session_body, token_example
from tests.ocpi.callers import own_party, partner_caller

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ocpi" / "2.2.1"


def example(module: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / module / name).read_text())
    return data


def refused(response: Any, message: str) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["status_code"] == 2000
    assert message in response.json()["status_message"]
    assert "data" not in response.json()


def test_a_competing_emsp_neither_lists_nor_authorizes_our_tokens() -> None:
    ours = own_party("EMSP")
    TokenFactory.create(party=ours, uid="RFID-SECRET-1")
    competitor = partner_caller("EMSP", country_code="BE", party_id="AAA")

    refused(competitor.get("emsp/tokens"), "the tokens SENDER interface is for CPO")
    refused(competitor.post("emsp/tokens/RFID-SECRET-1/authorize"), "BE*AAA plays EMSP")
    assert not TokenAuthorization.objects.exists()

    cpo = partner_caller("CPO", country_code="BE", party_id="CCC")
    listed = cpo.get("emsp/tokens")
    assert [t["uid"] for t in listed.json()["data"]] == ["RFID-SECRET-1"]


def test_a_cpo_only_partner_cannot_push_tokens_to_our_cpo_nor_start_sessions() -> None:
    us = own_party("CPO")
    charging_site(us)
    cpo = partner_caller("CPO", country_code="DE", party_id="TNM")
    cpo.to = us
    token = {**example("tokens", "token_put_example.json"), "country_code": "DE"}
    token["party_id"] = "TNM"

    refused(cpo.put(f"cpo/tokens/DE/TNM/{token['uid']}", token), "is for EMSP")
    assert not Token.objects.exists()
    body = start_session_body("http://127.0.0.1:9/results/1", token=token_example())
    refused(cpo.post("cpo/commands/START_SESSION", body), "the commands RECEIVER interface")
    assert not Command.objects.exists()


def test_an_emsp_only_partner_cannot_push_locations_to_our_emsp() -> None:
    own_party("EMSP")
    emsp = partner_caller("EMSP", country_code="BE", party_id="AAA")
    location = {**example("locations", "location_example.json"), "country_code": "BE"}
    location["party_id"] = "AAA"

    response = emsp.put(f"emsp/locations/BE/AAA/{location['id']}", location)
    refused(response, "the locations RECEIVER interface is for CPO (or a hub); BE*AAA plays EMSP")
    assert not Location.objects.exists()

    cpo = partner_caller("CPO", country_code="BE", party_id="BBB")
    location["party_id"] = "BBB"
    assert cpo.put(f"emsp/locations/BE/BBB/{location['id']}", location).status_code == 201


def test_a_multi_role_partner_is_judged_by_the_party_it_sends_as() -> None:
    ours = own_party("EMSP")
    TokenFactory.create(party=ours, uid="RFID-2")
    platform = partner_caller("EMSP", country_code="BE", party_id="AAA")
    its_cpo = PartyFactory.create(
        partner=platform.connection.partner, country_code="BE", party_id="AAC", roles=["CPO"]
    )
    platform.connection.represented_parties.add(its_cpo)

    refused(platform.get("emsp/tokens"), "BE*AAA plays EMSP")
    as_cpo = platform.get("emsp/tokens", headers=platform.headers(sender=its_cpo))
    assert as_cpo.status_code == 200
    assert [t["uid"] for t in as_cpo.json()["data"]] == ["RFID-2"]


def test_a_route_that_declares_no_caller_roles_refuses_everyone() -> None:
    own_party("EMSP")
    undeclared = MountedEndpoint(
        "tokens", "SENDER", "emsp/tokens", TokensSenderListView.as_view(), "undeclared"
    )
    cpo = partner_caller("CPO", country_code="BE", party_id="CCC")
    request = RequestFactory().get("/ocpi/2.2.1/emsp/tokens", headers=cpo.headers())
    response = undeclared.pattern().callback(request)
    response.render()
    assert response.status_code == 403
    assert (
        json.loads(response.content)["status_message"] == "this interface is not open to partners"
    )
