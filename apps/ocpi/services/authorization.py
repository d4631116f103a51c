"""Real-time authorization, CPO side: may this token charge here? Ask the token's eMSP.

:func:`token_authorize_realtime` is what the charge-point backend calls when a driver presents a
token (plain values in, an :class:`~apps.tokens.services.AuthorizationOutcome` out: ``allowed``,
``status``, ``authorization_reference``, ``source``, plus the eMSP's EVSE echo and a detail).

Rules, in order:

1. **Our own token** (the token's party is one of ours, we are its eMSP too): our own eMSP
   decision (:func:`~apps.tokens.services.token_authorize`), source ``ISSUED``.
2. **Whitelist ALWAYS** on our copy: the spec forbids asking real-time; our copy's validity
   decides, source ``LOCAL``.
3. Otherwise we **ask the eMSP**: the connection that represents the token's party and has a
   Tokens SENDER endpoint gets ``POST {url}/{uid}/authorize?type={type}`` (with the
   LocationReferences when given). The connection's ``authorization_timeout`` (default 3 s) is
   the deadline of the whole exchange: connecting, sending and reading the answer share it.
   * a valid AuthorizationInfo (OCPI 1000) decides: ``allowed`` is ALLOWED or not, source
     ``PARTNER``, the eMSP's ``authorization_reference`` and EVSE echo are returned; the token
     it carries refreshes our copy (the spec lets CPOs learn tokens this way);
   * OCPI 2004 (unknown token) is a decision too: denied, status ``UNKNOWN_TOKEN``, source
     ``PARTNER`` (the eMSP was reached, so "allowed offline" does not apply).
4. **No answer** (no such connection, timeout, connection or transport error, any other
   status, an unusable AuthorizationInfo): the whitelist rule on our copy
   (:func:`~apps.tokens.services.token_whitelist_decision`), source ``FALLBACK``:
   ALLOWED_OFFLINE → allowed (whatever our copy's validity), NEVER → denied,
   ALWAYS/ALLOWED → our copy's validity, no copy → denied.

A fallback allowance gets a reference we generate (the session and CDR need one to be matched
later); a denial has none. Every outcome is recorded as a
:class:`~apps.tokens.models.TokenAuthorization`, and the exchange in the exchange log.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import httpx

from apps.ocpi.adapters.registry import UnknownAdapter, get_adapter
from apps.ocpi.common.client import OcpiClient, OcpiTransportError, RoutingHeaders
from apps.ocpi.common.errors import OcpiError
from apps.ocpi.common.status import OcpiStatus
from apps.partners.enums import ConnectionStatus, Role
from apps.partners.models import PartnerConnection, Party
from apps.tokens.enums import AuthorizationSource, AuthorizationStatus, TokenType, WhitelistType
from apps.tokens.models import Token
from apps.tokens.services import (
    AuthorizationAnswer,
    AuthorizationOutcome,
    LocationReferences,
    NotEnoughInformation,
    TokenUnknown,
    authorization_record,
    authorization_reference_new,
    token_authorize,
    token_find,
    token_upsert,
    token_whitelist_decision,
)

logger = logging.getLogger(__name__)

MODULE = "tokens"


class _NoAnswer(Exception):
    """The eMSP gave no usable decision (the message says why)."""


class _UnknownToken(Exception):
    """The eMSP answered 2004."""


def token_authorize_realtime(
    *,
    token_uid: str,
    token_type: str = TokenType.RFID,
    token_party: Party | tuple[str, str],
    location_references: LocationReferences | dict[str, Any] | None = None,
    cpo_party: Party | None = None,
) -> AuthorizationOutcome:
    """Decide whether the token ``token_uid``/``token_type`` of the eMSP ``token_party`` (a
    Party or ``(country_code, party_id)``) may charge, at ``location_references`` when given
    (``{"location_id": ..., "evse_uids": [...]}`` or LocationReferences), for our CPO party
    ``cpo_party`` (default: our first own CPO party). See the module docstring for the rules.
    """
    if token_type not in TokenType.values:
        raise ValueError(f"token_type must be one of {', '.join(TokenType.values)}")
    country_code, party_id = (
        (token_party.country_code, token_party.party_id)
        if isinstance(token_party, Party)
        else token_party
    )
    location = LocationReferences.coerce(location_references)
    cpo = cpo_party or _our_cpo()
    party = Party.objects.filter(
        country_code__iexact=country_code, party_id__iexact=party_id
    ).first()
    request = _Request(token_uid, token_type, country_code, party_id, location, party, cpo)
    if party is not None and party.is_own:
        return _own_decision(request)
    token = token_find(parties=party, uid=token_uid, type=token_type) if party else None
    if token is not None and token.whitelist == WhitelistType.ALWAYS:
        return _local(request, token, source=AuthorizationSource.LOCAL, why="not asked")
    connection, url = _connection_for(party)
    if connection is None or url is None:
        return _local(
            request,
            token,
            source=AuthorizationSource.FALLBACK,
            why=f"no connected partner with a Tokens SENDER endpoint for {country_code}*{party_id}",
        )
    try:
        answer = _ask(connection, url, request)
    except _UnknownToken as exc:
        record = authorization_record(
            source=AuthorizationSource.PARTNER,
            status=AuthorizationStatus.UNKNOWN_TOKEN,
            connection=connection,
            **request.record_fields(token),
            detail=f"the eMSP does not know the token: {exc}",
        )
        return AuthorizationOutcome(
            allowed=False,
            status=AuthorizationStatus.UNKNOWN_TOKEN,
            source=AuthorizationSource.PARTNER,
            detail=record.detail,
            record_id=record.pk,
        )
    except _NoAnswer as exc:
        logger.info("real-time authorization of %s: no answer (%s)", token_uid, exc)
        return _local(request, token, source=AuthorizationSource.FALLBACK, why=str(exc))
    return _partner_decision(request, connection, answer)


# -- the steps ---------------------------------------------------------------------------------
class _Request:
    """What is being authorized, and for whom."""

    def __init__(
        self,
        uid: str,
        type_: str,
        country_code: str,
        party_id: str,
        location: LocationReferences | None,
        party: Party | None,
        cpo: Party | None,
    ) -> None:
        self.uid = uid
        self.type = type_
        self.country_code = country_code.upper()
        self.party_id = party_id.upper()
        self.location = location
        self.party = party
        self.cpo = cpo

    def record_fields(self, token: Token | None) -> dict[str, Any]:
        return {
            "token": token,
            "token_country_code": self.country_code,
            "token_party_id": self.party_id,
            "token_uid": self.uid,
            "token_type": self.type,
            "location": self.location,
            "counterpart": self.party,
        }


def _our_cpo() -> Party | None:
    for party in Party.objects.own().order_by("pk"):
        if party.has_role(Role.CPO):
            return party
    return None


def _connection_for(party: Party | None) -> tuple[PartnerConnection | None, str | None]:
    """The connection to ask: connected, representing the party, with a Tokens SENDER."""
    if party is None:
        return None, None
    connections = party.connections.filter(status=ConnectionStatus.CONNECTED).order_by("pk")
    for connection in connections:
        url = connection.endpoint_url(MODULE, "SENDER")
        if url and connection.send_token_encrypted:
            return connection, url
    return None, None


def _own_decision(request: _Request) -> AuthorizationOutcome:
    assert request.party is not None
    try:
        decision = token_authorize(
            parties=request.party,
            uid=request.uid,
            type=request.type,
            location=request.location,
            requester=request.cpo,
        )
    except (TokenUnknown, NotEnoughInformation) as exc:
        status = (
            AuthorizationStatus.UNKNOWN_TOKEN
            if isinstance(exc, TokenUnknown)
            else AuthorizationStatus.NOT_ALLOWED
        )
        return AuthorizationOutcome(
            allowed=False, status=status, source=AuthorizationSource.ISSUED, detail=exc.message
        )
    return AuthorizationOutcome(
        allowed=decision.allowed,
        status=decision.status,
        source=AuthorizationSource.ISSUED,
        authorization_reference=decision.authorization_reference,
        location=decision.location,
        info=decision.info,
        detail="our own token",
    )


def _local(
    request: _Request, token: Token | None, *, source: AuthorizationSource, why: str
) -> AuthorizationOutcome:
    """The whitelist rule on our copy (not asked, or no answer)."""
    allowed, status, rule = token_whitelist_decision(token=token)
    reference = authorization_reference_new() if allowed else ""
    detail = f"{why}; {rule}"
    record = authorization_record(
        source=source,
        status=status,
        authorization_reference=reference,
        allowed_location=request.location if allowed else None,
        **request.record_fields(token),
        detail=detail,
    )
    return AuthorizationOutcome(
        allowed=allowed,
        status=status,
        source=source,
        authorization_reference=reference,
        location=request.location if allowed else None,
        detail=detail,
        record_id=record.pk,
    )


def _ask(connection: PartnerConnection, url: str, request: _Request) -> AuthorizationAnswer:
    """POST the authorize request within the connection's deadline; the eMSP's decision."""
    budget = float(connection.authorization_timeout)
    deadline = time.monotonic() + budget
    try:
        adapter = get_adapter(connection.adapter_profile, connection.version)
    except UnknownAdapter as exc:
        raise _NoAnswer(str(exc)) from None
    routing = RoutingHeaders(
        to_country_code=request.country_code,
        to_party_id=request.party_id,
        from_country_code=request.cpo.country_code if request.cpo else "",
        from_party_id=request.cpo.party_id if request.cpo else "",
    )
    body = adapter.render("location_references", request.location) if request.location else None
    target = f"{url.rstrip('/')}/{quote(request.uid, safe='')}/authorize"
    try:
        with OcpiClient.for_connection(
            connection,
            raw_token=adapter.sends_raw_token,
            timeout=budget,
            transport=DeadlineTransport(deadline),
        ) as client:
            response = client.post(
                target, json=body, params={"type": request.type}, routing=routing, module=MODULE
            )
    except OcpiTransportError as exc:
        raise _NoAnswer(f"{exc.kind}: {exc.message}") from None
    except ValueError as exc:  # no token to send
        raise _NoAnswer(str(exc)) from None
    if response.status_code == OcpiStatus.UNKNOWN_TOKEN:
        raise _UnknownToken(response.status_message or "OCPI 2004")
    if not response.ok:
        raise _NoAnswer(
            f"the eMSP answered HTTP {response.http_status}, OCPI {response.status_code}"
            + (f": {response.status_message}" if response.status_message else "")
        )
    try:
        answer: AuthorizationAnswer = adapter.parse("authorization_info", response.data)
    except OcpiError as exc:
        raise _NoAnswer(f"unusable AuthorizationInfo: {exc.message}") from None
    return answer


def _partner_decision(
    request: _Request, connection: PartnerConnection, answer: AuthorizationAnswer
) -> AuthorizationOutcome:
    token = _refresh_copy(request, connection, answer)
    allowed = answer.status == AuthorizationStatus.ALLOWED
    record = authorization_record(
        source=AuthorizationSource.PARTNER,
        status=answer.status,
        authorization_reference=answer.authorization_reference,
        connection=connection,
        allowed_location=answer.location,
        info=answer.info,
        **request.record_fields(token),
        detail=f"the eMSP answered {answer.status}",
    )
    return AuthorizationOutcome(
        allowed=allowed,
        status=answer.status,
        source=AuthorizationSource.PARTNER,
        authorization_reference=answer.authorization_reference,
        location=answer.location,
        info=answer.info,
        detail=record.detail,
        record_id=record.pk,
    )


def _refresh_copy(
    request: _Request, connection: PartnerConnection, answer: AuthorizationAnswer
) -> Token | None:
    """Keep the token the eMSP sent with its answer (when it is the one we asked about)."""
    theirs = answer.token
    same = (
        request.party is not None
        and theirs.country_code == request.party.country_code
        and theirs.party_id == request.party.party_id
        and theirs.uid.casefold() == request.uid.casefold()
        and theirs.type == request.type
    )
    if not same or request.party is None:
        logger.warning(
            "real-time authorization of %s: the eMSP answered about another token (%s*%s %s %s)",
            request.uid,
            theirs.country_code,
            theirs.party_id,
            theirs.uid,
            theirs.type,
        )
        return (
            token_find(parties=request.party, uid=request.uid, type=request.type)
            if (request.party)
            else None
        )
    return token_upsert(party=request.party, data=theirs, source_connection=connection).obj


# -- the deadline ------------------------------------------------------------------------------
class _Remaining(dict[str, float]):
    """Request timeouts that are what is left of the budget whenever the transport reads them
    (httpcore looks them up at each phase: pool, connect, write, read)."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def get(self, key: str, default: Any = None) -> float:
        return max(self.deadline - time.monotonic(), 0.001)


class _DeadlineStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, deadline: float) -> None:
        self.inner = inner
        self.deadline = deadline

    def __iter__(self) -> Any:
        for chunk in self.inner:
            if time.monotonic() > self.deadline:
                raise httpx.ReadTimeout("the answer did not complete before the deadline")
            yield chunk

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """An HTTP transport that ends the whole exchange at ``deadline`` (``time.monotonic()``):
    each phase gets what is left, and a body still arriving at the deadline is cut."""

    def __init__(self, deadline: float, inner: httpx.BaseTransport | None = None) -> None:
        self.deadline = deadline
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if time.monotonic() >= self.deadline:
            raise httpx.ConnectTimeout("no time left before the deadline", request=request)
        request.extensions = {**request.extensions, "timeout": _Remaining(self.deadline)}
        response = self.inner.handle_request(request)
        response.stream = _DeadlineStream(response.stream, self.deadline)
        return response

    def close(self) -> None:
        self.inner.close()
