"""ChargingProfiles (spec 12), both interfaces.

Receiver (we are the CPO), ``cpo/chargingprofiles/{session_id}``: GET asks for the active
profile, PUT sets one, DELETE clears the caller's. The session must be one of ours charged with
a token of a party the caller represents, else the answer is ``UNKNOWN_SESSION`` (an OCPI
success carrying that result, as the spec prescribes). The answer is immediate; the result is
POSTed to the caller's ``response_url`` later.

Sender (we are the eMSP), ``emsp/chargingprofiles``: ``results/{reference}`` is the
``response_url`` of a request we sent (POST, from the connection we sent it to only; anything
else is 404); ``{session_id}`` takes the CPO's ActiveChargingProfile pushes (PUT).
"""

from __future__ import annotations

from typing import ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from apps.ocpi.common.errors import NotFound
from apps.ocpi.services.charging_profiles import (
    RESULT_KINDS,
    charging_profile_request_accept,
    session_for_caller,
)
from apps.ocpi.v2_2_1.views import ModuleView
from apps.smart_charging.enums import ProfileOperation, RequestDirection
from apps.smart_charging.models import ChargingProfileRequest
from apps.smart_charging.profiles import ProfileResponse
from apps.smart_charging.services import (
    charging_profile_result_receive,
    charging_profile_session_known,
    partner_session_copy,
    reported_active_profile_record,
)


class ChargingProfilesRootView(ModuleView):
    """The published endpoint URL; requests address a session below it."""

    module: ClassVar[str] = "chargingprofiles"
    http_method_names = ["options"]


class ChargingProfilesReceiverView(ModuleView):
    module: ClassVar[str] = "chargingprofiles"

    def get(self, request: Request, session_id: str) -> Response:
        query = self.adapter.parse("active_charging_profile_query", request.query_params)
        return self._accept(
            session_id,
            ProfileOperation.GET_ACTIVE,
            response_url=query.response_url,
            duration=query.duration,
        )

    def put(self, request: Request, session_id: str) -> Response:
        body = self.adapter.parse("set_charging_profile", request.data)
        return self._accept(
            session_id,
            ProfileOperation.SET,
            response_url=body.response_url,
            profile=body.charging_profile,
        )

    def delete(self, request: Request, session_id: str) -> Response:
        query = self.adapter.parse("clear_profile_query", request.query_params)
        return self._accept(session_id, ProfileOperation.CLEAR, response_url=query.response_url)

    def _accept(self, session_id: str, operation: ProfileOperation, **details: object) -> Response:
        session = session_for_caller(
            connection=self.connection,
            session_ref=session_id,
            cpo_parties=self.own_parties("CPO"),
        )
        accepted = charging_profile_request_accept(
            connection=self.connection,
            from_party=self.routing.sender if self.routing else None,
            session=session,
            session_ref=session_id,
            operation=operation,
            **details,  # type: ignore[arg-type]
        )
        answer = ProfileResponse(
            result=accepted.response_result, timeout=accepted.response_timeout or 0
        )
        return self.ocpi(self.adapter.render("charging_profile_response", answer))


class ChargingProfilesResultView(ModuleView):
    """Our ``response_url``: the result of a request we sent."""

    module: ClassVar[str] = "chargingprofiles"

    def post(self, request: Request, reference: str) -> Response:
        sent = ChargingProfileRequest.objects.filter(
            direction=RequestDirection.SENT, reference=reference, connection=self.connection
        ).first()
        if sent is None:
            raise NotFound(f"no charging profile request {reference} was sent to this connection")
        result = self.adapter.parse(RESULT_KINDS[ProfileOperation(sent.operation)], request.data)
        charging_profile_result_receive(request=sent, result=result)
        return self.ocpi()


class ChargingProfilesSenderSessionView(ModuleView):
    """The CPO reports a session's changed ActiveChargingProfile."""

    module: ClassVar[str] = "chargingprofiles"

    def put(self, request: Request, session_id: str) -> Response:
        active = self.adapter.parse("active_charging_profile", request.data)
        session = partner_session_copy(connection=self.connection, session_ref=session_id)
        if session is None and not charging_profile_session_known(
            connection=self.connection, session_ref=session_id
        ):
            raise NotFound(f"session {session_id} is unknown to us")
        result = reported_active_profile_record(
            connection=self.connection,
            session=session,
            session_ref=session_id,
            active_profile=active,
        )
        if result.stale:
            return self.ocpi(message="ignored: older than the active profile we hold")
        return self.ocpi()
