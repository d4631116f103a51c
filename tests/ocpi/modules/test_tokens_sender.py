"""Tokens Sender (we are the eMSP, spec 10.3): our token list, and real-time authorization of
our tokens for the CPOs that ask (``POST {uid}/authorize[?type=]``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.ocpi.common import jsonutil
from apps.partners.models import Party
from apps.tokens.models import Token, TokenAuthorization
from tests.factories import PartyFactory, TokenFactory
from tests.factories.tokens import TokenLocationRestrictionFactory
from tests.ocpi.callers import Caller, V, own_party, partner_caller

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads(response.content)
    return data


@pytest.fixture
def ours() -> Party:
    return own_party("EMSP")


@pytest.fixture
def cpo(ours: Party) -> Caller:
    return partner_caller("CPO", country_code="BE", party_id="BEC")


def own_token(ours: Party, **fields: Any) -> Token:
    fields.setdefault("party", ours)
    return TokenFactory.create(**fields)


# -- the list ------------------------------------------------------------------------------------
def test_the_list_has_our_tokens_only_with_date_filters_and_pages(ours: Party, cpo: Caller) -> None:
    mine = [own_token(ours, uid=f"U{i}", last_updated=T0 + timedelta(hours=i)) for i in range(5)]
    TokenFactory.create(uid="THEIRS", last_updated=T0)  # a CPO copy of another eMSP's token

    everything = cpo.get("emsp/tokens")
    assert everything.status_code == 200
    assert [t["uid"] for t in body(everything)["data"]] == [t.uid for t in mine]
    assert everything.headers["X-Total-Count"] == "5"
    first = body(everything)["data"][0]
    assert first == {
        "country_code": ours.country_code,
        "party_id": ours.party_id,
        "uid": "U0",
        "type": "RFID",
        "contract_id": mine[0].contract_id,
        "issuer": "Demo issuer",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-09-01T12:00:00Z",
    }

    window = cpo.get("emsp/tokens?date_from=2026-09-01T13:00:00Z&date_to=2026-09-01T15:00:00Z")
    assert [t["uid"] for t in body(window)["data"]] == ["U1", "U2"]

    page = cpo.get("emsp/tokens?offset=1&limit=2")
    assert [t["uid"] for t in body(page)["data"]] == ["U1", "U2"]
    assert "offset=3" in page.headers["Link"]


def test_the_list_renders_every_optional_field(ours: Party, cpo: Caller) -> None:
    own_token(
        ours,
        uid="FULL",
        type="APP_USER",
        visual_number="DF000-2001-8999-1",
        group_id="G1",
        language="nl",
        default_profile_type="GREEN",
        energy_supplier_name="Greenpeace Energy eG",
        energy_contract_id="0123456789",
    )
    (data,) = body(cpo.get("emsp/tokens"))["data"]
    assert data["type"] == "APP_USER"
    assert (data["visual_number"], data["group_id"], data["language"]) == (
        "DF000-2001-8999-1",
        "G1",
        "nl",
    )
    assert data["default_profile_type"] == "GREEN"
    assert data["energy_contract"] == {
        "supplier_name": "Greenpeace Energy eG",
        "contract_id": "0123456789",
    }


# -- real-time authorization ---------------------------------------------------------------------
def authorize(
    caller: Caller, uid: str, location: dict[str, Any] | None = None, *, type: str = ""
) -> Any:
    query = f"?type={type}" if type else ""
    path = f"emsp/tokens/{uid}/authorize{query}"
    if location is None:  # no body at all, as a partner sends it
        return caller.client.generic("POST", f"{V}/{path}", b"", headers=caller.headers())
    return caller.post(path, location)


@pytest.mark.parametrize("whitelist", ["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"])
@pytest.mark.parametrize(
    ("valid", "reason", "allowed"),
    [
        (True, "BLOCKED", "ALLOWED"),
        (False, "BLOCKED", "BLOCKED"),
        (False, "EXPIRED", "EXPIRED"),
        (False, "NO_CREDIT", "NO_CREDIT"),
    ],
)
def test_validity_decides_whatever_the_whitelist(
    ours: Party, cpo: Caller, whitelist: str, valid: bool, reason: str, allowed: str
) -> None:
    token = own_token(ours, uid="CARD1", valid=valid, invalid_reason=reason, whitelist=whitelist)

    response = authorize(cpo, "CARD1")
    assert response.status_code == 200, response.content
    answer = body(response)
    assert answer["status_code"] == 1000
    info = answer["data"]
    assert info["allowed"] == allowed
    assert info["token"]["uid"] == "CARD1"
    assert info["token"]["whitelist"] == whitelist
    assert info["token"]["valid"] is valid
    assert "location" not in info
    assert info["info"]["language"] == "en"
    assert info["info"]["text"]

    record = TokenAuthorization.objects.get()
    assert record.authorization_reference == info["authorization_reference"]
    assert len(record.authorization_reference) <= 36
    assert (record.source, record.status, record.token) == ("ISSUED", allowed, token)
    assert record.counterpart == cpo.party
    assert record.connection == cpo.connection


def test_every_authorization_gets_a_new_reference(ours: Party, cpo: Caller) -> None:
    own_token(ours, uid="CARD1")
    references = {
        body(authorize(cpo, "CARD1"))["data"]["authorization_reference"] for _ in range(3)
    }
    assert len(references) == 3
    assert set(TokenAuthorization.objects.values_list("authorization_reference", flat=True)) == (
        references
    )


def test_an_unknown_token_is_404_and_2004_without_data(ours: Party, cpo: Caller) -> None:
    own_token(ours, uid="CARD1", type="APP_USER")
    PartyFactory.create(roles=["EMSP"])
    TokenFactory.create(uid="FOREIGN")  # another eMSP's token we hold as a CPO

    for uid, type_ in (("NOPE", ""), ("CARD1", ""), ("CARD1", "AD_HOC_USER"), ("FOREIGN", "")):
        response = authorize(cpo, uid, type=type_)
        assert response.status_code == 404, (uid, type_)
        answer = body(response)
        assert answer["status_code"] == 2004
        assert "data" not in answer
    assert not TokenAuthorization.objects.exists()

    found = authorize(cpo, "card1", type="APP_USER")  # uid case-insensitive, type given
    assert body(found)["data"]["allowed"] == "ALLOWED"


def test_an_invalid_type_or_location_is_2001(ours: Party, cpo: Caller) -> None:
    own_token(ours, uid="CARD1")
    bad_type = authorize(cpo, "CARD1", type="KEYFOB")
    assert body(bad_type)["status_code"] == 2001
    assert "type" in body(bad_type)["status_message"]
    bad_location = authorize(cpo, "CARD1", {"evse_uids": ["E1"]})
    assert body(bad_location)["status_code"] == 2001
    assert "location_id" in body(bad_location)["status_message"]
    assert not TokenAuthorization.objects.exists()


# -- location restrictions -----------------------------------------------------------------------
@pytest.fixture
def restricted(ours: Party) -> Token:
    """May charge at LOC1 (any CPO, EVSEs E1 and E2 only) and at LOC2 (every EVSE)."""
    token = own_token(ours, uid="CARD1")
    TokenLocationRestrictionFactory.create(token=token, location_id="LOC1", evse_uids=["E1", "E2"])
    TokenLocationRestrictionFactory.create(token=token, location_id="LOC2")
    return token


@pytest.mark.parametrize(
    ("location", "allowed", "echo"),
    [
        ({"location_id": "LOC2"}, "ALLOWED", {"location_id": "LOC2"}),
        (
            {"location_id": "LOC2", "evse_uids": ["X1", "X2"]},
            "ALLOWED",
            {"location_id": "LOC2", "evse_uids": ["X1", "X2"]},
        ),
        ({"location_id": "loc1"}, "ALLOWED", {"location_id": "loc1", "evse_uids": ["E1", "E2"]}),
        (
            {"location_id": "LOC1", "evse_uids": ["E2", "E3"]},
            "ALLOWED",
            {"location_id": "LOC1", "evse_uids": ["E2"]},
        ),
        ({"location_id": "LOC1", "evse_uids": ["E3"]}, "NOT_ALLOWED", None),
        ({"location_id": "LOC9"}, "NOT_ALLOWED", None),
    ],
)
def test_location_restrictions(
    cpo: Caller,
    restricted: Token,
    location: dict[str, Any],
    allowed: str,
    echo: dict[str, Any] | None,
) -> None:
    info = body(authorize(cpo, "CARD1", location))["data"]
    assert info["allowed"] == allowed
    assert info.get("location") == echo
    record = TokenAuthorization.objects.get()
    assert (record.status, record.location_id, record.evse_uids) == (
        allowed,
        location["location_id"],
        location.get("evse_uids", []),
    )


def test_a_restricted_token_without_location_is_2002(cpo: Caller, restricted: Token) -> None:
    for response in (authorize(cpo, "CARD1"), authorize(cpo, "CARD1", {})):
        assert response.status_code == 200
        assert body(response)["status_code"] == 2002
        assert "LocationReferences" in body(response)["status_message"]
    assert not TokenAuthorization.objects.exists()


def test_a_restricted_token_that_is_not_valid_is_refused_without_location(
    cpo: Caller, restricted: Token
) -> None:
    restricted.valid = False
    restricted.save()
    assert body(authorize(cpo, "CARD1"))["data"]["allowed"] == "BLOCKED"


def test_a_restriction_may_name_the_cpo(ours: Party, cpo: Caller) -> None:
    token = own_token(ours, uid="CARD1")
    other_cpo = PartyFactory.create(roles=["CPO"])
    TokenLocationRestrictionFactory.create(token=token, cpo=other_cpo, location_id="LOC1")
    TokenLocationRestrictionFactory.create(token=token, cpo=cpo.party, location_id="LOC2")

    assert body(authorize(cpo, "CARD1", {"location_id": "LOC1"}))["data"]["allowed"] == (
        "NOT_ALLOWED"
    )
    assert body(authorize(cpo, "CARD1", {"location_id": "LOC2"}))["data"]["allowed"] == "ALLOWED"


def test_only_the_addressed_emsp_party_is_asked(cpo: Caller) -> None:
    first = own_party("EMSP")
    second = own_party("EMSP", country_code="NL", party_id="TWO")
    own_token(first, uid="CARD1")
    cpo.to = second
    response = authorize(cpo, "CARD1")
    assert response.status_code == 404
    cpo.to = first
    assert body(authorize(cpo, "CARD1"))["data"]["allowed"] == "ALLOWED"
