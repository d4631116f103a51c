"""Real-time authorization, CPO side, over real HTTP: our client against a second roamdesk
platform acting as the eMSP, a scripted partner that answers too late (or badly), and an
address where nothing listens. The truth table crosses the token's whitelist type with what the
partner does, and checks the decision and who made it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from apps.cdrs.models import Cdr
from apps.charging_sessions.services import session_complete
from apps.ocpi.models import ExchangeLogEntry
from apps.ocpi.services.authorization import token_authorize_realtime
from apps.ocpi.services.handshake import connection_register
from apps.partners.models import Partner, PartnerConnection, Party
from apps.tokens.models import Token, TokenAuthorization
from apps.tokens.services import AuthorizationOutcome
from tests.cdrs.test_generation import END, active_session, build_world
from tests.factories import ConnectionFactory, PartyFactory, TokenFactory
from tests.factories.tokens import TokenLocationRestrictionFactory
from tests.ocpi.callers import own_party
from tests.ocpi.httpserver import OcpiPeer, Reply, envelope
from tests.ocpi.peer import PeerPlatform, free_port, running_peer_platform
from tests.ocpi.peer import peer_platform as peer_platform  # fixture

pytestmark = [pytest.mark.slow]

WHITELISTS = ["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]
SHORT = Decimal("0.3")  # the timeout of every case that waits for nothing


# -- the eMSP platform, shared by the module -------------------------------------------------------
@dataclass(frozen=True)
class Emsp:
    platform: PeerPlatform
    token: str  # the credentials token it accepts from us

    @property
    def tokens_url(self) -> str:
        return f"{self.platform.base_url}/ocpi/2.2.1/emsp/tokens"


PEER_SETUP = """
from apps.partners.models import Partner, PartnerConnection, Party
from apps.partners.services import connection_issue_token
from apps.tokens.models import Token
partner = Partner.objects.create(name='roamdesk NL')
connection = PartnerConnection.objects.create(
    partner=partner, name='NL', status='CONNECTED', version='2.2.1')
cpo = Party.objects.create(
    partner=partner, country_code='NL', party_id='RDK', roles=['CPO'], name='roamdesk')
connection.represented_parties.add(cpo)
ours = Party.objects.own().get()
for whitelist in ('ALWAYS', 'ALLOWED', 'ALLOWED_OFFLINE', 'NEVER'):
    for prefix, valid in (('OK', True), ('BLK', False)):
        Token.objects.create(
            party=ours, uid=f'{prefix}-{whitelist}', type='RFID', contract_id=f'DE-PBB-{prefix}',
            issuer='Peer eMSP', valid=valid, whitelist=whitelist,
            last_updated='2026-09-01T12:00:00Z')
result = connection_issue_token(connection=connection, registration=False)
"""


@pytest.fixture(scope="module")
def emsp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emsp]:
    """A running roamdesk eMSP (DE*PBB) that knows us (NL*RDK, CPO) and holds, for every
    whitelist type W, a valid token ``OK-W`` and a blocked one ``BLK-W``."""
    with running_peer_platform(tmp_path_factory.mktemp("emsp")) as platform:
        yield Emsp(platform=platform, token=platform.python(PEER_SETUP))


@pytest.fixture(autouse=True)
def local_calls() -> Iterator[None]:
    with override_settings(OCPI_OUTBOUND_ALLOW_LOCAL=True):
        yield


def connect(url: str, send_token: str, *, timeout: Decimal = Decimal("3")) -> PartnerConnection:
    """Our side: the eMSP DE*PBB, reached at ``url`` (its Tokens SENDER) with ``send_token``;
    the state a registration leaves behind."""
    own_party("CPO")
    party = PartyFactory.create(country_code="DE", party_id="PBB", roles=["EMSP"])
    connection = ConnectionFactory.create(
        partner=party.partner,
        status="CONNECTED",
        version="2.2.1",
        endpoints=[{"identifier": "tokens", "role": "SENDER", "url": url}],
        authorization_timeout=timeout,
    )
    connection.set_send_token(send_token)
    connection.save()
    connection.represented_parties.add(party)
    return connection


def copy_of(uid: str, whitelist: str, *, valid: bool = True) -> Token:
    """Our copy of the eMSP's token, older than the eMSP's current version."""
    return TokenFactory.create(
        party=Party.objects.get(country_code="DE", party_id="PBB"),
        uid=uid,
        whitelist=whitelist,
        valid=valid,
        last_updated=datetime(2026, 8, 1, tzinfo=UTC),
    )


def ask(uid: str, **options: Any) -> tuple[AuthorizationOutcome, float]:
    started = time.monotonic()
    outcome = token_authorize_realtime(
        token_uid=uid, token_type="RFID", token_party=("DE", "PBB"), **options
    )
    return outcome, time.monotonic() - started


def info(uid: str, allowed: str = "ALLOWED", **extra: Any) -> dict[str, Any]:
    """An AuthorizationInfo a scripted eMSP answers with."""
    return {
        "allowed": allowed,
        "token": {
            "country_code": "DE",
            "party_id": "PBB",
            "uid": uid,
            "type": "RFID",
            "contract_id": "DE-PBB-C1",
            "issuer": "Peer eMSP",
            "valid": allowed == "ALLOWED",
            "whitelist": "ALLOWED",
            "last_updated": "2026-09-01T12:00:00Z",
        },
        "authorization_reference": "REF-FROM-THE-EMSP",
        **extra,
    }


def outbound_calls() -> int:
    return ExchangeLogEntry.objects.filter(direction="OUT", module="tokens").count()


# -- the truth table ------------------------------------------------------------------------------
ALLOWED = (True, "ALLOWED")
LOCAL, PARTNER, FALLBACK = "LOCAL", "PARTNER", "FALLBACK"
# (partner behaviour, whitelist) → (allowed, status, source). Our copy of the token is valid.
TABLE = {
    ("allows", "ALWAYS"): (*ALLOWED, LOCAL),  # never asked: the spec forbids it
    ("allows", "ALLOWED"): (*ALLOWED, PARTNER),
    ("allows", "ALLOWED_OFFLINE"): (*ALLOWED, PARTNER),
    ("allows", "NEVER"): (*ALLOWED, PARTNER),
    ("blocks", "ALWAYS"): (*ALLOWED, LOCAL),
    ("blocks", "ALLOWED"): (False, "BLOCKED", PARTNER),
    ("blocks", "ALLOWED_OFFLINE"): (False, "BLOCKED", PARTNER),
    ("blocks", "NEVER"): (False, "BLOCKED", PARTNER),
    ("too late", "ALWAYS"): (*ALLOWED, LOCAL),
    ("too late", "ALLOWED"): (*ALLOWED, FALLBACK),
    ("too late", "ALLOWED_OFFLINE"): (*ALLOWED, FALLBACK),
    ("too late", "NEVER"): (False, "NOT_ALLOWED", FALLBACK),
    ("refuses connections", "ALWAYS"): (*ALLOWED, LOCAL),
    ("refuses connections", "ALLOWED"): (*ALLOWED, FALLBACK),
    ("refuses connections", "ALLOWED_OFFLINE"): (*ALLOWED, FALLBACK),
    ("refuses connections", "NEVER"): (False, "NOT_ALLOWED", FALLBACK),
    # The eMSP was reached and does not know the token: a decision, not an outage.
    ("does not know the token", "ALWAYS"): (*ALLOWED, LOCAL),
    ("does not know the token", "ALLOWED"): (False, "UNKNOWN_TOKEN", PARTNER),
    ("does not know the token", "ALLOWED_OFFLINE"): (False, "UNKNOWN_TOKEN", PARTNER),
    ("does not know the token", "NEVER"): (False, "UNKNOWN_TOKEN", PARTNER),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("behaviour", "whitelist"), list(TABLE), ids=[f"{b}-{w}" for b, w in TABLE]
)
def test_truth_table(emsp: Emsp, ocpi_peer: OcpiPeer, behaviour: str, whitelist: str) -> None:
    expected_allowed, expected_status, expected_source = TABLE[behaviour, whitelist]
    uid = {
        "allows": f"OK-{whitelist}",
        "blocks": f"BLK-{whitelist}",
        "does not know the token": f"NONE-{whitelist}",
    }.get(behaviour, f"OK-{whitelist}")
    if behaviour == "too late":
        ocpi_peer.reply(envelope(info(uid)), delay=2.0)
        connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens"), "peer-token", timeout=SHORT)
    elif behaviour == "refuses connections":
        connect(f"http://127.0.0.1:{free_port()}/ocpi/2.2.1/emsp/tokens", "x", timeout=SHORT)
    else:
        connect(emsp.tokens_url, emsp.token)
    ours = copy_of(uid, whitelist)

    outcome, elapsed = ask(uid)

    assert (outcome.allowed, outcome.status, outcome.source) == (
        expected_allowed,
        expected_status,
        expected_source,
    ), outcome.detail
    record = TokenAuthorization.objects.get()
    assert record.pk == outcome.record_id
    assert (record.source, record.status, record.token) == (
        expected_source,
        expected_status,
        ours,
    )
    assert record.authorization_reference == outcome.authorization_reference
    if outcome.allowed:
        # The session and CDR need a reference: the eMSP's, or one we make up when we decide.
        assert 0 < len(outcome.authorization_reference) <= 36
    elif expected_source != PARTNER:
        assert outcome.authorization_reference == ""  # we make none up for a refusal

    if expected_source == LOCAL:
        assert outbound_calls() == 0
        assert ocpi_peer.requests == []
    else:
        assert outbound_calls() == 1
    if behaviour in ("too late", "refuses connections") and whitelist != "ALWAYS":
        assert elapsed < 1.0  # the 0.3 s budget, not the partner's 2 s
    if behaviour == "blocks" and whitelist != "ALWAYS":
        ours.refresh_from_db()
        assert ours.valid is False  # the token in the eMSP's answer refreshed our copy


# -- the whitelist rule when our copy is not valid, or missing --------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("whitelist", "expected"),
    [
        ("ALWAYS", (False, "BLOCKED", LOCAL)),
        ("ALLOWED", (False, "BLOCKED", FALLBACK)),
        # "If the eMSP cannot be reached, allow the token", whatever our copy says.
        ("ALLOWED_OFFLINE", (True, "ALLOWED", FALLBACK)),
        ("NEVER", (False, "NOT_ALLOWED", FALLBACK)),
        (None, (False, "UNKNOWN_TOKEN", FALLBACK)),  # no copy at all
    ],
)
def test_unreachable_emsp_with_our_copy_not_valid(
    whitelist: str | None, expected: tuple[bool, str, str]
) -> None:
    connect(f"http://127.0.0.1:{free_port()}/ocpi/2.2.1/emsp/tokens", "x", timeout=SHORT)
    if whitelist is not None:
        copy_of("CARD", whitelist, valid=False)
    outcome, _ = ask("CARD")
    assert (outcome.allowed, outcome.status, outcome.source) == expected, outcome.detail
    assert bool(outcome.authorization_reference) is outcome.allowed


# -- the scripted partner: what we send, and what we make of odd answers ----------------------
@pytest.mark.django_db
def test_the_request_names_token_type_location_and_routing(ocpi_peer: OcpiPeer) -> None:
    ocpi_peer.reply(
        envelope(
            info("APP 1", location={"location_id": "LOC1", "evse_uids": ["E2"]})
            | {"token": info("APP 1")["token"] | {"type": "APP_USER"}}
        )
    )
    connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens/"), "peer-token")
    outcome = token_authorize_realtime(
        token_uid="APP 1",
        token_type="APP_USER",
        token_party=("de", "pbb"),
        location_references={"location_id": "LOC1", "evse_uids": ["E1", "E2"]},
    )
    assert (outcome.allowed, outcome.source) == (True, "PARTNER")
    assert outcome.authorization_reference == "REF-FROM-THE-EMSP"
    assert outcome.location is not None
    assert outcome.location.evse_uids == ("E2",)

    request = ocpi_peer.last
    assert request.method == "POST"
    assert request.path == "/ocpi/2.2.1/emsp/tokens/APP%201/authorize"
    assert request.query == {"type": ["APP_USER"]}
    assert request.json() == {"location_id": "LOC1", "evse_uids": ["E1", "E2"]}
    assert request.headers["Authorization"].startswith("Token ")
    assert (request.headers["OCPI-to-country-code"], request.headers["OCPI-to-party-id"]) == (
        "DE",
        "PBB",
    )
    assert (
        request.headers["OCPI-from-country-code"],
        request.headers["OCPI-from-party-id"],
    ) == ("NL", "RDK")
    # We learnt the token from the answer (we held no copy).
    learnt = Token.objects.get(uid="APP 1", type="APP_USER")
    assert learnt.contract_id == "DE-PBB-C1"
    record = TokenAuthorization.objects.get()
    assert (record.token, record.allowed_evse_uids, record.evse_uids) == (
        learnt,
        ["E2"],
        ["E1", "E2"],
    )


@pytest.mark.django_db
def test_no_body_is_sent_without_location(ocpi_peer: OcpiPeer) -> None:
    ocpi_peer.reply(envelope(info("CARD")))
    connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens"), "peer-token")
    ask("CARD")
    assert ocpi_peer.last.body == b""
    assert ocpi_peer.last.query == {"type": ["RFID"]}


@pytest.mark.django_db
def test_a_partner_slow_but_within_the_timeout_is_waited_for(ocpi_peer: OcpiPeer) -> None:
    ocpi_peer.reply(envelope(info("CARD")), delay=0.6)
    connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens"), "peer-token", timeout=Decimal("2"))
    copy_of("CARD", "NEVER")
    outcome, elapsed = ask("CARD")
    assert (outcome.allowed, outcome.source) == (True, "PARTNER")
    assert elapsed >= 0.6


@pytest.mark.django_db
def test_the_timeout_bounds_the_whole_exchange_not_each_read(ocpi_peer: OcpiPeer) -> None:
    # The answer starts at once but trickles in: each piece well within 0.3 s, the whole not.
    document = envelope(info("CARD"))
    pieces = [document[i : i + 40] for i in range(0, len(document), 40)]
    ocpi_peer.reply(envelope(), chunks=pieces, chunk_delay=0.15)
    connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens"), "peer-token", timeout=SHORT)
    copy_of("CARD", "NEVER")
    outcome, elapsed = ask("CARD")
    assert len(pieces) * 0.15 > 1.0
    assert (outcome.allowed, outcome.source) == (False, "FALLBACK")
    assert "timeout" in outcome.detail
    assert elapsed < 0.8


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply(body=envelope(status_code=2002, status_message="need a location")), "2002"),
        (Reply(body=envelope(status_code=3000)), "3000"),
        (Reply(status=503, body=b"down", content_type="text/plain"), "503"),
        (Reply(body=envelope({"allowed": "ALLOWED"})), "token"),
        (Reply(body=envelope(info("CARD", allowed="MAYBE"))), "allowed"),
    ],
    ids=["2002", "3000", "http-503", "no-token", "bad-allowed"],
)
def test_an_unusable_answer_falls_back_to_the_whitelist_rule(
    ocpi_peer: OcpiPeer, reply: Reply, why: str
) -> None:
    ocpi_peer.queue(reply, reply)
    connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens"), "peer-token")
    copy_of("CARD", "ALLOWED_OFFLINE")
    offline, _ = ask("CARD")
    assert (offline.allowed, offline.source) == (True, "FALLBACK")
    assert why in offline.detail
    Token.objects.filter(uid="CARD").update(whitelist="NEVER")
    never, _ = ask("CARD")
    assert (never.allowed, never.source) == (False, "FALLBACK")


@pytest.mark.django_db
def test_a_2004_answer_with_http_404_is_the_emsps_decision(ocpi_peer: OcpiPeer) -> None:
    ocpi_peer.reply(envelope(status_code=2004, status_message="unknown token"), status=404)
    connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens"), "peer-token")
    copy_of("CARD", "ALLOWED_OFFLINE")
    outcome, _ = ask("CARD")
    assert (outcome.allowed, outcome.status, outcome.source) == (False, "UNKNOWN_TOKEN", PARTNER)


@pytest.mark.django_db
def test_without_a_usable_connection_the_whitelist_rule_decides(ocpi_peer: OcpiPeer) -> None:
    connection = connect(ocpi_peer.url("/ocpi/2.2.1/emsp/tokens"), "peer-token")
    connection.status = "SUSPENDED"
    connection.save()
    copy_of("CARD", "ALLOWED")
    outcome, _ = ask("CARD")
    assert (outcome.allowed, outcome.source) == (True, "FALLBACK")
    assert "no connected partner" in outcome.detail
    assert ocpi_peer.requests == []

    unknown_party = token_authorize_realtime(
        token_uid="CARD", token_type="RFID", token_party=("FR", "ZZZ")
    )
    assert (unknown_party.allowed, unknown_party.status) == (False, "UNKNOWN_TOKEN")


@pytest.mark.django_db
def test_our_own_token_is_decided_by_our_own_emsp() -> None:
    ours = own_party("CPO", "EMSP")
    token = TokenFactory.create(party=ours, uid="MINE", whitelist="NEVER")
    TokenLocationRestrictionFactory.create(token=token, location_id="LOC1")
    allowed = token_authorize_realtime(
        token_uid="MINE",
        token_type="RFID",
        token_party=ours,
        location_references={"location_id": "LOC1"},
    )
    assert (allowed.allowed, allowed.source) == (True, "ISSUED")
    assert TokenAuthorization.objects.get().authorization_reference == (
        allowed.authorization_reference
    )
    elsewhere = token_authorize_realtime(
        token_uid="MINE",
        token_type="RFID",
        token_party=ours,
        location_references={"location_id": "LOC2"},
    )
    assert (elsewhere.allowed, elsewhere.status) == (False, "NOT_ALLOWED")


# -- end to end: registration, authorization, session and CDR ----------------------------------
@pytest.mark.django_db(transaction=True)
def test_registered_emsp_authorizes_and_the_reference_reaches_the_cdr(
    us: str, peer_platform: PeerPlatform
) -> None:
    peer = peer_platform
    invite = peer.python(
        "from apps.ocpi.services.handshake import connection_invite, our_versions_url\n"
        "from apps.partners.models import Partner, Party\n"
        "from apps.tokens.models import Token, TokenLocationRestriction\n"
        "c, t = connection_invite(partner=Partner.objects.create(name='roamdesk NL'))\n"
        "token = Token.objects.create(party=Party.objects.own().get(), uid='E2E-1',\n"
        "    contract_id='DE-PBB-E2E', issuer='Peer eMSP', whitelist='NEVER',\n"
        "    last_updated='2026-09-01T12:00:00Z')\n"
        "TokenLocationRestriction.objects.create(token=token, location_id='LOC-AMS-1',\n"
        "    evse_uids=['EVSE-1'])\n"
        "result = {'token_a': t, 'versions_url': our_versions_url()}"
    )
    connection = connection_register(
        partner=Partner.objects.create(name="Peer"),
        versions_url=invite["versions_url"],
        token_a=invite["token_a"],
    )
    assert connection.endpoint_url("tokens", "SENDER") == f"{peer.base_url}/ocpi/2.2.1/emsp/tokens"

    outcome = token_authorize_realtime(
        token_uid="E2E-1",
        token_type="RFID",
        token_party=("DE", "PBB"),
        location_references={"location_id": "LOC-AMS-1", "evse_uids": ["EVSE-1", "EVSE-2"]},
    )
    assert (outcome.allowed, outcome.status, outcome.source) == (True, "ALLOWED", "PARTNER")
    assert outcome.location is not None
    assert outcome.location.evse_uids == ("EVSE-1",)
    theirs = peer.python(
        "from apps.tokens.models import TokenAuthorization as A\n"
        "a = A.objects.get()\n"
        "result = [a.authorization_reference, a.status, a.counterpart.code, a.evse_uids]"
    )
    assert theirs == [outcome.authorization_reference, "ALLOWED", "NL*RDK", ["EVSE-1", "EVSE-2"]]
    assert Token.objects.get(uid="E2E-1").contract_id == "DE-PBB-E2E"  # learnt from the answer

    # The eMSP needs the location for this token: without one it answers 2002, and a NEVER
    # token cannot be allowed without the eMSP.
    without = token_authorize_realtime(
        token_uid="E2E-1", token_type="RFID", token_party=("DE", "PBB")
    )
    assert (without.allowed, without.source) == (False, "FALLBACK")
    assert "2002" in without.detail

    # The session started with the decision carries its reference, and so does its CDR.
    world = build_world()
    session = active_session(world, token_uid="E2E-1")
    session.authorization_reference = outcome.authorization_reference
    session.save()
    session_complete(session=session, end_date_time=END, actor="ocpp")
    cdr = Cdr.objects.get(session=session)
    assert cdr.authorization_reference == outcome.authorization_reference
    assert TokenAuthorization.objects.filter(
        authorization_reference=cdr.authorization_reference, source="PARTNER"
    ).exists()
