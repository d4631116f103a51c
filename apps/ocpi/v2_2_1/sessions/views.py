"""OCPI 2.2.1 Sessions (spec section 7): the Receiver interface (we are the eMSP the CPO pushes
its sessions to) and the Sender interface (we are the CPO: the session list, and charging
preferences for an ongoing session)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from apps.charging_sessions.models import ChargingSession
from apps.charging_sessions.selectors import session_get, sessions_of_drivers
from apps.charging_sessions.services import (
    ChargingPreferencesUnsupported,
    SessionNotFound,
    session_charging_preferences_set,
    session_upsert,
)
from apps.ocpi.common.errors import InvalidParameters, NotFound
from apps.ocpi.common.status import OcpiStatus
from apps.ocpi.common.validation import identity_check
from apps.ocpi.v2_2_1.views import ModuleView


class SessionsView(ModuleView):
    module: ClassVar[str] = "sessions"


# -- Receiver (eMSP) --------------------------------------------------------------------------
class SessionsReceiverView(SessionsView):
    """The Receiver root: nothing is served here (sessions are addressed by owner and id)."""


class SessionReceiverView(SessionsView):
    """``{country_code}/{party_id}/{session_id}``: a session the CPO owns, our copy of it."""

    def get(self, request: Request, country_code: str, party_id: str, session_id: str) -> Response:
        party = self.owner_party(country_code, party_id)
        session = session_get(party=party, session_id=session_id)
        if session is None:
            raise NotFound(f"session {party.code}*{session_id} is unknown here")
        return self.ocpi(self.adapter.render("session", session))

    def put(self, request: Request, country_code: str, party_id: str, session_id: str) -> Response:
        party = self.owner_party(country_code, party_id)
        self._identity_check(request, country_code, party_id, session_id)
        data = self.adapter.parse("session", request.data)
        result = session_upsert(
            party=party, session_id=session_id, data=data, source_connection=self.connection
        )
        return self.upserted(result)

    def patch(
        self, request: Request, country_code: str, party_id: str, session_id: str
    ) -> Response:
        party = self.owner_party(country_code, party_id)
        self._identity_check(request, country_code, party_id, session_id)
        data = self.adapter.parse("session", request.data, partial=True)
        try:
            result = session_upsert(
                party=party,
                session_id=session_id,
                data=data,
                source_connection=self.connection,
                partial=True,
            )
        except SessionNotFound as exc:
            raise NotFound(exc.message) from None
        return self.upserted(result)

    def _identity_check(
        self, request: Request, country_code: str, party_id: str, session_id: str
    ) -> None:
        identity_check(
            request.data, {"country_code": country_code, "party_id": party_id, "id": session_id}
        )


# -- Sender (CPO) -----------------------------------------------------------------------------
class SenderView(SessionsView):
    def visible(self) -> QuerySet[ChargingSession]:
        """What the caller may see: the sessions of our CPO parties (the addressed one, if the
        request names one) charged with a token of a party the caller speaks for."""
        return sessions_of_drivers(
            cpo_parties=self.own_parties("CPO"),
            token_owners=self.connection.represented_parties.all(),
        )


class SessionsSenderView(SenderView):
    """The sessions the caller's drivers charged at our CPO parties (paginated)."""

    def get(self, request: Request) -> Response:
        if not request.query_params.get("date_from"):
            # Required on this list alone (spec 7.2.1): sessions change all the time, a
            # partner is expected to sync what changed since its last pull.
            raise InvalidParameters("date_from: required on the sessions list (spec 7.2.1)")
        adapter = self.adapter
        return self.paginated(self.visible(), lambda session: adapter.render("session", session))


class ChargingPreferencesView(SenderView):
    """``{session_id}/charging_preferences``: a driver's preferences for an ongoing session."""

    def put(self, request: Request, session_id: str) -> Response:
        session = self._session(session_id)
        preferences = self.adapter.parse("charging_preferences", request.data)
        try:
            decision = session_charging_preferences_set(
                session=session, preferences=preferences, source_connection=self.connection
            )
        except ChargingPreferencesUnsupported as exc:
            # Spec 2.5/7.2.2: an EVSE without CHARGING_PREFERENCES_CAPABLE → HTTP 404, 2001.
            raise NotFound(exc.message, status_code=OcpiStatus.INVALID_PARAMETERS) from None
        answer: Any = self.adapter.render("charging_preferences_response", decision)
        return self.ocpi(answer)

    def _session(self, session_id: str) -> ChargingSession:
        """The session of one of our CPO parties, charged with one of the caller's tokens.

        Anyone else's session is answered as unknown (its existence is not the caller's to
        learn).
        """
        found = list(
            self.visible()
            .filter(session_id__iexact=session_id)
            .select_related("evse", "connector")
            .order_by("pk")[:2]
        )
        if not found:
            raise NotFound(
                f"session {session_id} is unknown", status_code=OcpiStatus.INVALID_PARAMETERS
            )
        if len(found) > 1:
            raise InvalidParameters(
                f"session {session_id} exists at more than one of our CPO parties: name the "
                "one you mean in the OCPI-to-country-code/OCPI-to-party-id headers"
            )
        return found[0]
