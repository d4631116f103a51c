"""Tokens: copies of partners' tokens (we are a CPO), our own tokens' authorization decisions (we
are an eMSP), and the whitelist rule a CPO applies when the eMSP cannot answer in time.

Decisions, as the eMSP (:func:`token_authorize`), in this order:

1. unknown token → :class:`TokenUnknown` (the caller answers "unknown token");
2. token not valid → its ``invalid_reason`` (BLOCKED, EXPIRED or NO_CREDIT);
3. token with location restrictions and no location given → :class:`NotEnoughInformation`;
4. location restrictions: the location (of that CPO, or of any CPO) must be listed, and when
   the restriction names EVSEs, the EVSEs asked about are narrowed to those (none left →
   NOT_ALLOWED);
5. ALLOWED, with the location echoed (narrowed to the EVSEs the driver may use).

The whitelist type does not change the eMSP's answer: it tells the CPO when it may decide
without asking (see :func:`token_whitelist_decision`), and a CPO that asks anyway gets the
truthful answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.core.upsert import Outcome, Upserted, is_stale
from apps.partners.models import PartnerConnection, Party
from apps.tokens.enums import (
    AuthorizationSource,
    AuthorizationStatus,
    TokenType,
    WhitelistType,
)
from apps.tokens.models import Token, TokenAuthorization, TokenLocationRestriction

#: The canonical fields a token's content consists of (everything but owner and identity).
CONTENT_FIELDS = (
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "valid",
    "whitelist",
    "language",
    "default_profile_type",
    "energy_supplier_name",
    "energy_contract_id",
    "last_updated",
)


# -- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenData:
    """A token as a partner sends it (complete: optional fields are empty when absent)."""

    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str
    issuer: str
    valid: bool
    whitelist: str
    last_updated: datetime
    visual_number: str = ""
    group_id: str = ""
    language: str = ""
    default_profile_type: str = ""
    energy_supplier_name: str = ""
    energy_contract_id: str = ""

    def content(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}


@dataclass(frozen=True)
class LocationReferences:
    """A location (by the CPO's id) and, optionally, some of its EVSEs (by uid)."""

    location_id: str
    evse_uids: tuple[str, ...] = ()

    @classmethod
    def coerce(cls, value: LocationReferences | dict[str, Any] | None) -> LocationReferences | None:
        """Accept plain values: ``{"location_id": ..., "evse_uids": [...]}``."""
        if value is None or isinstance(value, LocationReferences):
            return value
        return cls(
            location_id=str(value["location_id"]),
            evse_uids=tuple(str(uid) for uid in value.get("evse_uids") or ()),
        )


@dataclass(frozen=True)
class AuthorizationDecision:
    """Our answer, as eMSP, to a real-time authorization request."""

    status: str  # an AllowedType value
    token: Token
    authorization_reference: str
    location: LocationReferences | None = None
    info: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == AuthorizationStatus.ALLOWED


@dataclass(frozen=True)
class AuthorizationAnswer:
    """An eMSP's answer to our real-time authorization request (parsed AuthorizationInfo)."""

    status: str  # an AllowedType value
    token: TokenData
    authorization_reference: str = ""
    location: LocationReferences | None = None
    info: str = ""


@dataclass(frozen=True)
class AuthorizationOutcome:
    """What a CPO decided about a token: the value the charge-point backend acts on.

    ``source`` says who decided (an :class:`AuthorizationSource`); ``authorization_reference``
    goes into the session and the CDR; ``location`` is the eMSP's echo (the EVSEs the driver
    may use), when it gave one; ``detail`` explains, for operators and logs.
    """

    allowed: bool
    status: str  # an AuthorizationStatus value
    source: str
    authorization_reference: str = ""
    location: LocationReferences | None = None
    info: str = ""
    detail: str = ""
    record_id: int | None = None


# -- errors --------------------------------------------------------------------------------------
class TokenUnknown(DomainError):
    code = "UNKNOWN_TOKEN"


class NotEnoughInformation(DomainError):
    code = "NOT_ENOUGH_INFORMATION"


# -- selectors -----------------------------------------------------------------------------------
def token_find(
    *, parties: Party | Iterable[Party] | QuerySet[Party], uid: str, type: str
) -> Token | None:
    """The token ``uid`` (case-insensitive) of ``type`` owned by one of ``parties``."""
    scope = [parties] if isinstance(parties, Party) else parties
    return (
        Token.objects.filter(party__in=scope, uid__iexact=uid, type=type)
        .select_related("party")
        .order_by("pk")
        .first()
    )


# -- writes: copies of partners' tokens (we are the CPO), and our own tokens (we are the eMSP) --
def token_upsert(
    *, party: Party, data: TokenData, source_connection: PartnerConnection | None = None
) -> Upserted[Token]:
    """Create or replace the token ``data.uid``/``data.type`` of ``party``.

    Tokens are identified by uid and type: the same uid with another type is another token.
    An update older than the copy we hold is ignored (``Outcome.STALE``). A change of one of
    our own tokens is announced (``ChangeKind.TOKEN``) so the CPOs get it.
    """
    with transaction.atomic():
        token = (
            Token.objects.select_for_update()
            .filter(party=party, uid__iexact=data.uid, type=data.type)
            .first()
        )
        if token is None:
            token = Token(party=party, uid=data.uid, type=data.type)
            outcome = Outcome.CREATED
        elif is_stale(data.last_updated, token.last_updated):
            return Upserted(Outcome.STALE, token)
        else:
            outcome = Outcome.UPDATED
        for name, value in data.content().items():
            setattr(token, name, value)
        if source_connection is not None:
            token.source_connection = source_connection
        token.save()
        _announce(token)
    return Upserted(outcome, token)


def token_patch(
    *,
    token: Token,
    changes: dict[str, Any],
    source_connection: PartnerConnection | None = None,
) -> Upserted[Token]:
    """Apply a partial update (canonical field names → values; ``last_updated`` required).

    A change older than the copy we hold is ignored (``Outcome.STALE``).
    """
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise ValueError(f"not token content fields: {', '.join(sorted(unknown))}")
    if changes.get("last_updated") is None:
        raise ValueError("a token patch needs last_updated")
    with transaction.atomic():
        current = Token.objects.select_for_update().get(pk=token.pk)
        if is_stale(changes["last_updated"], current.last_updated):
            return Upserted(Outcome.STALE, current)
        for name, value in changes.items():
            setattr(current, name, value)
        if source_connection is not None:
            current.source_connection = source_connection
        current.save()
        _announce(current)
    return Upserted(Outcome.UPDATED, current)


def _announce(token: Token) -> None:
    """Our own tokens are pushed to the CPOs (the outbox listens); partners' copies are not."""
    if token.party.is_own:
        change_announce(DomainChange(kind=ChangeKind.TOKEN, object_id=token.pk))


# -- our own tokens' authorization (we are the eMSP) -------------------------------------------
def authorization_reference_new() -> str:
    """A fresh reference (36 characters, fits an OCPI CiString(36))."""
    return str(uuid.uuid4())


def token_authorize(
    *,
    parties: Party | Iterable[Party] | QuerySet[Party],
    uid: str,
    type: str = TokenType.RFID,
    location: LocationReferences | None = None,
    requester: Party | None = None,
    connection: PartnerConnection | None = None,
) -> AuthorizationDecision:
    """Decide whether our token ``uid``/``type`` (owned by one of ``parties``) may charge, at
    ``location`` when given, for the CPO ``requester``; record the decision with a new
    reference (see the module docstring for the rules).

    Raises :class:`TokenUnknown` or :class:`NotEnoughInformation` (nothing is recorded then).
    """
    token = token_find(parties=parties, uid=uid, type=type)
    if token is None:
        raise TokenUnknown(f"no token {uid!r} of type {type} here")
    status, echo, info, detail = _decide(token, location, requester)
    with transaction.atomic():
        record = TokenAuthorization.objects.create(
            authorization_reference=authorization_reference_new(),
            source=AuthorizationSource.ISSUED,
            status=status,
            token=token,
            token_country_code=token.party.country_code,
            token_party_id=token.party.party_id,
            token_uid=token.uid,
            token_type=token.type,
            location_id=location.location_id if location else "",
            evse_uids=list(location.evse_uids) if location else [],
            allowed_evse_uids=list(echo.evse_uids) if echo else [],
            counterpart=requester,
            connection=connection,
            info=info,
            detail=detail,
        )
    return AuthorizationDecision(
        status=status,
        token=token,
        authorization_reference=record.authorization_reference,
        location=echo,
        info=info,
    )


_INFO: dict[str, str] = {
    AuthorizationStatus.ALLOWED: "Charging authorized.",
    AuthorizationStatus.BLOCKED: "This card is blocked. Please contact your provider.",
    AuthorizationStatus.EXPIRED: "This card has expired. Please contact your provider.",
    AuthorizationStatus.NO_CREDIT: "Not enough credit on your account.",
    AuthorizationStatus.NOT_ALLOWED: "This card may not be used at this charger.",
}


def _decide(
    token: Token, location: LocationReferences | None, requester: Party | None
) -> tuple[str, LocationReferences | None, str, str]:
    """(status, location echo, info for the driver, detail for operators)."""
    if not token.valid:
        status = token.invalid_reason
        return status, None, _INFO[status], f"token not valid ({status})"
    restrictions = list(token.location_restrictions.all())
    if not restrictions:
        return AuthorizationStatus.ALLOWED, location, _INFO["ALLOWED"], "no location restriction"
    if location is None:
        raise NotEnoughInformation(
            "this token may only charge at some locations: send LocationReferences"
        )
    rule = _matching_restriction(restrictions, location, requester)
    if rule is None:
        return (
            AuthorizationStatus.NOT_ALLOWED,
            None,
            _INFO["NOT_ALLOWED"],
            f"location {location.location_id} is not among the token's locations",
        )
    allowed = [uid.casefold() for uid in rule.evse_uids or []]
    if not allowed:
        return AuthorizationStatus.ALLOWED, location, _INFO["ALLOWED"], "location allowed"
    if location.evse_uids:
        evses = tuple(uid for uid in location.evse_uids if uid.casefold() in allowed)
    else:
        evses = tuple(rule.evse_uids)
    if not evses:
        return (
            AuthorizationStatus.NOT_ALLOWED,
            None,
            _INFO["NOT_ALLOWED"],
            f"none of the EVSEs asked about at {location.location_id} is allowed",
        )
    echo = LocationReferences(location_id=location.location_id, evse_uids=evses)
    return AuthorizationStatus.ALLOWED, echo, _INFO["ALLOWED"], "location and EVSEs allowed"


def _matching_restriction(
    restrictions: list[TokenLocationRestriction],
    location: LocationReferences,
    requester: Party | None,
) -> TokenLocationRestriction | None:
    wanted = location.location_id.casefold()
    candidates = [r for r in restrictions if r.location_id.casefold() == wanted]
    # A restriction naming the asking CPO wins over one valid at any CPO.
    for rule in candidates:
        if requester is not None and rule.cpo_id == requester.pk:
            return rule
    return next((rule for rule in candidates if rule.cpo_id is None), None)


# -- the CPO's side: whitelist rule and records ------------------------------------------------
def token_whitelist_decision(*, token: Token | None) -> tuple[bool, str, str]:
    """Decide locally from our copy of a partner's token (``None``: we hold no copy), when the
    eMSP was not asked (whitelist ALWAYS) or could not answer.

    * ALLOWED_OFFLINE → allowed (the eMSP asks for exactly this when it cannot be reached,
      even for a copy stored as not valid: its state may have changed);
    * NEVER → denied (the eMSP must decide, and did not);
    * ALWAYS, ALLOWED → our copy's validity decides;
    * no copy → denied.

    Returns (allowed, status, detail).
    """
    if token is None:
        return False, AuthorizationStatus.UNKNOWN_TOKEN, "we hold no copy of this token"
    whitelist = token.whitelist
    if whitelist == WhitelistType.ALLOWED_OFFLINE:
        # The spec: "if the eMSP cannot be reached, allow the token", whatever our copy's
        # validity (the whitelist type is independent of it).
        return True, AuthorizationStatus.ALLOWED, "whitelist ALLOWED_OFFLINE: allowed offline"
    if whitelist == WhitelistType.NEVER:
        return False, AuthorizationStatus.NOT_ALLOWED, "whitelist NEVER: only the eMSP decides"
    if token.valid:
        return True, AuthorizationStatus.ALLOWED, f"whitelist {whitelist}: our copy is valid"
    return False, AuthorizationStatus.BLOCKED, f"whitelist {whitelist}: our copy is not valid"


def authorization_record(
    *,
    source: str,
    status: str,
    token: Token | None,
    token_country_code: str,
    token_party_id: str,
    token_uid: str,
    token_type: str,
    authorization_reference: str = "",
    location: LocationReferences | None = None,
    allowed_location: LocationReferences | None = None,
    counterpart: Party | None = None,
    connection: PartnerConnection | None = None,
    info: str = "",
    detail: str = "",
) -> TokenAuthorization:
    """Record a CPO-side authorization decision (the eMSP's, or the whitelist rule's)."""
    return TokenAuthorization.objects.create(
        authorization_reference=authorization_reference,
        source=source,
        status=status,
        token=token,
        token_country_code=token_country_code.upper(),
        token_party_id=token_party_id.upper(),
        token_uid=token_uid,
        token_type=token_type,
        location_id=location.location_id if location else "",
        evse_uids=list(location.evse_uids) if location else [],
        allowed_evse_uids=list(allowed_location.evse_uids) if allowed_location else [],
        counterpart=counterpart,
        connection=connection,
        info=info[:512],
        detail=detail,
    )
