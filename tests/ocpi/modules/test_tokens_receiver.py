"""Tokens Receiver (we are the CPO, spec 10.2): an eMSP pushes its tokens with PUT and PATCH and
reads back what we hold with GET. Tokens are identified by uid *and* type (``?type=``, RFID when
absent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.ocpi.common import jsonutil
from apps.partners.models import Party
from apps.tokens.models import Token
from tests.factories import TokenFactory
from tests.ocpi.callers import Caller, own_party, partner_caller
from tests.ocpi.contract import comparable

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ocpi" / "2.2.1" / "tokens"


def example(name: str) -> dict[str, Any]:
    """A spec example (unmodified copy), numbers as Decimal."""
    data: dict[str, Any] = jsonutil.loads((FIXTURES / name).read_text())
    return data


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = jsonutil.loads(response.content)
    return data


def emsp(country_code: str, party_id: str) -> Caller:
    own_party("CPO")
    return partner_caller("EMSP", country_code=country_code, party_id=party_id)


def url(token: dict[str, Any], *, type_: str | None = None, uid: str | None = None) -> str:
    query = f"?type={type_}" if type_ else ""
    return f"cpo/tokens/{token['country_code']}/{token['party_id']}/{uid or token['uid']}{query}"


def stored(party: Party, uid: str, type_: str = "RFID") -> Token:
    return Token.objects.get(party=party, uid=uid, type=type_)


# -- PUT and GET with the spec's examples --------------------------------------------------------
def test_put_example_is_created_then_replaced_and_read_back_unchanged() -> None:
    token = example("token_put_example.json")
    caller = emsp("NL", "TNM")

    created = caller.put(url(token), token)
    assert created.status_code == 201, created.content
    assert body(created)["status_code"] == 1000
    assert "data" not in body(created)

    row = stored(caller.party, "012345678")
    assert (row.contract_id, row.visual_number, row.issuer, row.group_id) == (
        "NL8ACC12E46L89",
        "DF000-2001-8999-1",
        "TheNewMotion",
        "DF000-2001-8999",
    )
    assert (row.valid, row.whitelist, row.source_connection) == (True, "ALWAYS", caller.connection)

    got = caller.get(url(token))
    assert got.status_code == 200
    assert comparable(body(got)["data"]) == comparable(token)

    again = caller.put(url(token), token)
    assert again.status_code == 200
    assert Token.objects.count() == 1


def test_full_rfid_example_keeps_every_optional_field() -> None:
    token = example("token_example_2_full_rfid.json")
    caller = emsp("DE", "TNM")

    assert caller.put(url(token), token).status_code == 201
    row = stored(caller.party, "12345678905880")
    assert (row.language, row.default_profile_type) == ("it", "GREEN")
    assert (row.energy_supplier_name, row.energy_contract_id) == (
        "Greenpeace Energy eG",
        "0123456789",
    )
    assert comparable(body(caller.get(url(token)))["data"]) == comparable(token)


def test_app_user_example_is_addressed_with_its_type() -> None:
    token = example("token_example_1_app_user.json")
    caller = emsp("DE", "TNM")

    # Without ?type= the URL addresses an RFID token: the body's APP_USER does not match.
    refused = caller.put(url(token), token)
    assert refused.status_code == 200
    assert body(refused)["status_code"] == 2001
    assert "type" in body(refused)["status_message"]
    assert not Token.objects.exists()

    assert caller.put(url(token, type_="APP_USER"), token).status_code == 201
    assert stored(caller.party, token["uid"], "APP_USER").contract_id == "DE8ACC12E46L89"

    missing = caller.get(url(token))  # type RFID by default: no such token
    assert missing.status_code == 404
    assert body(missing)["status_code"] == 2004
    found = caller.get(url(token, type_="APP_USER"))
    assert comparable(body(found)["data"]) == comparable(token)


def test_the_same_uid_with_two_types_is_two_tokens() -> None:
    rfid = example("token_put_example.json")
    app = {**rfid, "type": "APP_USER", "whitelist": "NEVER", "contract_id": "NL8ACC12E46L90"}
    caller = emsp("NL", "TNM")

    assert caller.put(url(rfid), rfid).status_code == 201
    assert caller.put(url(app, type_="APP_USER"), app).status_code == 201
    assert Token.objects.filter(uid="012345678").count() == 2

    patch = example("token_patch_example.json")
    assert caller.patch(url(app, type_="APP_USER"), patch).status_code == 200
    assert stored(caller.party, "012345678", "APP_USER").valid is False
    assert stored(caller.party, "012345678", "RFID").valid is True

    assert body(caller.get(url(rfid, type_="RFID")))["data"]["whitelist"] == "ALWAYS"
    assert body(caller.get(url(app, type_="APP_USER")))["data"]["whitelist"] == "NEVER"


def test_uids_are_case_insensitive() -> None:
    token = example("token_put_example.json") | {"uid": "ABCDEF01"}
    caller = emsp("NL", "TNM")
    assert caller.put(url(token), token).status_code == 201
    lower = caller.get(url(token, uid="abcdef01"))
    assert lower.status_code == 200
    assert body(lower)["data"]["uid"] == "ABCDEF01"
    assert caller.put(url(token, uid="abcdef01"), token).status_code == 200
    assert Token.objects.count() == 1


@pytest.mark.parametrize("value", ["rfid", "CARD", "APP USER"])
def test_an_invalid_type_parameter_is_2001(value: str) -> None:
    token = example("token_put_example.json")
    caller = emsp("NL", "TNM")
    for response in (
        caller.put(url(token, type_=value), token),
        caller.get(url(token, type_=value)),
        caller.patch(url(token, type_=value), example("token_patch_example.json")),
    ):
        assert response.status_code == 200
        assert body(response)["status_code"] == 2001
        assert "type" in body(response)["status_message"]
    assert not Token.objects.exists()


# -- PATCH ---------------------------------------------------------------------------------------
def test_patch_example_invalidates_the_token_and_keeps_the_rest() -> None:
    token = example("token_example_2_full_rfid.json")
    caller = emsp("DE", "TNM")
    caller.put(url(token), token)

    response = caller.patch(url(token), example("token_patch_example.json"))
    assert response.status_code == 200, response.content
    assert body(response)["status_code"] == 1000

    data = body(caller.get(url(token)))["data"]
    assert data["valid"] is False
    assert data["last_updated"] == "2019-06-19T02:11:11Z"
    assert comparable({**data, "valid": True, "last_updated": token["last_updated"]}) == (
        comparable(token)
    )


def test_patch_without_last_updated_is_2001_and_changes_nothing() -> None:
    token = example("token_put_example.json")
    caller = emsp("NL", "TNM")
    caller.put(url(token), token)

    response = caller.patch(url(token), {"valid": False})
    assert body(response)["status_code"] == 2001
    assert "last_updated" in body(response)["status_message"]
    assert stored(caller.party, "012345678").valid is True


def test_patch_of_an_unknown_token_is_404_unknown_token() -> None:
    caller = emsp("NL", "TNM")
    response = caller.patch("cpo/tokens/NL/TNM/NOPE", example("token_patch_example.json"))
    assert response.status_code == 404
    assert body(response)["status_code"] == 2004
    assert not Token.objects.exists()


def test_patch_naming_another_uid_in_the_body_is_2001() -> None:
    token = example("token_put_example.json")
    caller = emsp("NL", "TNM")
    caller.put(url(token), token)
    patch = example("token_patch_example.json") | {"uid": "OTHER"}
    response = caller.patch(url(token), patch)
    assert body(response)["status_code"] == 2001
    assert "uid" in body(response)["status_message"]
    assert stored(caller.party, "012345678").valid is True


# -- staleness -----------------------------------------------------------------------------------
def test_older_put_and_patch_are_ignored() -> None:
    token = example("token_put_example.json")  # last_updated 2015-06-29T22:39:09Z
    caller = emsp("NL", "TNM")
    caller.put(url(token), token)

    older = token | {"contract_id": "NL-OLD", "last_updated": "2015-06-29T22:39:08Z"}
    response = caller.put(url(token), older)
    assert response.status_code == 200
    assert body(response)["status_code"] == 1000
    assert "ignored" in body(response)["status_message"]

    stale_patch = {"valid": False, "last_updated": "2014-01-01T00:00:00Z"}
    response = caller.patch(url(token), stale_patch)
    assert "ignored" in body(response)["status_message"]

    row = stored(caller.party, "012345678")
    assert (row.contract_id, row.valid) == ("NL8ACC12E46L89", True)

    same_time = token | {"contract_id": "NL-SAME"}  # equal timestamps are applied
    caller.put(url(token), same_time)
    assert stored(caller.party, "012345678").contract_id == "NL-SAME"


# -- scoping and identity ------------------------------------------------------------------------
def test_a_caller_cannot_write_or_read_another_partys_tokens() -> None:
    token = example("token_put_example.json")  # NL*TNM
    owner = emsp("NL", "TNM")
    owner.put(url(token), token)
    intruder = partner_caller("EMSP", country_code="FR", party_id="INT")

    for response in (
        intruder.get(url(token)),
        intruder.put(url(token), token | {"contract_id": "HIJACK"}),
        intruder.patch(url(token), example("token_patch_example.json")),
    ):
        assert response.status_code == 404
    row = stored(owner.party, "012345678")
    assert (row.contract_id, row.valid) == ("NL8ACC12E46L89", True)


def test_the_owner_in_the_body_must_match_the_url() -> None:
    token = example("token_put_example.json")
    caller = emsp("NL", "TNM")
    response = caller.put(url(token), token | {"party_id": "XXX"})
    assert body(response)["status_code"] == 2001
    assert "party_id" in body(response)["status_message"]
    response = caller.put(url(token), token | {"uid": "999"})
    assert body(response)["status_code"] == 2001
    assert "uid" in body(response)["status_message"]
    assert not Token.objects.exists()


def test_a_token_we_hold_for_another_emsp_with_the_same_uid_is_not_visible() -> None:
    caller = emsp("NL", "TNM")
    TokenFactory.create(uid="012345678")  # another eMSP's token, same uid
    response = caller.get("cpo/tokens/NL/TNM/012345678")
    assert response.status_code == 404
    assert body(response)["status_code"] == 2004


# -- invalid payloads ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"valid": "yes"}, "valid"),
        ({"whitelist": "SOMETIMES"}, "whitelist"),
        ({"type": "BADGE"}, "type"),
        ({"contract_id": "x" * 37}, "contract_id"),
        ({"issuer": None}, "issuer"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"energy_contract": {"contract_id": "1"}}, "energy_contract.supplier_name"),
        ({"default_profile_type": "TURBO"}, "default_profile_type"),
        ({"language": "ita"}, "language"),
    ],
)
def test_an_invalid_token_is_2001_naming_the_field_and_nothing_is_lost(
    change: dict[str, Any], field: str
) -> None:
    token = example("token_put_example.json")
    caller = emsp("NL", "TNM")
    caller.put(url(token), token)

    newer = token | {"last_updated": "2016-01-01T00:00:00Z"} | change
    response = caller.put(url(token), newer)
    assert response.status_code == 200
    assert body(response)["status_code"] == 2001
    assert field in body(response)["status_message"]
    assert comparable(body(caller.get(url(token)))["data"]) == comparable(token)


def test_the_receiver_root_has_no_methods() -> None:
    caller = emsp("NL", "TNM")
    assert caller.get("cpo/tokens").status_code == 405
