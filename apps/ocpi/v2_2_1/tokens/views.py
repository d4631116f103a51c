"""OCPI 2.2.1 Tokens (spec §10): the Receiver interface (we are the CPO, partners' eMSPs push
their tokens) and the Sender interface (we are the eMSP: our token list and real-time
authorization)."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from apps.ocpi.common.errors import InvalidParameters, NotFound, OcpiError
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.common.validation import identity_check
from apps.ocpi.v2_2_1.views import ModuleView
from apps.tokens.enums import TokenType
from apps.tokens.models import Token
from apps.tokens.services import (
    LocationReferences,
    NotEnoughInformation,
    TokenUnknown,
    token_authorize,
    token_find,
    token_patch,
    token_upsert,
)


def token_type_param(request: Request) -> str:
    """The ``type`` query parameter: a TokenType, ``RFID`` when absent (spec §10.2, §10.3)."""
    value = request.query_params.get("type")
    if value is None or value == "":
        return TokenType.RFID
    if value not in TokenType.values:
        raise InvalidParameters(
            f"type: {value!r} is not a TokenType ({', '.join(TokenType.values)})"
        )
    return value


def _unknown_token(uid: str, type_: str) -> NotFound:
    return NotFound(f"unknown token {uid!r} of type {type_}", status_code=OcpiStatus.UNKNOWN_TOKEN)


class TokensView(ModuleView):
    module: ClassVar[str] = "tokens"


# -- Receiver (we are the CPO) -------------------------------------------------------------------
class TokensReceiverRootView(TokensView):
    """The receiver's root has no method of its own (objects are addressed by owner and uid)."""


class TokensReceiverTokenView(TokensView):
    """``{country_code}/{party_id}/{token_uid}[?type=]``: GET, PUT, PATCH a partner's token."""

    def get(self, request: Request, country_code: str, party_id: str, token_uid: str) -> Response:
        party = self.owner_party(country_code, party_id)
        type_ = token_type_param(request)
        token = token_find(parties=party, uid=token_uid, type=type_)
        if token is None:
            raise _unknown_token(token_uid, type_)
        return self.ocpi(self.adapter.render("token", token))

    def put(self, request: Request, country_code: str, party_id: str, token_uid: str) -> Response:
        party = self.owner_party(country_code, party_id)
        type_ = token_type_param(request)
        data = self.adapter.parse("token", request.data)
        self._identity_check(request.data, country_code, party_id, token_uid, type_)
        return self.upserted(
            token_upsert(party=party, data=data, source_connection=self.connection)
        )

    def patch(self, request: Request, country_code: str, party_id: str, token_uid: str) -> Response:
        party = self.owner_party(country_code, party_id)
        type_ = token_type_param(request)
        changes = self.adapter.parse("token", request.data, partial=True)
        self._identity_check(request.data, country_code, party_id, token_uid, type_)
        token = token_find(parties=party, uid=token_uid, type=type_)
        if token is None:
            raise _unknown_token(token_uid, type_)
        return self.upserted(
            token_patch(token=token, changes=changes, source_connection=self.connection)
        )

    @staticmethod
    def _identity_check(
        data: Any, country_code: str, party_id: str, token_uid: str, type_: str
    ) -> None:
        identity_check(data, {"country_code": country_code, "party_id": party_id, "uid": token_uid})
        given = data.get("type") if isinstance(data, dict) else None
        if given is not None and given != type_:
            raise InvalidParameters(
                f"type: {given!r} in the body does not match {type_!r} addressed by the URL "
                "(the type query parameter, RFID when absent)"
            )


# -- Sender (we are the eMSP) --------------------------------------------------------------------
class TokensSenderListView(TokensView):
    """GET: our eMSP parties' tokens, paginated, filtered on ``last_updated``."""

    def get(self, request: Request) -> Response:
        tokens = Token.objects.filter(party__in=self.own_parties("EMSP")).select_related("party")
        adapter = self.adapter
        return self.paginated(tokens, lambda token: adapter.render("token", token))


class TokensSenderAuthorizeView(TokensView):
    """POST ``{token_uid}/authorize[?type=]`` with optional LocationReferences: real-time
    authorization of one of our tokens."""

    def post(self, request: Request, token_uid: str) -> Response:
        type_ = token_type_param(request)
        location = self._location(request.data)
        try:
            decision = token_authorize(
                parties=self.own_parties("EMSP"),
                uid=token_uid,
                type=type_,
                location=location,
                requester=self.routing.sender if self.routing is not None else None,
                connection=self.connection,
            )
        except TokenUnknown:
            raise _unknown_token(token_uid, type_) from None
        except NotEnoughInformation as exc:
            raise OcpiError(exc.message, status_code=OcpiStatus.NOT_ENOUGH_INFORMATION) from None
        return self.ocpi(self.adapter.render("authorization_info", decision))

    def _location(self, data: Any) -> LocationReferences | None:
        # The body is optional; an empty one (or {}) means "no location given".
        if not data:
            return None
        location: LocationReferences = self.adapter.parse("location_references", data)
        return location
